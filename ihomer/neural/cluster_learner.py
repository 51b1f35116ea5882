"""``NeuralClusterLearner``: the neural scorer as iHOMER's per-cluster learner for dense streams.

This module owns the adapter from the :class:`ihomer.learner.ClusterLearner` contract (encoded
``SparseRow`` inputs, boolean label vectors in cluster order, labels only appended) to the
:class:`ihomer.neural.engine.MLPEngine`: rows are buffered and densified into a reused array, one
optimizer step per ``batch_size`` rows. It must not know feature or label names.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ihomer.features import SparseRow
from ihomer.learner import ClusterLearner
from ihomer.neural.buffer import BatchBuffer
from ihomer.neural.classifier import validate_params
from ihomer.neural.engine import MLPEngine, ensure_engine, train_pending

__all__ = ["NeuralClusterLearner"]


class NeuralClusterLearner(ClusterLearner):
    """A growable MLP over one label cluster, fed encoded rows (absent feature = 0).

    Instances are buffered; the network trains one step each ``batch_size`` instances, so the
    last (fewer than ``batch_size``) instances are not trained on until the buffer fills or
    :meth:`flush` is called. A label added with :meth:`add_labels` predicts 0.5 until trained on.
    The input width follows the largest column id seen in training (unseen columns are ignored when
    predicting: they would meet zero weights anyway).

    Parameters
    ----------
    hidden, lr, optimizer, weight_decay, batch_size, device, amp, standardize, seed, threads
        As in :class:`ihomer.neural.NeuralMultiLabelClassifier`.

    Examples
    --------
    >>> import numpy as np
    >>> from ihomer.features import FeatureIndex
    >>> fi = FeatureIndex()
    >>> learner = NeuralClusterLearner(hidden=(8,), batch_size=2, device="cpu")
    >>> learner.add_labels(2)
    >>> learner.learn(fi.encode({"a": 1.0}), np.array([True, False]))
    >>> learner.learn(fi.encode({"b": 1.0}), np.array([False, True]))
    >>> learner.predict_proba(fi.encode({"a": 1.0})).shape
    (2,)
    >>> learner.add_labels(1)
    >>> float(learner.predict_proba(fi.encode({"a": 1.0}))[2])
    0.5
    """

    def __init__(
        self,
        hidden: tuple[int, ...] = (64,),
        lr: float = 1e-3,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
        batch_size: int = 32,
        device: Any = "auto",
        amp: str = "auto",
        standardize: bool = True,
        seed: int = 0,
        threads: int | None = 1,
    ) -> None:
        validate_params(hidden, lr, optimizer, weight_decay, batch_size, amp, threads)
        self.hidden = hidden
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.device = device
        self.amp = amp
        self.standardize = standardize
        self.seed = seed
        self.threads = threads
        self._reset()

    def _reset(self) -> None:
        self._n_labels = 0
        self._n_in = 0
        self._buffer = BatchBuffer()
        self._engine: MLPEngine | None = None
        self._engine_state: dict | None = None
        self._row = np.zeros((1, 0), dtype=np.float32)

    @property
    def n_labels(self) -> int:
        return self._n_labels

    @property
    def n_pending(self) -> int:
        """Instances not trained on yet."""
        return len(self._buffer)

    def add_labels(self, k: int) -> None:
        if k < 0:
            raise ValueError(f"add_labels(k={k}): k must be >= 0")
        self._n_labels += int(k)

    @property
    def engine(self) -> MLPEngine:
        """The torch engine, built (and grown to the current sizes) on demand."""
        return ensure_engine(self, self._n_in, self._n_labels)

    def learn(self, row: SparseRow, y: np.ndarray, w: float = 1.0) -> None:
        if len(y) > self._n_labels:
            raise ValueError(f"y has {len(y)} labels but this learner has {self._n_labels}")
        top = -1
        if len(row.idx):
            top = int(row.idx.max())
        if len(row.missing):
            top = max(top, int(row.missing.max()))
        if top >= self._n_in:
            self._n_in = top + 1
        self._buffer.add(row, np.flatnonzero(y), w)
        if len(self._buffer) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Train on the pending instances now (one step)."""
        train_pending(self)

    def predict_proba(self, row: SparseRow) -> np.ndarray:
        engine = self.engine
        n_in = engine.n_in
        if self._row.shape[1] != n_in:
            self._row = np.zeros((1, n_in), dtype=np.float32)
        buf = self._row
        buf.fill(0.0)
        if len(row.idx):
            keep = row.idx < n_in
            buf[0, row.idx[keep]] = row.val[keep]
        if len(row.missing):
            buf[0, row.missing[row.missing < n_in]] = np.nan
        return engine.predict_proba(buf)[0].astype(np.float64)

    def memory_bytes(self) -> int:
        if self._engine is not None:
            return self._engine.memory_bytes()
        return 0

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if self._engine is not None:
            state["_engine_state"] = self._engine.get_state()
        state["_engine"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
