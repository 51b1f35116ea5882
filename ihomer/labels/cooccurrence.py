"""Label co-occurrence statistics and the Jaccard distance between labels.

This module owns the counts the label hierarchy is built from: ``n`` (instances), ``n1[a]``
(instances where label ``a`` is present) and ``n11[a, b]`` (instances where both are present).
``n1`` is a dense vector over the labels seen; ``n11`` is **sparse**: only the pairs that were
ever present together are stored (sorted pair keys and their counts), so memory follows the pairs
seen, never ``L * L``. An instance with ``k`` present labels adds ``k (k - 1) / 2`` pair keys to a
pending buffer (one numpy operation); the buffer is folded into the sorted arrays when it grows
past the stored pairs (amortised) or before a read.

Per-cluster statistics "since the cluster was (re)activated" are *windows*: each window counts,
from the moment it was opened, its labels' ``n1`` and the pairs inside it (the same sparse
scheme). Windows are disjoint (a label is in at most one window), so an instance's present labels
are shared out among the windows holding them. Fading (a factor ``f`` per instance) is lazy:
instance ``t`` is added with the unscaled weight ``f ** -t`` and every read divides by the current
weight, so no step rescales anything (except a rare renormalisation before the weights overflow).

It must not know about trees, partitions or learners.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

__all__ = ["CooccurrenceStats", "PairCounts", "jaccard_distance"]

_RENORMALISE_ABOVE = 1e100  # rescale everything before the unscaled weights overflow
_TINY = 1e-12  # denominators below this (rounding residue) count as 0: distance 1
_SHIFT = np.int64(32)  # pair key = a << 32 | b with a < b
_LOW = np.int64((1 << 32) - 1)
_PAIRS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def pair_indices(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the ``k(k-1)/2`` pairs ``i < j`` of ``k`` items
    (``np.triu_indices(k, 1)``, cached for ``k <= 512``)."""
    got = _PAIRS.get(k)
    if got is None:
        got = np.triu_indices(k, 1)
        if k <= 512:
            _PAIRS[k] = got
    return got


def pair_keys(labels: np.ndarray) -> np.ndarray:
    """Keys ``a << 32 | b`` (``a < b``) of every pair of the distinct label indices ``labels``.

    >>> pair_keys(np.array([5, 2, 9])).tolist() == [2 << 32 | 5, 2 << 32 | 9, 5 << 32 | 9]
    True
    """
    a = np.sort(labels.astype(np.int64, copy=False))
    iu, ju = pair_indices(a.size)
    return (a[iu] << _SHIFT) | a[ju]


