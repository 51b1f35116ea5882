"""HOMER routing: the meta-label predictors that decide which cluster learners an instance reaches.

Every cluster ``c`` of the learning partition has a meta-label "some label of ``c`` is present".
A :class:`Router` predicts all of them at once (one logistic regression per cluster over the
scaled features, vectorised over the clusters: one gather of the row's weights and one product,
O(non-zeros x clusters)) and learns them on every instance. iHOMER trains a cluster's learner
only on the instances whose meta-label is true and asks it only when the router predicts the
meta-label, so an instance costs O(active clusters) learner calls instead of O(clusters)
(Tsoumakas, Katakis, Vlahavas 2008, on the flat level of the hierarchy: its active clusters).

This module owns the meta-label models and their remapping when the partition changes. It must
not know about cluster learners, labels or drift.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import expit

from ihomer.trees.leaf_models import FeatureScaler

__all__ = ["Router"]


class Router:
    """Meta-label logistic regressions of ``n_clusters`` clusters (plain data, picklable).

    Parameters
    ----------
    lr
        Step size of the normalised SGD (the update of a row is divided by ``1 + |x|^2`` of
        the scaled row, so the step does not depend on the number or scale of the features).

    Examples
    --------
    >>> import numpy as np
    >>> r = Router(lr=1.0)
    >>> r.resize([[], []])  # two new clusters
    >>> idx = np.array([0, 1])
    >>> for _ in range(200):
    ...     r.learn(idx, np.array([1.0, 0.0]), np.array([True, False]))
    ...     r.learn(idx, np.array([0.0, 1.0]), np.array([False, True]))
    >>> (r.predict(idx, np.array([1.0, 0.0])) > 0.5).tolist()
    [True, False]
    """

    __slots__ = ("lr", "W", "b", "scaler", "cap", "n_on", "n")

    def __init__(self, lr: float = 0.5) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr!r}")
        self.lr = float(lr)
        self.cap = 16
        self.W = np.zeros((self.cap, 0))
        self.b = np.zeros(0)
        self.n_on = np.zeros(0)  # instances with the meta-label on, per cluster
        self.n = 0
        self.scaler = FeatureScaler(self.cap)

    def __getstate__(self) -> tuple:  # slots: pickle as a tuple
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, state: tuple) -> None:
        for s, v in zip(self.__slots__, state):
            setattr(self, s, v)

    @property
    def n_clusters(self) -> int:
        return self.b.size

    def nbytes(self) -> int:
        return self.W.nbytes + self.b.nbytes + self.scaler.nbytes()

    def _grow(self, top: int) -> None:
        if top < self.cap:
            return
        cap = max(top + 1, 2 * self.cap)
        self.W = np.concatenate([self.W, np.zeros((cap - self.cap, self.W.shape[1]))])
        self.scaler.grow(cap)
        self.cap = cap

    def resize(self, sources: Sequence[Sequence[int]]) -> None:
        """Re-map the meta-labels to a new partition: new cluster ``k`` starts from the mean of
        the old clusters ``sources[k]`` (the clusters its labels came from; empty: a fresh model
        whose bias is the log-odds of a rare event)."""
        C = len(sources)
        W = np.zeros((self.cap, C))
        b = np.full(C, -2.0)
        n_on = np.zeros(C)
        for k, src in enumerate(sources):
            if len(src):
                s = np.asarray(src, dtype=np.int64)
                W[:, k] = self.W[:, s].mean(axis=1)
                b[k] = self.b[s].mean()
                n_on[k] = self.n_on[s].sum()
        self.W, self.b, self.n_on = W, b, n_on

    def predict(self, idx: np.ndarray, val: np.ndarray) -> np.ndarray:
        """P(meta-label on) per cluster."""
        if idx.size and int(idx.max()) >= self.cap:
            keep = idx < self.cap
            idx, val = idx[keep], val[keep]
        xs = self.scaler.transform(idx, val)
        return expit(xs @ self.W[idx] + self.b)

    def learn(
        self, idx: np.ndarray, val: np.ndarray, on: np.ndarray, p: np.ndarray | None = None
    ) -> None:
        """One SGD step on the log-loss of every meta-label; ``on`` (bool per cluster) is the
        truth, ``p`` the prediction for this row when the caller has it."""
        if idx.size:
            self._grow(int(idx.max()))
        if p is None:
            p = self.predict(idx, val)
        xs = self.scaler.transform(idx, val)
        g = p - on
        g *= self.lr / (1.0 + float(xs @ xs))
        self.W[idx] -= np.multiply.outer(xs, g)
        self.b -= g
        self.n_on += on
        self.n += 1
        self.scaler.learn(idx, val)
