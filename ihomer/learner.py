"""The contract between iHOMER and its per-cluster learners.

iHOMER trains one :class:`ClusterLearner` per label cluster. A cluster learner sees encoded rows
(:class:`ihomer.features.SparseRow`, absent feature = 0) and a boolean label vector whose order is
the cluster's label order; labels only ever get appended (``add_labels``). It reports structural
events (node splits, drifts, subtree swaps) through ``drain_events``; iHOMER moves them into its
:class:`ihomer.events.EventLog`. New learners come from ``clone()`` of the prototype (river
convention: ``__init__`` stores parameters only).
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np
from river import base

from ihomer.features import SparseRow

__all__ = ["ClusterLearner"]


class ClusterLearner(base.Base, abc.ABC):
    """A multi-label learner over one cluster's labels, fed encoded rows."""

    @property
    @abc.abstractmethod
    def n_labels(self) -> int:
        """Number of labels this learner predicts (the cluster's size)."""

    @abc.abstractmethod
    def add_labels(self, k: int) -> None:
        """Append ``k`` new labels (never seen before) at the end of the label order."""

    @abc.abstractmethod
    def learn(self, row: SparseRow, y: np.ndarray, w: float = 1.0) -> None:
        """Learn one instance; ``y`` is a bool array of length ``n_labels``."""

    @abc.abstractmethod
    def predict_proba(self, row: SparseRow) -> np.ndarray:
        """Per-label probabilities (float64 array of length ``n_labels``)."""

    def restrict(self, positions: np.ndarray) -> ClusterLearner | None:
        """A new learner for the labels at ``positions`` (in that order) that predicts them as
        this learner does now, or None when the learner cannot be restricted (the default; iHOMER
        then warm-starts a fresh learner). This learner is left unchanged."""
        return None

    def drain_events(self) -> list[tuple[str, dict[str, Any]]]:
        """Structural events since the last call, as ``(kind, detail)``; kinds from
        :data:`ihomer.events.EVENT_KINDS` (``node_split``, ``node_drift``, ``subtree_swap``)."""
        return []

    def memory_bytes(self) -> int:
        """Approximate size of the learned state in bytes (numpy buffers)."""
        return 0

    def shed(self, nbytes: int) -> int:
        """Free about ``nbytes`` of learned state that only serves growth (e.g. split
        statistics) and stop growing; return the bytes freed (default: nothing to shed)."""
        return 0