def split_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two label indices ``(a, b)``, ``a < b``, of pair keys."""
    return (keys >> _SHIFT).astype(np.intp), (keys & _LOW).astype(np.intp)


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


def jaccard_similarity(n1a: np.ndarray, n1b: np.ndarray, n11: np.ndarray) -> np.ndarray:
    """Jaccard similarities ``n11 / (n1a + n1b - n11)`` of pairs (0 where the denominator is 0).

    >>> jaccard_similarity(np.array([4.0, 0.0]), np.array([3.0, 0.0]), np.array([2.0, 0.0]))
    array([0.4, 0. ])
    """
    den = n1a + n1b - n11
    sim = np.zeros_like(den)
    np.divide(n11, den, out=sim, where=den > _TINY)
    return np.clip(sim, 0.0, 1.0, out=sim)


class PairCounts:
    """Sparse weights of label pairs: sorted unique keys, their weights, and a pending buffer.

    Examples
    --------
    >>> p = PairCounts()
    >>> p.add(pair_keys(np.array([0, 1, 2])), 1.0)
    >>> p.add(pair_keys(np.array([1, 2])), 2.0)
    >>> keys, w = p.items()
    >>> [tuple(map(int, k)) for k in zip(*split_keys(keys))], w.tolist()
    ([(0, 1), (0, 2), (1, 2)], [1.0, 1.0, 3.0])
    """

    __slots__ = ("keys", "weights", "_pending", "_pending_w", "_n_pending")

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.int64)
        self.weights = np.zeros(0)
        self._pending: list[np.ndarray] = []
        self._pending_w: list[float] = []
        self._n_pending = 0

    def __getstate__(self) -> dict:
        self.flush()
        return {"keys": self.keys, "weights": self.weights}

    def __setstate__(self, state: dict) -> None:
        self.keys, self.weights = state["keys"], state["weights"]
        self._pending, self._pending_w, self._n_pending = [], [], 0

    def __len__(self) -> int:
        self.flush()
        return int(self.keys.size)

    def add(self, keys: np.ndarray, w: float) -> None:
        """Add ``w`` to each of ``keys`` (distinct within one call); folded in later."""
        if not keys.size:
            return
        self._pending.append(keys)
        self._pending_w.append(w)
        self._n_pending += keys.size
        if self._n_pending > max(4096, 2 * self.keys.size):
            self.flush()

    def flush(self) -> None:
        """Fold the pending buffer into the sorted arrays."""
        if not self._pending:
            return
        keys = np.concatenate(self._pending)
        w = np.repeat(np.asarray(self._pending_w), [k.size for k in self._pending])
        self._pending, self._pending_w, self._n_pending = [], [], 0
        uniq, inv = np.unique(keys, return_inverse=True)
        sums = np.bincount(inv.reshape(-1), weights=w, minlength=uniq.size)
        if not self.keys.size:
            self.keys, self.weights = uniq, sums
            return
        pos = np.searchsorted(self.keys, uniq)
        found = pos < self.keys.size
        found[found] = self.keys[pos[found]] == uniq[found]
        np.add.at(self.weights, pos[found], sums[found])  # pos distinct: add.at not needed,
        new = ~found  # but it states the intent; the arrays are short
        if new.any():
            self.keys = np.insert(self.keys, pos[new], uniq[new])
            self.weights = np.insert(self.weights, pos[new], sums[new])

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """The keys (sorted) and their weights (unscaled)."""
        self.flush()
        return self.keys, self.weights

    def scale(self, s: float) -> None:
        self.flush()
        self.weights *= s

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.weights.nbytes + 8 * self._n_pending)


class _Window:
    """The counts of one window since it was opened (unscaled weights)."""

    __slots__ = ("gids", "n1", "pairs", "n0", "n_active", "size", "serial")

    def __init__(self, gids: np.ndarray, n0: float, serial: int) -> None:
        self.serial = serial
        self.size = int(gids.size)
        cap = max(8, self.size)
        self.gids = np.zeros(cap, dtype=np.intp)
        self.gids[: self.size] = gids
        self.n1 = np.zeros(cap)
        self.pairs = PairCounts()
        self.n0 = n0
        self.n_active = 0.0  # instances with at least one of its labels present

    def extend(self, gids: np.ndarray) -> None:
        need = self.size + gids.size
        if need > self.gids.size:
            cap = max(need, 2 * self.gids.size)
            self.gids = np.concatenate([self.gids, np.zeros(cap - self.gids.size, np.intp)])
            self.n1 = np.concatenate([self.n1, np.zeros(cap - self.n1.size)])
        self.gids[self.size : need] = gids
        self.size = need


class CooccurrenceStats:
    """Faded label co-occurrence counts (sparse pairs) with per-cluster windows.

    Labels are integers ``0, 1, ...`` handed out by :meth:`add_label`. Counts read back are
    "effective" counts: with ``fading = f`` an instance seen ``m`` instances ago weighs ``f ** m``.
    Memory: ``O(labels + pairs ever present together)``, for the global counts and the windows.

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
        self._n1 = np.zeros(8)
        self._pairs = PairCounts()
        self._n_labels = 0
        self._w = 1.0  # unscaled weight of the latest instance: effective = unscaled / _w
        self._n = 0.0  # unscaled number of instances
        self._windows: dict[Hashable, _Window] = {}
        self._by_serial: dict[int, _Window] = {}
        self._serial = 0
        self._wid = np.full(8, -1, dtype=np.intp)  # label -> serial of the window holding it
        self._pos = np.full(8, -1, dtype=np.intp)  # label -> its position in that window

    def __setstate__(self, state: dict) -> None:
        if "_m" in state:  # a pickle of the dense version: convert its counts
            state = _from_dense_state(state)
        self.__dict__.update(state)

    # -- labels and updates -------------------------------------------------------------------
    @property
    def n_labels(self) -> int:
        return self._n_labels

    @property
    def n(self) -> float:
        """Effective number of instances (all of them when ``fading == 1``)."""
        return self._n / self._w

    @property
    def n_pairs(self) -> int:
        """Number of label pairs ever present together (the stored pairs)."""
        return len(self._pairs)

    def add_label(self) -> int:
        """Register a new label (all counts 0) and return its index."""
        g = self._n_labels
        if g >= self._n1.size:
            cap = self._n1.size
            self._n1 = np.concatenate([self._n1, np.zeros(cap)])
            self._wid = np.concatenate([self._wid, np.full(cap, -1, dtype=np.intp)])
            self._pos = np.concatenate([self._pos, np.full(cap, -1, dtype=np.intp)])
        self._n_labels = g + 1
        return g

    def update(self, present: Sequence[int]) -> None:
        """Count one instance whose present labels are ``present`` (distinct indices).

        Costs O(k²) in the ``k`` present labels (a few numpy operations), never O(labels).
        """
        if self.fading != 1.0:
            self._w *= self._inv_fading
            if self._w > _RENORMALISE_ABOVE:
                self._rescale(1.0 / self._w)
        w = self._w
        self._n += w
        k = len(present)
        if not k:
            return
        if k == 1:
            g = present[0]
            self._n1[g] += w
            s = self._wid[g]
            if s >= 0:
                win = self._by_serial[s]
                win.n1[self._pos[g]] += w
                win.n_active += w
            return
        a = np.sort(np.fromiter(present, dtype=np.intp, count=k))
        self._n1[a] += w
        keys = pair_keys(a)
        self._pairs.add(keys, w)
        wid = self._wid[a]
        lo, hi = wid.min(), wid.max()
        if lo == hi:  # the common case: one window holds them all (or none does)
            if lo >= 0:
                win = self._by_serial[lo]
                win.n1[self._pos[a]] += w
                win.n_active += w
                win.pairs.add(keys, w)
            return
        for s in np.unique(wid).tolist():
            if s < 0:
                continue
            gs = a[wid == s]
            win = self._by_serial[s]
            win.n1[self._pos[gs]] += w
            win.n_active += w
            if gs.size > 1:
                win.pairs.add(pair_keys(gs), w)

    def discount(self, factor: float) -> None:
        """Multiply every count accumulated so far (and every window) by ``factor`` in [0, 1]."""
        if not 0.0 <= factor <= 1.0:
            raise ValueError(
                f"CooccurrenceStats.discount: factor must be in [0, 1], got {factor!r}"
            )
        self._rescale(factor, keep_weight=True)

    def _rescale(self, s: float, keep_weight: bool = False) -> None:
        self._n1 *= s
        self._pairs.scale(s)
        self._n *= s
        for win in self._windows.values():
            win.n1 *= s
            win.pairs.scale(s)
            win.n0 *= s
            win.n_active *= s
        if not keep_weight:
            self._w *= s

    # -- reads ---------------------------------------------------------------------------------
    def n1(self) -> np.ndarray:
        """Effective ``n1`` of every label (a copy)."""
        return self._n1[: self._n_labels] / self._w

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pair ever present together: label indices ``a < b`` and effective ``n11``."""
        keys, w = self._pairs.items()
        a, b = split_keys(keys)
        return a, b, w / self._w

    def similarities(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The pairs of :meth:`pairs` and their Jaccard similarity (effective counts); every other
        pair of labels has similarity 0 (distance 1)."""
        a, b, n11 = self.pairs()
        n1 = self.n1()
        return a, b, jaccard_similarity(n1[a], n1[b], n11)

    def counts(self, gids: Sequence[int]) -> tuple[np.ndarray, float]:
        """Effective co-occurrence block over ``gids`` (``n1`` on the diagonal) and ``n``.

        Dense ``len(gids)²``: for small blocks (tests, inspection)."""
        g = np.asarray(gids, dtype=np.intp)
        a, b, n11 = self.pairs()
        return _dense(g, self.n1()[g], a, b, n11, self._n_labels), self._n / self._w

    def distance_rows(self, gids: Sequence[int]) -> np.ndarray:
        """Jaccard distances (effective counts) from each of ``gids`` to every label (dense
        ``len(gids) × labels``: for small label spaces and tests)."""
        L = self._n_labels
        g = np.asarray(gids, dtype=np.intp)
        a, b, sim = self.similarities()
        where = np.full(L, -1, dtype=np.intp)
        where[g] = np.arange(g.size)
        out = np.ones((g.size, L))
        for x, y in ((a, b), (b, a)):
            sel = where[x] >= 0
            out[where[x[sel]], y[sel]] = 1.0 - sim[sel]
        n1 = self.n1()
        seen = n1[g] > _TINY
        out[np.flatnonzero(seen), g[seen]] = 0.0
        return out

    # -- windows -------------------------------------------------------------------------------
    def open_window(self, key: Hashable, gids: Sequence[int]) -> None:
        """Start counting, for the labels ``gids``, from now on (replaces a window of that key).

        Windows are disjoint: a label already in another window raises ValueError."""
        self.close_window(key)
        a = np.asarray(gids, dtype=np.intp)
        self._claim(a)
        win = _Window(a, self._n, self._serial)
        self._serial += 1
        self._windows[key] = win
        self._by_serial[win.serial] = win
        self._wid[a] = win.serial
        self._pos[a] = np.arange(a.size)

    def extend_window(self, key: Hashable, gids: Sequence[int]) -> None:
        """Add labels to a window; their counts in it start now."""
        win = self._windows[key]
        new = np.asarray(gids, dtype=np.intp)
        self._claim(new)
        start = win.size
        win.extend(new)
        self._wid[new] = win.serial
        self._pos[new] = np.arange(start, start + new.size)

    def _claim(self, gids: np.ndarray) -> None:
        taken = gids[self._wid[gids] >= 0]
        if taken.size or np.unique(gids).size != gids.size:
            raise ValueError(
                f"CooccurrenceStats: labels {taken[:5].tolist()} already in a window (or repeated)"
            )

    def close_window(self, key: Hashable) -> None:
        win = self._windows.pop(key, None)
        if win is not None:
            gids = win.gids[: win.size]
            self._wid[gids] = -1
            self._pos[gids] = -1
            del self._by_serial[win.serial]

    def window_labels(self, key: Hashable) -> np.ndarray:
        win = self._windows[key]
        return win.gids[: win.size].copy()

    def window_pairs(
        self, key: Hashable
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, float]:
        """Sparse counts of a window: ``n1`` (its labels' order), the positions ``i < j`` of the
        pairs present together since it opened, their ``n11``, the window's ``n`` and its
        ``n_active`` (the instances with at least one of its labels present), all effective.
        """
        win = self._windows[key]
        w = self._w
        keys, pw = win.pairs.items()
        a, b = split_keys(keys)
        i, j = self._pos[a], self._pos[b]
        swap = i > j
        i[swap], j[swap] = j[swap], i[swap]
        n = (self._n - win.n0) / w
        return win.n1[: win.size] / w, i, j, pw / w, n, win.n_active / w

    def window(self, key: Hashable) -> tuple[np.ndarray, float]:
        """Effective co-occurrence block of a window (its labels' order) and its ``n`` (dense:
        for the clusters small enough for the dense ODAC test)."""
        n1, i, j, n11, n, _ = self.window_pairs(key)
        block = np.diag(n1)
        block[i, j] = n11
        block[j, i] = n11
        return block, n

    def memory_bytes(self) -> int:
        """Bytes held by the counts (global and windows)."""
        out = self._n1.nbytes + self._pairs.nbytes + self._wid.nbytes + self._pos.nbytes
        for win in self._windows.values():
            out += win.gids.nbytes + win.n1.nbytes + win.pairs.nbytes
        return int(out)


