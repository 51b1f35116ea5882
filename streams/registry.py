"""Names for streams: the development suite, river's bundled Yeast, files by extension, synth.

This module owns turning a stream *spec* (a short string a user types) into a :class:`Stream`,
and where the shared development data sets live (``IHOMER_DATASETS`` or ``../shared/datasets``).
It must not parse any format itself.

Specs:

* ``"river:yeast"`` / ``"yeast-river"``: river's bundled Yeast (no network, no shared folder);
* a development-suite name (``"scene"``, ``"medical"``, ...): the file in the shared folder;
* a path ending in ``.arff``, ``.arff.gz``, ``.arff.bz2``, ``.csv``, ``.jsonl`` or ``.ndjson``;
* ``"synth"`` or ``"synth:key=value,..."``: :class:`streams.synth.LabelClusterStream`.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from pathlib import Path

from streams.arff import ArffStream
from streams.base import Stream
from streams.csv import CsvStream
from streams.jsonl import JsonlStream

__all__ = [
    "DEFAULT_STREAM",
    "DEV_SUITE",
    "EXTRA",
    "DATASET_FILES",
    "RiverYeastStream",
    "open_stream",
    "shared_datasets_dir",
]

DEV_SUITE: list[str] = [
    "flags", "emotions", "yeast", "scene", "birds",
    "enron", "medical", "slashdot", "20ng", "tmc2007-500", "delicious",
]  # fmt: skip
EXTRA: list[str] = ["cal500", "corel5k", "delicious"]
DEFAULT_STREAM = "river:yeast"

#: file name of each shared data set, and whether its labels come from a Mulan XML beside it
DATASET_FILES: dict[str, tuple[str, bool]] = {
    "flags": ("flags.arff", True),
    "emotions": ("emotions.arff", True),
    "yeast": ("yeast.arff", True),
    "cal500": ("cal500.arff", True),
    "corel5k": ("corel5k.arff", True),
    "delicious": ("delicious.arff", True),
    "scene": ("scene.arff.bz2", False),
    "birds": ("birds.arff", False),
    "enron": ("enron.arff", False),
    "medical": ("medical.arff", False),
    "slashdot": ("slashdot.arff", False),
    "20ng": ("20ng.arff", False),
    "tmc2007-500": ("tmc2007-500.arff", False),
}

_RIVER_SPECS = {"river:yeast", "yeast-river"}


def _default_shared_dir() -> Path:
    return Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def shared_datasets_dir() -> Path | None:
    """The folder of the shared development data sets, or ``None`` when there is none.

    The ``IHOMER_DATASETS`` environment variable, when set, is the only place looked at (so a
    wrong value is not silently replaced by another folder). Otherwise ``../shared/datasets``
    beside the repository, then ``../shared/datasets`` relative to the working directory.
    """
    env = os.environ.get("IHOMER_DATASETS")
    if env:
        candidates = [Path(env)]
    else:
        candidates = [_default_shared_dir(), Path.cwd().parent / "shared" / "datasets"]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    return None


def _expected_dir() -> str:
    env = os.environ.get("IHOMER_DATASETS")
    return f"{env} (from IHOMER_DATASETS)" if env else str(_default_shared_dir())


class RiverYeastStream(Stream):
    """river's bundled Yeast data set (2,417 instances, 103 features, 14 labels) as a Stream.

    Examples
    --------
    >>> s = RiverYeastStream(limit=2)
    >>> s.labels[:3], len(s.features)
    (['Class1', 'Class2', 'Class3'], 103)
    >>> [sum(y.values()) for _, y in s]
    [4, 2]
    """

    sparse = False

    def __init__(self, *, lenient: bool = False, limit: int | None = None) -> None:
        super().__init__(lenient=lenient, limit=limit)
        self.name = "yeast"
        self.labels = [f"Class{i}" for i in range(1, 15)]
        self.features = [f"Att{i}" for i in range(1, 104)]
        self.source = "river.datasets.Yeast"

    def _records(self) -> Iterator[tuple[dict, dict]]:
        from river.datasets import Yeast

        labels = self.labels
        for x, y in Yeast():
            yield x, {lab: bool(y[lab]) for lab in labels}


def _parse_value(text: str) -> object:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


def _parse_synth(spec: str) -> dict[str, object]:
    _, _, rest = spec.partition(":")
    params: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"stream spec {spec!r}: expected key=value, got {part!r}")
        params[key.strip()] = _parse_value(value)
    return params


#: What each label option means to each adapter (``None``: the option does not apply).
_LABEL_OPTIONS: dict[type, dict[str, str | None]] = {
    ArffStream: {"labels": "labels", "label_xml": "label_xml", "label_prefix": None},
    CsvStream: {"labels": "label_columns", "label_prefix": "label_prefix", "label_xml": None},
    JsonlStream: {"labels": "labels", "label_prefix": None, "label_xml": None},
}
_OPTION_FLAG = {"labels": "labels", "label_prefix": "label prefix", "label_xml": "label XML"}


def _check_keywords(cls: type, where: object, kwargs: dict) -> None:
    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return  # takes anything: the class checks
    known = [p for p in params if p not in ("self", "path")]
    unknown = [k for k in kwargs if k not in known]
    if unknown:
        raise ValueError(f"{where}: unknown parameter {unknown[0]!r}; known: {', '.join(known)}")


def _construct(cls: type, path: Path, kwargs: dict) -> Stream:
    """``cls(path, **kwargs)``; the label options (``labels``, ``label_prefix``, ``label_xml``)
    are mapped to the adapter's own names, and an option that does not apply is a ValueError.
    ``labels_required=False`` (unlabelled input allowed) reaches the adapters that take it."""
    options = _LABEL_OPTIONS.get(cls, {})
    if "labels_required" not in inspect.signature(cls).parameters:
        kwargs = {k: v for k, v in kwargs.items() if k != "labels_required"}
    out = {}
    for key, value in kwargs.items():
        if key in options:
            target = options[key]
            if target is None:
                if value is None:
                    continue
                raise ValueError(f"{path}: a {_OPTION_FLAG[key]} does not apply to "
                                 f"{cls.__name__} (files of this type)")  # fmt: skip
            if value is not None:
                out[target] = value
            continue
        out[key] = value
    _check_keywords(cls, path, out)
    return cls(path, **out)


def _open_path(path: Path, **kwargs) -> Stream:
    low = path.name.lower()
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a stream file")
    if low.endswith((".arff", ".arff.gz", ".arff.bz2")):
        return _construct(ArffStream, path, kwargs)
    if low.endswith((".csv", ".csv.gz", ".csv.bz2")):
        return _construct(CsvStream, path, kwargs)
    if low.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".jsonl.bz2")):
        return _construct(JsonlStream, path, kwargs)
    raise ValueError(
        f"{path}: unknown stream file type (expected .arff[.gz|.bz2], .csv, .jsonl or .ndjson)"
    )


def open_stream(spec: str, **kwargs) -> Stream:
    """Open the stream named by ``spec`` (see the module docstring); ``kwargs`` go to the adapter.

    Examples
    --------
    >>> s = open_stream("river:yeast", limit=3)
    >>> s.name, len(list(s))
    ('yeast', 3)
    """
    if not isinstance(spec, str | os.PathLike):
        raise ValueError(f"stream spec must be a string or a path, got {spec!r}")
    if isinstance(spec, os.PathLike):
        return _open_path(Path(spec), **kwargs)
    key = spec.strip()
    low = key.lower()
    if low == "synth" or low.startswith("synth:"):
        from streams.synth import LabelClusterStream

        given = {k: v for k, v in kwargs.items()  # a generated stream has no malformed record
                 if v is not None and k not in ("labels_required", "lenient")}  # fmt: skip
        params = {**_parse_synth(key), **given}
        for option in _OPTION_FLAG:
            if params.get(option) is not None:
                raise ValueError(f"stream spec {spec!r}: a {_OPTION_FLAG[option]} does not apply "
                                 "to a synthetic stream")  # fmt: skip
        _check_keywords(LabelClusterStream, f"stream spec {spec!r}", params)
        if isinstance(params.get("drifts"), str | int):  # synth:drifts=3500:labels+7000:concept
            from streams.synth import parse_drifts

            params["drifts"] = parse_drifts(params["drifts"])
        return LabelClusterStream(**params)
    if low in _RIVER_SPECS:
        given = [k for k in _OPTION_FLAG if kwargs.get(k) is not None]
        if given:
            raise ValueError(f"stream spec {spec!r}: a {_OPTION_FLAG[given[0]]} does not apply "
                             "to river's Yeast (its labels are known)")  # fmt: skip
        kwargs = {k: v for k, v in kwargs.items()
                  if k not in _OPTION_FLAG and k != "labels_required"}  # fmt: skip
        _check_keywords(RiverYeastStream, f"stream spec {spec!r}", kwargs)
        return RiverYeastStream(**kwargs)
    if low.startswith("river:"):
        raise ValueError(f"stream spec {spec!r}: only river:yeast is bundled")
    if low in DATASET_FILES:
        filename, mulan = DATASET_FILES[low]
        folder = shared_datasets_dir()
        if folder is None:
            raise FileNotFoundError(
                f"data set {low!r} lives in the shared folder {_expected_dir()}, "
                "which does not exist (set IHOMER_DATASETS to the folder holding the data sets, "
                f"or use {DEFAULT_STREAM!r}, which needs no files)"
            )
        path = folder / filename
        if not path.is_file():
            raise FileNotFoundError(f"data set {low!r}: {path} not found in {folder}")
        if mulan and kwargs.get("labels") is None and kwargs.get("label_xml") is None:
            kwargs["label_xml"] = str(folder / (low + ".xml"))
        return _construct(ArffStream, path, kwargs)
    path = Path(key)
    if path.suffix or path.exists():
        if not path.exists():
            raise FileNotFoundError(f"stream file {path} not found")
        return _open_path(path, **kwargs)
    raise ValueError(
        f"unknown stream spec {spec!r}: expected {DEFAULT_STREAM!r}, 'synth[:k=v,...]', a path, "
        f"or one of {DEV_SUITE + EXTRA}"
    )
