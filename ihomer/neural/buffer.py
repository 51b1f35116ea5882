"""The mini-batch buffer that lets a stream of single instances train in batches.

This module owns the pending instances (encoded rows, positive label ids, weights) and their
densification into reused numpy arrays whose columns follow the current feature and label counts.
It must not know about torch or about feature/label names.
"""

from __future__ import annotations

import numpy as np

from ihomer.features import SparseRow

__all__ = ["BatchBuffer"]

_EMPTY_I = np.empty(0, dtype=np.int64)


class BatchBuffer:
    """Pending ``(row, positive label ids, weight)`` triples and reusable dense staging arrays.

    Examples
    --------
    >>> from ihomer.features import FeatureIndex
    >>> buf = BatchBuffer()
    >>> buf.add(FeatureIndex().encode({"a": 2.0, "b": None}), [1], 1.0)
    >>> x, y, w = buf.dense(n_features=3, n_labels=2)
    >>> x.tolist(), y.tolist(), w
    ([[2.0, nan, 0.0]], [[False, True]], None)
    """

    def __init__(self) -> None:
        self.rows: list[SparseRow] = []
        self.pos: list[np.ndarray] = []
        self.weights: list[float] = []
        self._x = np.zeros((0, 0), dtype=np.float32)
        self._y = np.zeros((0, 0), dtype=bool)

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, row: SparseRow, pos: list[int] | np.ndarray, w: float = 1.0) -> None:
        """Append one instance: its encoded row, the ids of its present labels, its weight."""
        self.rows.append(row)
        self.pos.append(np.asarray(pos, dtype=np.int64) if len(pos) else _EMPTY_I)
        self.weights.append(float(w))

    def clear(self) -> None:
        self.rows.clear()
        self.pos.clear()
        self.weights.clear()

    def max_feature(self) -> int:
        """Largest column id referenced by a pending row (-1 when none)."""
        m = -1
        for r in self.rows:
            if len(r.idx):
                m = max(m, int(r.idx.max()))
            if len(r.missing):
                m = max(m, int(r.missing.max()))
        return m

    def dense(
        self, n_features: int, n_labels: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Views ``(x (m, n_features) float32, y (m, n_labels) bool, w or None)`` of the pending
        instances; ``w`` is None when every weight is 1. Missing values become NaN. The views are
        overwritten by the next call."""
        m = len(self.rows)
        if self._x.shape[0] < m or self._x.shape[1] != n_features:
            self._x = np.zeros((max(m, self._x.shape[0]), n_features), dtype=np.float32)
        if self._y.shape[0] < m or self._y.shape[1] != n_labels:
            self._y = np.zeros((max(m, self._y.shape[0]), n_labels), dtype=bool)
        x = self._x[:m]
        y = self._y[:m]
        x.fill(0.0)
        y.fill(False)
        for i, (r, p) in enumerate(zip(self.rows, self.pos, strict=True)):
            if len(r.idx):
                x[i, r.idx] = r.val
            if len(r.missing):
                x[i, r.missing] = np.nan
            if len(p):
                y[i, p] = True
        w = None
        if any(v != 1.0 for v in self.weights):
            w = np.asarray(self.weights, dtype=np.float32)
        return x, y, w

    def to_plain(self) -> list[tuple]:
        """Pending instances as plain tuples of numpy arrays (for checkpoints)."""
        return [
            (r.idx, r.val, r.missing, p, w)
            for r, p, w in zip(self.rows, self.pos, self.weights, strict=True)
        ]

    def load_plain(self, items: list[tuple]) -> None:
        self.clear()
        for idx, val, missing, pos, w in items:
            row = SparseRow(
                np.asarray(idx, dtype=np.int64),
                np.asarray(val, dtype=np.float64),
                np.asarray(missing, dtype=np.int64),
            )
            self.add(row, pos, w)