def _dense(
    g: np.ndarray, n1: np.ndarray, a: np.ndarray, b: np.ndarray, n11: np.ndarray, n_labels: int
) -> np.ndarray:
    """Dense block over ``g`` from sparse pairs (``n1`` on the diagonal)."""
    where = np.full(n_labels, -1, dtype=np.intp)
    where[g] = np.arange(g.size)
    sel = (where[a] >= 0) & (where[b] >= 0)
    i, j = where[a[sel]], where[b[sel]]
    block = np.diag(n1.astype(float))
    block[i, j] = n11[sel]
    block[j, i] = n11[sel]
    return block


def _from_dense_state(old: dict) -> dict:
    """The state of a :class:`CooccurrenceStats` pickled by the dense version (an ``L × L``
    matrix ``_m`` and windows ``[gids, snapshot, n0]``), converted. A window's ``n_active`` is
    not known there: it is taken as its ``n`` (the dense version's bound)."""
    fresh = CooccurrenceStats(old["fading"])
    L = int(old["_n_labels"])
    m = np.asarray(old["_m"])[:L, :L]
    for _ in range(L):
        fresh.add_label()
    fresh._n1[:L] = np.diagonal(m)
    fresh._w, fresh._n = float(old["_w"]), float(old["_n"])

    def fill(pairs: PairCounts, block: np.ndarray, gids: np.ndarray) -> None:
        iu, ju = np.triu_indices(block.shape[0], 1)
        v = block[iu, ju]
        keep = v > 0.0
        for x, y, w in zip(gids[iu[keep]], gids[ju[keep]], v[keep], strict=True):
            a, b = (x, y) if x < y else (y, x)
            pairs.add(np.array([a << 32 | b], dtype=np.int64), float(w))
        pairs.flush()

    fill(fresh._pairs, m, np.arange(L, dtype=np.int64))
    for key, (gids, snap, n0) in old["_windows"].items():
        gids = np.asarray(gids, dtype=np.intp)
        fresh.open_window(key, gids)
        win = fresh._windows[key]
        block = m[np.ix_(gids, gids)] - snap
        win.n0 = float(n0)
        win.n1[: gids.size] = np.diagonal(block)
        win.n_active = fresh._n - win.n0
        fill(win.pairs, block, gids.astype(np.int64))
    return fresh.__dict__
