"""Multi-label streams from JSON Lines files.

This module owns reading one JSON object per line into ``(x, y)`` records and validating it:
``{"x": {name: number | string | null}, "labels": [present label names]}`` or, instead of
``labels``, ``"y": {label: bool}``. Label names are learned as they appear: every ``y`` holds every
label seen so far (``False`` for those absent). NaN, infinities and numbers beyond ``1e150`` in
magnitude are rejected (:mod:`streams.values`). It must not know about models or metrics.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from streams.base import Stream, open_text
from streams.errors import StreamFormatError
from streams.values import MAX_ABS_VALUE, unusable_reason, usable_number

__all__ = ["JsonlStream", "parse_record"]


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")


def _loads(text: str):
    return json.loads(text, parse_constant=_reject_constant)


def parse_record(
    obj: object, labels_required: bool = True
) -> tuple[dict, list[str] | dict[str, bool] | None]:
    """Validate one decoded record; return ``x`` and the present labels (list) or the ``y`` dict
    (None for a record without either when ``labels_required`` is False).

    Raises ``ValueError`` with the reason when the record does not follow the schema.

    Examples
    --------
    >>> parse_record({"x": {"a": 1, "b": "red", "c": None}, "labels": ["l1"]})
    ({'a': 1.0, 'b': 'red', 'c': None}, ['l1'])
    >>> parse_record({"x": {}, "y": {"l1": False, "l2": 1}})
    ({}, {'l1': False, 'l2': True})
    """
    if not isinstance(obj, dict):
        raise ValueError(f"a record must be a JSON object, got {type(obj).__name__}")
    extra = set(obj) - {"x", "labels", "y"}
    if extra:
        raise ValueError(f"unknown key(s) {sorted(extra)[:5]} (expected x and labels or y)")
    if "x" not in obj:
        raise ValueError("missing 'x'")
    xr = obj["x"]
    if not isinstance(xr, dict):
        raise ValueError(f"'x' must be an object, got {type(xr).__name__}")
    x: dict = {}
    for k, v in xr.items():
        t = type(v)
        if t is float:
            if not usable_number(v):
                raise ValueError(f"x[{k!r}]: {unusable_reason(v)}")
            x[k] = v
        elif t is int:
            if not -MAX_ABS_VALUE <= v <= MAX_ABS_VALUE:
                raise ValueError(
                    f"x[{k!r}]: an integer beyond the largest usable magnitude {MAX_ABS_VALUE!r}"
                )
            x[k] = float(v)
        elif t is str or v is None:
            x[k] = v
        else:
            raise ValueError(f"x[{k!r}] must be a number, a string or null, got {t.__name__}")
    has_labels = "labels" in obj
    if not labels_required and not has_labels and "y" not in obj:
        return x, None
    if has_labels == ("y" in obj):
        raise ValueError("need exactly one of 'labels' (a list) or 'y' (an object)")
    if has_labels:
        lr = obj["labels"]
        if not isinstance(lr, list):
            raise ValueError(f"'labels' must be a list, got {type(lr).__name__}")
        for lab in lr:
            if type(lab) is not str:
                raise ValueError(f"'labels' must hold strings, got {lab!r}")
        return x, list(dict.fromkeys(lr))
    yr = obj["y"]
    if not isinstance(yr, dict):
        raise ValueError(f"'y' must be an object, got {type(yr).__name__}")
    y: dict[str, bool] = {}
    for k, v in yr.items():
        if v is True or v is False:
            y[k] = v
        elif type(v) is int and v in (0, 1):
            y[k] = v == 1
        else:
            raise ValueError(f"y[{k!r}] must be true/false (or 1/0), got {v!r}")
    return x, y


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".bz2", ".jsonl", ".ndjson", ".json"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name


class JsonlStream(Stream):
    """A multi-label stream read from a JSON Lines file.

    Parameters
    ----------
    path
        The file (gzip / bzip2 detected and undone transparently); blank lines are ignored.
    labels
        Label names known in advance (more are added as they appear).
    lenient
        Skip malformed lines (counted in ``n_skipped``, kept in ``skipped``) instead of raising.
    limit
        Stop after this many instances.
    labels_required
        With False, a record with only ``"x"`` is unlabelled: its ``y`` is ``{}`` (for predicting
        with a trained model).

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "toy.jsonl")
    >>> _ = open(p, "w").write('{"x": {"a": 1}, "labels": ["l1"]}\\n'
    ...                        '{"x": {"b": "red"}, "labels": ["l2"]}\\n')
    >>> for x, y in JsonlStream(p):
    ...     print(x, y)
    {'a': 1.0} {'l1': True}
    {'b': 'red'} {'l1': False, 'l2': True}
    """

    sparse = True

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        labels: list[str] | None = None,
        lenient: bool = False,
        limit: int | None = None,
        labels_required: bool = True,
    ) -> None:
        super().__init__(lenient=lenient, limit=limit)
        self.labels_required = labels_required
        if labels is not None and not all(isinstance(lab, str) for lab in labels):
            raise ValueError(f"labels must be a list of strings, got {labels!r}")
        self.path = Path(path)
        self.source = str(path)
        self.name = _stem(self.path)
        self.initial_labels = labels
        self.labels = list(labels or [])

    def _records(self) -> Iterator[tuple[dict, dict]]:
        src = self.source
        self.labels = list(self.initial_labels or [])
        self.features = []
        labels = self.labels
        features = self.features
        known_l = set(labels)
        known_f: set = set()
        template = dict.fromkeys(labels, False)
        lineno = 0
        with open_text(self.path) as f:
            try:
                for line in f:
                    lineno += 1
                    if not line.strip():
                        continue
                    try:
                        x, ly = parse_record(_loads(line), self.labels_required)
                    except ValueError as e:  # JSONDecodeError is a ValueError
                        self._skip(StreamFormatError(src, lineno, str(e)))
                        continue
                    for k in x:
                        if k not in known_f:
                            known_f.add(k)
                            features.append(k)
                    if ly is None:
                        yield x, {}
                        continue
                    present = type(ly) is list
                    for lab in ly:
                        if lab not in known_l:
                            known_l.add(lab)
                            labels.append(lab)
                            template[lab] = False
                    y = dict(template)
                    if present:
                        for lab in ly:
                            y[lab] = True
                    else:
                        y.update(ly)
                    yield x, y
            except UnicodeDecodeError as e:
                raise StreamFormatError(src, lineno + 1, f"not UTF-8 text ({e.reason})") from None
