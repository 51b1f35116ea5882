"""Labelled records decoded and encoded in the learner's fetch process, and turned back into
model rows in the learner.

This module owns the two ends of that hand-over and the bytes between them:

* :class:`RowEncoder` (the fetch process): validates a message as the learner would
  (:func:`streams.kafka.decode_event`) and encodes its features with a
  :class:`~ihomer.features.FeatureIndex` of its own, so each record crosses the pipe as column
  ids (the fetch process's), values, its labels and id. A message it cannot decode crosses as
  raw bytes only, and the learner decodes it itself (the same error, the same dead letter).
* :class:`RowResolver` (the learner): maps the fetch process's column ids to the model's (one
  array lookup), and hands the model an :class:`~ihomer.features.EncodedRecord` when every
  name of the record is known to the model and admitted by the limits. Otherwise (a feature
  the model has not learned yet) the record takes the ordinary path: its bytes decoded, its new
  names admitted and learned. The decision is the same as on the ordinary path, so the model
  learns the same thing either way (tested in ``tests/serve/test_rows.py``).

New names travel with the frames, in the order the fetch process met them, and are kept even
from frames the learner drops (an old epoch); a restarted fetch process starts a new
vocabulary (:meth:`RowResolver.reset`). Nothing here is a pickle: lengths, little-endian
integers and floats, UTF-8 text and the labels as JSON.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from ihomer.features import EncodedRecord, FeatureIndex, SparseRow
from streams.kafka import EventSchemaError, decode_event

__all__ = ["Encoded", "RowEncoder", "RowResolver", "pack_names", "unpack_names"]

try:
    from orjson import dumps as _dumps
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - the stdlib does the same, slower

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    _loads = json.loads

#: per encoded record: features in the message, id length (-1: none), labels length, non-zero
#: columns, missing columns, zero-valued features (-1 features: the fetch process could not
#: decode the message, nothing follows); then the id and labels, padding to 8 bytes, the values
#: (float64) and the ids of the columns, the missing columns and the zero features (int64)
_ENC = struct.Struct("<iiiiii")
_LEN = struct.Struct("<i")
_NOT_DECODED = _ENC.pack(-1, -1, 0, 0, 0, 0)
_EMPTY_I = np.empty(0, dtype=np.int64)
_YCACHE_MAX = 4096


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 8)


def pack_names(names: list[str]) -> bytes:
    """The new-names block of a frame: a count, then each name's UTF-8 length and bytes, padded
    to 8 bytes.

    >>> unpack_names(pack_names(["a", "b=é"]), 0)
    (['a', 'b=é'], 24)
    """
    parts = [_LEN.pack(len(names))]
    for n in names:
        b = n.encode("utf-8")
        parts.append(_LEN.pack(len(b)))
        parts.append(b)
    out = b"".join(parts)
    return out + _pad(len(out))


def unpack_names(buf: Any, pos: int) -> tuple[list[str], int]:
    """The names of the block at ``pos`` and the position after it (see :func:`pack_names`)."""
    start = pos
    (n,) = _LEN.unpack_from(buf, pos)
    pos += 4
    names = []
    for _ in range(n):
        (ln,) = _LEN.unpack_from(buf, pos)
        pos += 4
        names.append(bytes(buf[pos : pos + ln]).decode("utf-8"))
        pos += ln
    return names, pos + (-(pos - start) % 8)


class Encoded:
    """One record as the fetch process encoded it (see :class:`RowEncoder`)."""

    __slots__ = ("n_features", "rid", "labels", "val", "idx", "missing", "zero")

    def __init__(self, n_features: int, rid: str | None, labels: bytes, val: np.ndarray,
                 idx: np.ndarray, missing: np.ndarray, zero: np.ndarray) -> None:  # fmt: skip
        self.n_features = n_features
        self.rid = rid
        self.labels = labels
        self.val = val
        self.idx = idx
        self.missing = missing
        self.zero = zero

    @staticmethod
    def unpack(buf: Any, pos: int) -> tuple[Encoded | None, int]:
        """The record at ``pos`` of a frame (None: not decoded) and the position after it."""
        nf, rl, yl, ni, nm, nz = _ENC.unpack_from(buf, pos)
        pos += _ENC.size
        if nf < 0:
            return None, pos
        rid = None
        if rl >= 0:
            rid = bytes(buf[pos : pos + rl]).decode("utf-8")
            pos += rl
        labels = bytes(buf[pos : pos + yl])
        pos += yl
        pos += -pos % 8  # (frames start 8-aligned: the arrays are aligned)
        val = np.frombuffer(buf, np.float64, ni, pos)
        pos += 8 * ni
        idx = np.frombuffer(buf, np.int64, ni, pos)
        pos += 8 * ni
        missing = _EMPTY_I
        if nm:
            missing = np.frombuffer(buf, np.int64, nm, pos)
            pos += 8 * nm
        zero = _EMPTY_I
        if nz:
            zero = np.frombuffer(buf, np.int64, nz, pos)
            pos += 8 * nz
        return Encoded(nf, rid, labels, val, idx, missing, zero), pos


class RowEncoder:
    """The fetch process's side: validate and encode one message.

    Parameters
    ----------
    max_bytes
        The learner's message size limit (a larger message is left to the learner, which
        dead-letters it).
    max_features
        A message with more features is left to the learner (which refuses it); 0: no limit.
    max_names
        The most names the vocabulary holds: what the network can make this process hold. A
        message with a name beyond it is left to the learner (decoded there, as without the
        fetch process).

    Examples
    --------
    >>> enc = RowEncoder(max_bytes=1 << 20)
    >>> b = enc.encode(b'{"features": {"a": 1.5, "b": 0, "c": "red"}, "labels": ["l"], "id": 3}')
    >>> enc.new_names()
    ['a', 'c=red', 'b']
    >>> rec, end = Encoded.unpack(b, 0)
    >>> end == len(b), rec.n_features, rec.rid, rec.labels
    (True, 3, '3', b'{"l":true}')
    >>> rec.idx.tolist(), rec.val.tolist(), rec.zero.tolist()
    ([0, 1], [1.5, 1.0], [2])
    >>> Encoded.unpack(enc.encode(b'{"features": 1}'), 0)[0] is None
    True
    >>> small = RowEncoder(1 << 20, max_names=2)
    >>> _ = small.encode(b'{"features": {"a": 1, "b": 2}, "labels": []}')
    >>> Encoded.unpack(small.encode(b'{"features": {"c": 1}, "labels": []}'), 0)[0] is None
    True
    >>> small.index.names
    ['a', 'b']
    """

    def __init__(self, max_bytes: int, max_features: int = 0, max_names: int = 100_000) -> None:
        self.max_bytes = max_bytes
        self.max_features = max_features
        self.max_names = max_names
        self.index = FeatureIndex()
        self._sent = 0

    def new_names(self) -> list[str]:
        """The names met since the last call, in id order (for the next frame)."""
        names = self.index.names
        new = names[self._sent :]
        self._sent = len(names)
        return new

    def encode(self, value: bytes | None) -> bytes:
        """The encoded section of one record (see :class:`Encoded`). Never raises: whatever
        this process cannot encode is left to the learner, whose guards decide (a record must
        not be able to kill the fetch process, which would fetch it again)."""
        try:
            return self._encode(value)
        except Exception:  # noqa: BLE001 - the learner decodes it and says why
            return _NOT_DECODED

    def _encode(self, value: bytes | None) -> bytes:
        try:
            x, y, rid, _ts = decode_event(value, "<fetched>", labelled=True,
                                          max_bytes=self.max_bytes)  # fmt: skip
        except EventSchemaError:
            return _NOT_DECODED
        if self.max_features and len(x) > self.max_features:
            return _NOT_DECODED  # (the learner refuses it: too many features)
        index = self.index
        grow = len(index) + len(x) <= self.max_names  # (room for every name of the record)
        row, complete = (index.encode(x), True) if grow else index.encode_known(x)
        if not complete:
            return _NOT_DECODED  # a new name and a full vocabulary
        n = len(row.idx)
        zero = _EMPTY_I
        if n + len(row.missing) < len(x):  # zero-valued features: not columns, but names
            column = index.column
            zero = np.array(
                [column(k, grow) for k, v in x.items()
                 if type(v) is not str and v is not None and v == 0],
                dtype=np.int64,
            )  # fmt: skip
            if not grow and zero.size and zero.min() < 0:
                return _NOT_DECODED
        rb = b"" if rid is None else rid.encode("utf-8")
        yb = _dumps(y)
        head = _ENC.pack(len(x), -1 if rid is None else len(rb), len(yb), n,
                         len(row.missing), len(zero))  # fmt: skip
        text = head + rb + yb
        parts = [text, _pad(len(text)), row.val.tobytes(), row.idx.tobytes()]
        if len(row.missing):
            parts.append(row.missing.tobytes())
        if len(zero):
            parts.append(zero.tobytes())
        return b"".join(parts)  # (a multiple of 8 bytes: the arrays are 8-byte items)


class RowResolver:
    """The learner's side: the fetch process's names, and its column ids mapped to the model's.

    Examples
    --------
    >>> from ihomer.features import FeatureIndex
    >>> enc, res, model_index = RowEncoder(1 << 20), RowResolver(), FeatureIndex()
    >>> rec, _ = Encoded.unpack(enc.encode(b'{"features": {"a": 2.0}, "labels": ["l"]}'), 0)
    >>> res.add_names(enc.new_names())
    >>> res.resolve(rec, model_index, {"a"}) is None  # the model has not learned "a" yet
    True
    >>> _ = model_index.encode({"a": 1.0})
    >>> x, y, rid = res.resolve(rec, model_index, {"a"})
    >>> x.row.idx.tolist(), x.row.val.tolist(), y, rid
    ([0], [2.0], {'l': True}, None)
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the names (a new fetch process starts a new vocabulary)."""
        self.names: list[str] = []
        self._col = np.full(0, -1, dtype=np.int64)  # model column, -1: unknown or not admitted
        self._adm = np.zeros(0, dtype=bool)  # admitted by the limits
        self._index: Any = None
        self._admitted: Any = None
        self._labels: dict[bytes, dict] = {}

    def add_names(self, names: list[str]) -> None:
        """Names the fetch process met, in its id order."""
        if names:
            self.names.extend(names)
            n = len(names)
            self._col = np.concatenate([self._col, np.full(n, -1, dtype=np.int64)])
            self._adm = np.concatenate([self._adm, np.zeros(n, dtype=bool)])

    def resolve(
        self, rec: Encoded, index: FeatureIndex, admitted: set
    ) -> tuple[EncodedRecord, dict, str | None] | None:
        """``(x, y, id)`` for the model (``x`` an :class:`EncodedRecord` against ``index``),
        or None when a name of the record is unknown to ``index`` or not in ``admitted`` (the
        limits' names): then the record takes the ordinary path."""
        if index is not self._index or admitted is not self._admitted:
            # another model or restored limits: what was found must be looked up again
            self._index, self._admitted = index, admitted
            self._col[:] = -1
            self._adm[:] = False
        col = self._col
        idx = rec.idx
        cols = col[idx]
        if cols.size and cols.min() < 0:
            if not self._refresh(cols, idx):
                return None
            cols = col[idx]
        miss = rec.missing
        if miss.size:
            mcols = col[miss]
            if mcols.min() < 0:
                if not self._refresh(mcols, miss):
                    return None
                mcols = col[miss]
        else:
            mcols = _EMPTY_I
        zero = rec.zero
        if zero.size and not self._adm[zero].all():
            for c in zero.tolist():
                self._adm[c] = self.names[c] in admitted
            if not self._adm[zero].all():
                return None
        y = self._labels.get(rec.labels)
        if y is None:
            if len(self._labels) >= _YCACHE_MAX:
                self._labels.clear()
            y = self._labels[rec.labels] = _loads(rec.labels)
        return EncodedRecord(index, SparseRow(cols, rec.val, mcols)), dict(y), rec.rid

    def _refresh(self, cols: np.ndarray, ids: np.ndarray) -> bool:
        """Look the unknown ``ids`` up again; whether all are known and admitted now."""
        names, index, admitted = self.names, self._index, self._admitted
        col, adm = self._col, self._adm
        ok = True
        for c in ids[cols < 0].tolist():
            name = names[c]
            a = name in admitted
            adm[c] = a
            i = index.column(name) if a else -1
            col[c] = i
            if i < 0:
                ok = False
        return ok
