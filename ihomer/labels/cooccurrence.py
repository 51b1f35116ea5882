"""Label co-occurrence statistics and the Jaccard distance between labels.

This module owns the counts the label hierarchy is built from: ``n`` (instances), ``n1[a]``
(instances where label ``a`` is present) and ``n11[a, b]`` (instances where both are present),
kept in one dense symmetric matrix over every label seen (``n1`` on its diagonal) and updated
sparsely: an instance with ``k`` present labels touches ``k * k`` cells, never ``L * L``.

Per-cluster statistics "since the cluster was (re)activated" are *windows*: a snapshot of the
cluster's block taken when it opened; the window's counts are the current counts minus the
snapshot. Fading (a factor ``f`` per instance) is lazy: instance ``t`` is added with the unscaled
weight ``f ** -t`` and every read divides by the current weight, so no step rescales the matrix
(except a rare renormalisation before the weights overflow).

It must not know about trees, partitions or learners.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

__all__ = ["CooccurrenceStats", "jaccard_distance"]

_RENORMALISE_ABOVE = 1e100  # rescale everything before the unscaled weights overflow
_TINY = 1e-12  # denominators below this (rounding residue) count as 0: distance 1


def jaccard_distance(counts: np.ndarray) -> np.ndarray:
    """Pairwise Jaccard distances from a symmetric co-occurrence block.

    ``counts[a, b]`` is ``n11`` for ``a != b`` and ``n1[a]`` on the diagonal. The distance is
    ``1 - n11 / (n1[a] + n1[b] - n11)``, and 1 (similarity 0) where the denominator is 0.

    Examples
    --------
    >>> c = np.array([[4.0, 2.0, 0.0], [2.0, 3.0, 0.0], [0.0, 0.0, 0.0]])
    >>> jaccard_distance(c).round(3).tolist()
    [[0.0, 0.6, 1.0], [0.6, 0.0, 1.0], [1.0, 1.0, 1.0]]
    """
    n1 = np.diagonal(counts)
    den = n1[:, None] + n1[None, :] - counts
    sim = np.zeros_like(den)
    np.divide(counts, den, out=sim, where=den > _TINY)
    np.clip(sim, 0.0, 1.0, out=sim)
    return 1.0 - sim


class CooccurrenceStats:
    """Faded label co-occurrence counts with per-cluster windows.

    Labels are integers ``0, 1, ...`` handed out by :meth:`add_label`. Counts read back are
    "effective" counts: with ``fading = f`` an instance seen ``m`` instances ago weighs ``f ** m``.

    Parameters
    ----------
    fading
        Factor in (0, 1] applied to every past instance at each new instance (1: no fading).

    Examples
    --------
    >>> s = CooccurrenceStats()
    >>> a, b = s.add_label(), s.add_label()
    >>> s.update([a, b]); s.update([a])
    >>> s.open_window("w", [a, b])
    >>> s.update([b])
    >>> s.counts([a, b])[0].tolist(), s.window("w")[0].tolist(), s.window("w")[1]
    ([[2.0, 1.0], [1.0, 2.0]], [[0.0, 0.0], [0.0, 1.0]], 1.0)
    """

    def __init__(self, fading: float = 1.0) -> None:
        if not 0.0 < fading <= 1.0:
            raise ValueError(f"CooccurrenceStats: fading must be in (0, 1], got {fading!r}")
        self.fading = float(fading)
        self._inv_fading = 1.0 / self.fading
        self._m = np.zeros((8, 8))
        self._flat = self._m.reshape(-1)
        self._n_labels = 0
        self._w = 1.0  # unscaled weight of the latest instance: effective = unscaled / _w
        self._n = 0.0  # unscaled number of instances
        self._windows: dict[Hashable, list] = {}  # key -> [gids (ndarray), snapshot, n at open]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_flat"]  # a view of _m: rebuilt on load (a pickled view would be a copy)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._flat = self._m.reshape(-1)

    # -- labels and updates -------------------------------------------------------------------
    @property
    def n_labels(self) -> int:
        return self._n_labels

    @property
    def n(self) -> float:
        """Effective number of instances (all of them when ``fading == 1``)."""
        return self._n / self._w

    def add_label(self) -> int:
        """Register a new label (all counts 0) and return its index."""
        g = self._n_labels
        cap = self._m.shape[0]
        if g >= cap:
            grown = np.zeros((2 * cap, 2 * cap))
            grown[:cap, :cap] = self._m
            self._m = grown
            self._flat = grown.reshape(-1)
        self._n_labels = g + 1
        return g

    def update(self, present: Sequence[int]) -> None:
        """Count one instance whose present labels are ``present`` (distinct indices)."""
        if self.fading != 1.0:
            self._w *= self._inv_fading
            if self._w > _RENORMALISE_ABOVE:
                self._rescale(1.0 / self._w)
        w = self._w
        self._n += w
        k = len(present)
        if k == 1:
            g = present[0]
            self._m[g, g] += w
        elif k:
            a = np.fromiter(present, dtype=np.intp, count=k)
            flat = (a * self._m.shape[0])[:, None] + a
            self._flat[flat] += w

    def discount(self, factor: float) -> None:
        """Multiply every count accumulated so far (and every window) by ``factor`` in [0, 1]."""
        if not 0.0 <= factor <= 1.0:
            raise ValueError(
                f"CooccurrenceStats.discount: factor must be in [0, 1], got {factor!r}"
            )
        self._rescale(factor, keep_weight=True)

    def _rescale(self, s: float, keep_weight: bool = False) -> None:
        L = self._n_labels
        self._m[:L, :L] *= s
        self._n *= s
        for win in self._windows.values():
            win[1] *= s
            win[2] *= s
        if not keep_weight:
            self._w *= s

    # -- reads ---------------------------------------------------------------------------------
    def counts(self, gids: Sequence[int]) -> tuple[np.ndarray, float]:
        """Effective co-occurrence block over ``gids`` (``n1`` on the diagonal) and ``n``."""
        a = np.asarray(gids, dtype=np.intp)
        return self._m[np.ix_(a, a)] / self._w, self._n / self._w

    def distance_rows(self, gids: Sequence[int]) -> np.ndarray:
        """Jaccard distances (effective counts) from each of ``gids`` to every label."""
        L = self._n_labels
        a = np.asarray(gids, dtype=np.intp)
        rows = self._m[a, :L]
        n1 = np.diagonal(self._m)[:L]
        den = n1[a][:, None] + n1[None, :] - rows
        sim = np.zeros_like(den)
        np.divide(rows, den, out=sim, where=den > _TINY * self._w)
        np.clip(sim, 0.0, 1.0, out=sim)
        return 1.0 - sim

    # -- windows -------------------------------------------------------------------------------
    def open_window(self, key: Hashable, gids: Sequence[int]) -> None:
        """Start counting, for the labels ``gids``, from now on (replaces a window of that key)."""
        a = np.asarray(gids, dtype=np.intp)
        self._windows[key] = [a, self._m[np.ix_(a, a)].copy(), self._n]

    def extend_window(self, key: Hashable, gids: Sequence[int]) -> None:
        """Add labels to a window; their counts in it start now."""
        win = self._windows[key]
        new = np.asarray(gids, dtype=np.intp)
        old = win[0]
        a = np.concatenate([old, new])
        snap = self._m[np.ix_(a, a)].copy()  # new rows/columns: the current counts (start now)
        snap[: len(old), : len(old)] = win[1]
        win[0], win[1] = a, snap

    def close_window(self, key: Hashable) -> None:
        self._windows.pop(key, None)

    def window(self, key: Hashable) -> tuple[np.ndarray, float]:
        """Effective co-occurrence block of a window (its labels' order) and its ``n``."""
        a, snap, n0 = self._windows[key]
        block = (self._m[np.ix_(a, a)] - snap) / self._w
        return block, (self._n - n0) / self._w

    def memory_bytes(self) -> int:
        """Bytes held by the count matrix and the window snapshots."""
        return int(self._m.nbytes + sum(w[0].nbytes + w[1].nbytes for w in self._windows.values()))
