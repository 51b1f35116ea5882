"""Feature encoding: turns river-style ``x`` dicts into sparse numeric rows.

This module owns the mapping from feature names to column ids and the semantics of a value:

* an **absent** key means the feature is **0** (sparse semantics, spec section 7); a present 0 is
  dropped, so the same record given as a dense or a sparse dict encodes identically;
* ``None`` or NaN means **missing**, kept apart from zero (``row.missing``);
* a **non-finite** number (``inf``, ``-inf``) or one larger in magnitude than
  :data:`MAX_ABS_VALUE` (``1e150``; its square would overflow the model's float64 statistics) is
  also **missing**: such a value never reaches, and so never poisons, the model's statistics
  (the stream adapters refuse it earlier, with the file and line);
* a string (or any non-numeric value) is a nominal category, one-hot encoded as the column
  ``"name=value"`` with value 1.0; ``bool`` is 0/1.

It must not know about labels, trees or streams.
"""

from __future__ import annotations

import math
import os
from typing import Any, NamedTuple

import numpy as np

__all__ = ["EncodedRecord", "FeatureIndex", "SparseRow", "MAX_ABS_VALUE", "usable_number"]

#: Largest magnitude a feature value may have; beyond it (and for inf / NaN) the value is missing.
#: ``MAX_ABS_VALUE ** 2`` stays finite with a margin of 10**8 (sums of squares over long streams).
MAX_ABS_VALUE = 1e150

_EMPTY_I = np.empty(0, dtype=np.int64)
_EMPTY_F = np.empty(0, dtype=np.float64)
_NUMERIC_TYPES = frozenset({float, int})

try:  # the compiled fast path of _encode (ihomer/_encode.c), optional
    from ihomer import _encode as _compiled
except ImportError:
    _compiled = None
if os.environ.get("IHOMER_NO_COMPILED", "") not in ("", "0"):
    _compiled = None


def usable_number(v: float) -> bool:
    """Whether the number ``v`` is a feature value the model may learn from: finite and at most
    :data:`MAX_ABS_VALUE` in magnitude (otherwise it is treated as missing).

    >>> usable_number(1e10), usable_number(float("inf")), usable_number(1e308), usable_number(-0.5)
    (True, False, False, True)
    """
    return -MAX_ABS_VALUE <= v <= MAX_ABS_VALUE  # False for NaN too


class SparseRow(NamedTuple):
    """One encoded record: non-zero columns, their values, and the missing columns."""

    idx: np.ndarray  # int64 column ids of the non-zero values (unsorted, unique)
    val: np.ndarray  # float64 values, aligned with ``idx``
    missing: np.ndarray  # int64 column ids whose value is missing (None/NaN)

    def dense(self, n_features: int, fill_missing: float = 0.0) -> np.ndarray:
        """The row as a dense float64 vector of length ``n_features``."""
        out = np.zeros(n_features, dtype=np.float64)
        keep = self.idx < n_features
        out[self.idx[keep]] = self.val[keep]
        if len(self.missing):
            m = self.missing[self.missing < n_features]
            out[m] = fill_missing
        return out


class EncodedRecord:
    """A record already encoded against one :class:`FeatureIndex`: what a model that encodes
    with that index accepts in place of an ``x`` dict (``predict_one(rec)``, ``learn_one(rec,
    y)``), with no encoding left to do.

    Only a row whose every column is known to ``index`` may be wrapped (nothing to grow), and
    it is valid for that index only: the column ids are ``index``'s. The learner of the Kafka
    daemon builds them from the rows its fetch process encodes (``ihomer.serve.rows``).

    >>> fi = FeatureIndex()
    >>> row = fi.encode({"a": 1.5, "b": 2.0})
    >>> rec = EncodedRecord(fi, row)
    >>> fi.encode(rec) is row, fi.encode_known(rec) == (row, True)
    (True, True)
    >>> EncodedRecord(FeatureIndex(), row) and fi.encode(EncodedRecord(FeatureIndex(), row))
    Traceback (most recent call last):
    ...
    ValueError: an EncodedRecord encoded against another FeatureIndex
    """

    __slots__ = ("index", "row")

    def __init__(self, index: FeatureIndex, row: SparseRow) -> None:
        self.index = index
        self.row = row


