"""Split criterion of the multi-label Hoeffding tree: multi-label (multivariate Bernoulli) entropy,
merit of a binary split and the Hoeffding bound.

This module owns the arithmetic only (vectorised numpy, any broadcastable shapes); it knows nothing
about nodes, features or streams.
"""

from __future__ import annotations

import math

import numpy as np

from ihomer.hoeffding import hoeffding_bound

__all__ = [
    "binary_entropy",
    "multilabel_entropy",
    "split_merit",
    "hoeffding_bound",
    "label_set_range",
]


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """Entropy in bits of Bernoulli(p), elementwise; 0 at p = 0 and p = 1.

    Examples
    --------
    >>> binary_entropy(np.array([0.0, 0.5, 1.0])).tolist()
    [0.0, 1.0, 0.0]
    """
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    q = 1.0 - p
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(p * np.log2(p) + q * np.log2(q))
    return np.nan_to_num(h, nan=0.0, posinf=0.0, neginf=0.0)


def _entropy_of(pos: np.ndarray, w: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(w > 0, pos / w, 0.0)
    return binary_entropy(p)


def multilabel_entropy(pos: np.ndarray, w: float | np.ndarray) -> np.ndarray:
    """Sum over the last axis (labels) of the binary entropies of ``pos / w``.

    ``pos`` holds the positive weight per label, ``w`` the total weight (broadcast against ``pos``).

    Examples
    --------
    >>> float(multilabel_entropy(np.array([5.0, 10.0, 0.0]), 10.0))
    1.0
    """
    pos = np.asarray(pos, dtype=np.float64)
    return _entropy_of(pos, np.broadcast_to(np.asarray(w, dtype=np.float64), pos.shape)).sum(-1)


def split_merit(
    parent_pos: np.ndarray,
    parent_w: np.ndarray | float,
    left_pos: np.ndarray,
    left_w: np.ndarray,
    right_pos: np.ndarray,
    right_w: np.ndarray,
) -> np.ndarray:
    """Information gain of a binary split, summed over labels (last axis).

    ``left_w`` / ``right_w`` may differ per label (they are per-label estimates of the children's
    weights); each label's children entropies are weighted by its own child weights over
    ``left_w + right_w``. merit = H(parent) - sum_children (w_child / w) H(child).

    Examples
    --------
    >>> pp = np.array([5.0]); lp = np.array([5.0]); rp = np.array([0.0])
    >>> float(split_merit(pp, 10.0, lp, np.array([5.0]), rp, np.array([5.0])))
    1.0
    """
    parent_pos = np.asarray(parent_pos, dtype=np.float64)
    left_w = np.asarray(left_w, dtype=np.float64)
    right_w = np.asarray(right_w, dtype=np.float64)
    tot = left_w + right_w
    with np.errstate(divide="ignore", invalid="ignore"):
        fl = np.where(tot > 0, left_w / tot, 0.0)
    children = fl * _entropy_of(left_pos, left_w) + (1.0 - fl) * _entropy_of(right_pos, right_w)
    h_parent = _entropy_of(
        parent_pos, np.broadcast_to(np.asarray(parent_w, dtype=np.float64), parent_pos.shape)
    )
    return (h_parent - children).sum(-1)


def label_set_range(n_label_sets: int) -> float:
    """The range R of the merit used in the Hoeffding bound: log2(#distinct label sets), >= 1."""
    return max(1.0, math.log2(max(n_label_sets, 1)))


