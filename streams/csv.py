"""Multi-label streams from CSV files with a header row.

This module owns reading CSV rows into ``(x, y)`` records: which columns are labels (by name or by a
name prefix), label values (``1/0``, ``true/false``, ``yes/no``), and feature values (numeric text
becomes ``float`` (``nan``: missing), other text stays a category string, an empty cell is ``None``,
an infinite number or one beyond ``1e150`` in magnitude is a malformed row, see
:mod:`streams.values`). It must not know about models or metrics.
"""

from __future__ import annotations

import csv as _csv
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

from streams.base import Stream, corrupt_file_error, open_text
from streams.errors import StreamFormatError
from streams.values import unusable_reason, usable_number

__all__ = ["CsvStream"]

_LABEL_VALUES = {
    "1": True, "0": False, "1.0": True, "0.0": False,
    "true": True, "false": False, "yes": True, "no": False,
}  # fmt: skip


class _Unusable(Exception):
    """A numeric cell the model must not see (infinite or too large)."""


def _value(v: str) -> float | str | None:
    if v == "":
        return None
    try:
        f = float(v)
    except ValueError:
        s = v.strip()
        return None if s == "" else s
    if usable_number(f):  # NaN included: the model reads it as missing
        return f
    raise _Unusable(f)


def _unusable_cell(row: list[str], fcols: list[tuple[int, str]]) -> str:
    for i, name in fcols:
        try:
            _value(row[i])
        except _Unusable as e:
            return f"feature {name!r}: {unusable_reason(e.args[0])}"
    return "unusable value"  # pragma: no cover - only called after _Unusable was raised


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".bz2", ".csv"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name


class CsvStream(Stream):
    """A multi-label stream read from a CSV file whose first row names the columns.

    Parameters
    ----------
    path
        The CSV file (gzip / bzip2 detected and undone transparently).
    label_columns
        Names of the label columns.
    label_prefix
        Every column whose name starts with this prefix is a label (used when ``label_columns``
        is not given). One of the two is required.
    lenient
        Skip malformed rows (counted in ``n_skipped``, kept in ``skipped``) instead of raising.
    limit
        Stop after this many instances.
    delimiter
        The field separator.
    labels_required
        With False, a file read without ``label_columns`` / ``label_prefix`` is unlabelled: every
        column is a feature and ``y`` is ``{}`` (for predicting with a trained model).

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "toy.csv")
    >>> _ = open(p, "w").write("age,city,y_a,y_b\\n31,Lyon,1,no\\n,Nice,0,yes\\n")
    >>> s = CsvStream(p, label_prefix="y_")
    >>> s.labels, s.features
    (['y_a', 'y_b'], ['age', 'city'])
    >>> for x, y in s:
    ...     print(x, y)
    {'age': 31.0, 'city': 'Lyon'} {'y_a': True, 'y_b': False}
    {'age': None, 'city': 'Nice'} {'y_a': False, 'y_b': True}
    """

    sparse = False

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        label_columns: list[str] | None = None,
        label_prefix: str | None = None,
        lenient: bool = False,
        limit: int | None = None,
        delimiter: str = ",",
        labels_required: bool = True,
    ) -> None:
        super().__init__(lenient=lenient, limit=limit)
        self.unlabelled = label_columns is None and not label_prefix
        if self.unlabelled and labels_required:
            raise ValueError(
                f"{path}: CsvStream needs label_columns or label_prefix (which columns are labels)"
            )
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise ValueError(f"delimiter must be a single character, got {delimiter!r}")
        self.path = Path(path)
        self.source = str(path)
        self.name = _stem(self.path)
        self.label_columns = label_columns
        self.label_prefix = label_prefix
        self.delimiter = delimiter
        self._read_header()

    def _read_header(self) -> None:
        src = self.source
        with open_text(self.path) as f:
            reader = _csv.reader(f, delimiter=self.delimiter)
            try:
                header = next(reader, None)
            except (_csv.Error, UnicodeDecodeError) as e:
                raise StreamFormatError(src, 1, f"unreadable header row ({e})") from None
            except (EOFError, zlib.error, OSError) as e:
                error = corrupt_file_error(src, e)
                if error is None:
                    raise
                raise error from None
        if not header:
            raise StreamFormatError(src, 1, "no header row")
        header = [h.strip() for h in header]
        if len(set(header)) != len(header):
            dup = sorted({h for h in header if header.count(h) > 1})
            raise StreamFormatError(src, 1, f"repeated column name(s) {dup[:5]}")
        if self.unlabelled:
            labels = []
        elif self.label_columns is not None:
            missing = [c for c in self.label_columns if c not in header]
            if missing:
                raise StreamFormatError(src, 1, f"label column(s) {missing[:5]} not in the header")
            labels = list(self.label_columns)
        else:
            labels = [h for h in header if h.startswith(self.label_prefix)]
        if not labels and not self.unlabelled:
            raise StreamFormatError(src, 1, f"no column starts with {self.label_prefix!r}")
        label_set = set(labels)
        self.labels = labels
        self.features = [h for h in header if h not in label_set]
        if not self.features:
            raise StreamFormatError(src, 1, "no feature column (every column is a label)")
        index = {h: i for i, h in enumerate(header)}
        self._fcols = [(index[h], h) for h in self.features]
        self._lcols = [(index[h], h) for h in labels]
        self._n = len(header)

    def _records(self) -> Iterator[tuple[dict, dict]]:
        src = self.source
        n = self._n
        fcols = self._fcols
        lcols = self._lcols
        lookup = _LABEL_VALUES
        line = 1
        with open_text(self.path) as f:
            reader = _csv.reader(f, delimiter=self.delimiter)
            try:
                next(reader, None)
                while True:
                    try:
                        row = next(reader)
                    except StopIteration:
                        return
                    except _csv.Error as e:
                        self._skip(StreamFormatError(src, reader.line_num, f"bad CSV ({e})"))
                        continue
                    line = reader.line_num
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue
                    if len(row) != n:
                        self._skip(
                            StreamFormatError(src, line, f"expected {n} values, got {len(row)}")
                        )
                        continue
                    y = {}
                    bad = None
                    for i, name in lcols:
                        v = row[i]
                        b = lookup.get(v)
                        if b is None:
                            b = lookup.get(v.strip().lower())
                            if b is None:
                                bad = f"label {name!r}: value {v!r} is not 1/0/true/false/yes/no"
                                break
                        y[name] = b
                    if bad is not None:
                        self._skip(StreamFormatError(src, line, bad))
                        continue
                    try:
                        x = {name: _value(row[i]) for i, name in fcols}
                    except _Unusable:
                        self._skip(StreamFormatError(src, line, _unusable_cell(row, fcols)))
                        continue
                    yield x, y
            except UnicodeDecodeError as e:
                raise StreamFormatError(src, line + 1, f"not UTF-8 text ({e.reason})") from None