class FeatureIndex:
    """A growing map from feature names to column ids.

    Examples
    --------
    >>> fi = FeatureIndex()
    >>> row = fi.encode({"a": 1.5, "b": 0, "c": "red", "d": None, "e": float("inf")})
    >>> fi.names
    ['a', 'c=red', 'd', 'e']
    >>> row.idx.tolist(), row.val.tolist(), row.missing.tolist()
    ([0, 1], [1.5, 1.0], [2, 3])
    >>> fi.encode({"zzz": 2.0}, grow=False).idx.tolist()
    []
    """

    def __init__(self) -> None:
        self._ids: dict[Any, int] = {}
        self.names: list[Any] = []
        self._misses = 0
        self._last_cols: tuple[tuple, np.ndarray] | None = None  # (keys, column ids)

    def __len__(self) -> int:
        return len(self.names)

    def column(self, name: Any, grow: bool = False) -> int:
        """The column id of ``name`` (a feature name, or ``"name=value"`` for a category), or -1
        when unknown; with ``grow``, an unknown name gets the next id.

        >>> fi = FeatureIndex()
        >>> fi.column("a"), fi.column("a", grow=True), fi.column("a")
        (-1, 0, 0)
        """
        i = self._ids.get(name)
        if i is None:
            if not grow:
                return -1
            i = self._ids[name] = len(self.names)
            self.names.append(name)
        return i

    def _id(self, key: Any, grow: bool) -> int:
        i = self.column(key, grow)
        if i < 0:
            self._misses += 1  # an unseen feature ignored (see encode_known)
        return i

    def encode(self, x: dict, grow: bool = True) -> SparseRow:
        """Encode ``x``; with ``grow=False`` unseen features are ignored (prediction path)."""
        return self._encode(x, grow)[0]

    def encode_known(self, x: dict) -> tuple[SparseRow, bool]:
        """``encode(x, grow=False)`` and whether every feature of ``x`` was known, in which case
        the row is also what ``encode(x)`` gives (so a prediction's row can be learned from).

        >>> fi = FeatureIndex()
        >>> _ = fi.encode({"a": 1.0})
        >>> fi.encode_known({"a": 2.0})[1], fi.encode_known({"a": 2.0, "b": 1.0})[1]
        (True, False)
        """
        return self._encode(x, False)

    def _encode(self, x: dict, grow: bool) -> tuple[SparseRow, bool]:
        if type(x) is EncodedRecord:
            if x.index is not self:
                raise ValueError("an EncodedRecord encoded against another FeatureIndex")
            return x.row, True
        if not x:
            return SparseRow(_EMPTY_I, _EMPTY_F, _EMPTY_I), True
        ids = self._ids
        keys = tuple(x)
        last = self._last_cols
        if _compiled is not None and (last is None or last[0] != keys):
            # a new key order (sparse records): one compiled pass, or -1 for the paths below
            m = len(keys)
            col, val = np.empty(m, dtype=np.int64), np.empty(m, dtype=np.float64)
            n = _compiled.encode_known(x, ids, col, val, MAX_ABS_VALUE)
            if n == m:  # a full row: its ids are shared by the rows of the same key order
                col.flags.writeable = False
                self._last_cols = (keys, col)
                return SparseRow(col, val, _EMPTY_I), True
            if n >= 0:
                return SparseRow(col[:n], val[:n], _EMPTY_I), True
        # Fast path: every value a float/int (not bool) and every key known: vectorised.
        values = list(x.values())
        if set(map(type, values)) <= _NUMERIC_TYPES:
            if last is not None and last[0] == keys:
                col = last[1]  # same keys in the same order as the previous record
            else:
                try:
                    col = np.array(list(map(ids.__getitem__, keys)), dtype=np.int64)
                except KeyError:
                    col = None
                else:
                    col.flags.writeable = False  # shared by the rows of the same key order
                    self._last_cols = (keys, col)
            if col is not None:
                try:
                    val = np.array(values, dtype=np.float64)
                except OverflowError:  # an int beyond float64: the general path says missing
                    return self._encode_slow(x, grow)
                # one reduction tells whether every value is usable (NaN fails the comparison)
                bad = not (np.abs(val).max() <= MAX_ABS_VALUE)
                if not bad and np.count_nonzero(val) == val.size:
                    return SparseRow(col, val, _EMPTY_I), True
                keep = val != 0
                if bad:
                    miss = ~(np.abs(val) <= MAX_ABS_VALUE)
                    keep &= ~miss
                    return SparseRow(col[keep], val[keep], col[miss]), True
                if keep.all():
                    return SparseRow(col, val, _EMPTY_I), True
                return SparseRow(col[keep], val[keep], _EMPTY_I), True
        return self._encode_slow(x, grow)

    def _encode_slow(self, x: dict, grow: bool) -> tuple[SparseRow, bool]:
        ids = self._ids
        self._misses = 0
        idx: list[int] = []
        val: list[float] = []
        missing: list[int] = []
        for k, v in x.items():
            t = type(v)
            if t is float or t is int:
                if not -MAX_ABS_VALUE <= v <= MAX_ABS_VALUE:  # NaN, inf, too large: missing
                    i = self._id(k, grow)
                    if i >= 0:
                        missing.append(i)
                    continue
                if v == 0:
                    continue
                i = ids.get(k)
                if i is None:
                    i = self._id(k, grow)
                    if i < 0:
                        continue
                idx.append(i)
                val.append(float(v))
            elif v is None:
                i = self._id(k, grow)
                if i >= 0:
                    missing.append(i)
            elif t is bool or isinstance(v, (int, float, np.number)) and not isinstance(v, str):
                try:
                    fv = float(v)
                except OverflowError:
                    fv = math.nan
                if not -MAX_ABS_VALUE <= fv <= MAX_ABS_VALUE:  # NaN, inf, too large: missing
                    i = self._id(k, grow)
                    if i >= 0:
                        missing.append(i)
                    continue
                if fv == 0.0:
                    continue
                i = self._id(k, grow)
                if i >= 0:
                    idx.append(i)
                    val.append(fv)
            else:
                i = self._id(f"{k}={v}", grow)
                if i >= 0:
                    idx.append(i)
                    val.append(1.0)
        row = SparseRow(
            np.asarray(idx, dtype=np.int64) if idx else _EMPTY_I,
            np.asarray(val, dtype=np.float64) if val else _EMPTY_F,
            np.asarray(missing, dtype=np.int64) if missing else _EMPTY_I,
        )
        return row, self._misses == 0
