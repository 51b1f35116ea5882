"""ODAC over labels: the split / merge tests and the binary tree of label clusters.

This module owns the online divisive-agglomerative clustering decisions (Rodrigues, Gama &
Pedroso, 2008) applied to labels with the Jaccard distance: the cluster diameters ``d1`` (largest
pairwise distance, its pair = the pivots), ``d2`` (second largest), ``d0`` (smallest) and ``d̄``
(mean pairwise distance, **over the pairs**), the Hoeffding bound, the split and aggregate (merge)
conditions, and the tree itself (which labels each active cluster holds, parents, depths).
Two documented extensions cover what the ODAC test cannot see with a distance that saturates at 1
(labels that never meet): :func:`separable` and :func:`isolated_labels`.

It must not know about counting (see :mod:`ihomer.labels.cooccurrence`) or about the learning
partition (see :mod:`ihomer.labels.partition`). Labels are integer indices here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ihomer.hoeffding import hoeffding_bound
from ihomer.labels.cooccurrence import pair_indices

__all__ = [
    "Diameters",
    "diameters",
    "hoeffding_bound",
    "split_condition",
    "merge_condition",
    "isolated_labels",
    "separable",
    "assign_to_pivots",
    "sparse_diameters",
    "components",
    "Node",
    "LabelTree",
]


@dataclass(frozen=True)
class Diameters:
    """Summary of a cluster's pairwise distances; ``pivots`` index the cluster's labels."""

    d1: float
    d2: float
    d0: float
    dbar: float
    pivots: tuple[int, int]
    n_pairs: int




def diameters(dist: np.ndarray) -> Diameters:
    """``d1``, ``d2``, ``d0`` and the mean ``d̄`` over the ``k(k-1)/2`` pairs of a ``k × k``
    symmetric distance matrix (``k >= 2``; the diagonal is ignored).

    With one pair, ``d2 = d1``. Ties for ``d1`` go to the first pair in row-major order.

    Examples
    --------
    >>> d = np.array([[0, .2, .9], [.2, 0, .5], [.9, .5, 0]])
    >>> m = diameters(d)
    >>> (m.d1, m.d2, m.d0, round(m.dbar, 4), m.pivots)
    (0.9, 0.5, 0.2, 0.5333, (0, 2))
    """
    k = dist.shape[0]
    if k < 2:
        raise ValueError(f"diameters: need at least 2 labels, got {k}")
    iu, ju = pair_indices(k)
    d = dist[iu, ju]
    p = int(np.argmax(d))
    d1 = float(d[p])
    d2 = float(np.partition(d, -2)[-2]) if d.size > 1 else d1
    return Diameters(
        d1=d1,
        d2=d2,
        d0=float(d.min()),
        dbar=float(d.sum() / d.size),  # mean over PAIRS, never over instances
        pivots=(int(iu[p]), int(ju[p])),
        n_pairs=int(d.size),
    )


def sparse_diameters(k: int, i: np.ndarray, j: np.ndarray, d: np.ndarray) -> Diameters:
    """:func:`diameters` of a ``k``-label cluster given only the pairs ``(i, j)`` (``i < j``,
    distinct) whose distance ``d`` may be below 1; every other pair is at distance 1.

    Costs O(pairs given), not O(k²). ``pivots``: the farthest pair given when ``d1 < 1``; with
    ``d1 = 1`` reached by a pair not given, the first such pair in row-major order.

    >>> dd = np.array([[0, .2, 1], [.2, 0, .5], [1, .5, 0]])
    >>> sparse_diameters(3, np.array([0, 1]), np.array([1, 2]), np.array([.2, .5])) == diameters(dd)
    True
    """
    if k < 2:
        raise ValueError(f"sparse_diameters: need at least 2 labels, got {k}")
    n_pairs = k * (k - 1) // 2
    n_far = n_pairs - int(d.size)  # pairs not given: distance 1
    top = np.sort(d)[::-1][:2] if d.size else np.zeros(0)
    ones = np.ones(min(2, n_far))
    best = np.sort(np.concatenate([top, ones]))[::-1]
    d1 = float(best[0])
    d2 = float(best[1]) if best.size > 1 else d1
    d0 = float(d.min()) if d.size else 1.0
    if n_far:
        d0 = min(d0, 1.0)
    dbar = (float(d.sum()) + n_far) / n_pairs
    codes = i[d >= d1].astype(np.int64) * k + j[d >= d1]
    first = int(codes.min()) if codes.size else n_pairs * k
    if n_far:  # d1 = 1: a pair not given may come first
        a, b = _first_missing(k, i, j)
        first = min(first, a * k + b)
    pivots = (first // k, first % k)
    return Diameters(d1=d1, d2=d2, d0=d0, dbar=dbar, pivots=pivots, n_pairs=n_pairs)


def _first_missing(k: int, i: np.ndarray, j: np.ndarray) -> tuple[int, int]:
    """The first pair ``(a, b)``, ``a < b``, in row-major order that is not among ``(i, j)``."""
    code = np.sort(i.astype(np.int64) * k + j)
    per_row = np.bincount(i, minlength=k)
    # row a holds k - 1 - a pairs; the first row with a missing pair
    full = per_row[: k - 1] == np.arange(k - 1, 0, -1)
    a = int(np.argmin(full)) if not full.all() else k - 1
    row = code[(code >= a * k) & (code < (a + 1) * k)] - a * k
    b = a + 1
    for c in row.tolist():  # sorted: the first gap
        if c != b:
            break
        b += 1
    return a, b


def components(k: int, i: np.ndarray, j: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected components of the graph over ``k`` labels with edges ``(i, j)``.

    Returns the number of components and each label's component, numbered in the order of
    their first label.

    >>> components(5, np.array([0, 3]), np.array([2, 4]))
    (3, array([0, 1, 0, 2, 2]))
    """
    root = np.arange(k, dtype=np.intp)
    if i.size:
        i = np.asarray(i, dtype=np.intp)
        j = np.asarray(j, dtype=np.intp)
        while True:  # min-label propagation with pointer jumping: O(log k) rounds, mostly
            low = np.minimum(root[i], root[j])
            new = root.copy()
            np.minimum.at(new, i, low)
            np.minimum.at(new, j, low)
            np.minimum.at(new, root, new)  # a root takes the smallest label seen by its members
            new = new[new]
            if np.array_equal(new, root):
                break
            root = new
    # root[g] is now the smallest label of g's component; number components by it
    uniq, comp = np.unique(root, return_inverse=True)
    return int(uniq.size), comp.reshape(-1).astype(np.intp)


def split_condition(m: Diameters, eps: float, tau: float) -> bool:
    """ODAC split test: ``(d1 - d2 > ε or τ > ε) and (d1 - d0)·|d1 + d0 - 2·d̄| > ε``."""
    return (m.d1 - m.d2 > eps or tau > eps) and (m.d1 - m.d0) * abs(
        m.d1 + m.d0 - 2.0 * m.dbar
    ) > eps


def isolated_labels(dist: np.ndarray, eps: float, tau: float) -> np.ndarray:
    """Boolean mask of the labels that hardly co-occur with any other label of their cluster:
    their Jaccard *similarity* ``1 - d`` to every other label is below ``τ`` by more than ``ε``.

    An extension of ODAC for a saturating distance: the ODAC test cannot see them when all the
    cluster's pairs are (about) equally far (``d1 ≈ d0``, e.g. a pair or a group of unrelated
    labels) or when one outlier makes ``d1 + d0 ≈ 2·d̄``; such a label, once placed, would stay
    in a cluster it has no reason to be in.

    >>> d = np.array([[0, .1, 1], [.1, 0, .98], [1, .98, 0]])
    >>> isolated_labels(d, 0.05, 0.1).tolist()
    [False, False, True]
    """
    sim = 1.0 - dist
    np.fill_diagonal(sim, -np.inf)
    return sim.max(axis=1) < tau - eps


def separable(dist: np.ndarray, mask: np.ndarray, eps: float, tau: float) -> bool:
    """True when the two sides of ``mask`` hardly co-occur: the Jaccard *similarity* of every
    pair across the sides is below ``τ`` by more than ``ε``.

    An extension of ODAC (see :func:`isolated_labels`): the ODAC test also misses two groups of
    labels that never meet when the near and far pairs balance (``d1 + d0 ≈ 2·d̄``).

    >>> d = np.array([[0, .1, 1, 1], [.1, 0, 1, .97], [1, 1, 0, .2], [1, .97, .2, 0]])
    >>> separable(d, np.array([True, True, False, False]), 0.05, 0.1)
    True
    """
    cross = dist[np.ix_(mask, ~mask)]
    return bool(cross.size) and float(1.0 - cross.min()) < tau - eps


def merge_condition(d1_leaf: float, eps_leaf: float, d1_parent: float, eps_parent: float) -> bool:
    """ODAC aggregate test: the leaf's ``d1`` exceeds its parent's ``d1`` at split time by more
    than ``max(ε_leaf, ε_parent)``."""
    return d1_leaf - d1_parent > max(eps_leaf, eps_parent)


def assign_to_pivots(dist: np.ndarray, i: int, j: int) -> np.ndarray:
    """Boolean mask over the cluster's labels: True for the child of pivot ``i``.

    Every label joins the nearer pivot. A label as far from both pivots (typically it never
    co-occurs with either: distance 1 to both, the common case among many rare labels) joins the
    side whose other members are nearer on average; a label with no information either way
    joins the smaller side, so such labels are shared out instead of all following pivot ``i``
    (which made the hierarchy a caterpillar of tiny leaves that the refinement merged back into
    one giant cluster).

    >>> d = np.array([[0, 1, .2, 1, 1], [1, 0, 1, .3, 1], [.2, 1, 0, 1, 1],
    ...               [1, .3, 1, 0, .4], [1, 1, 1, .4, 0]])
    >>> assign_to_pivots(d, 0, 1).tolist()
    [True, False, True, False, False]
    """
    di, dj = dist[:, i], dist[:, j]
    mask = di < dj
    tied = di == dj
    mask[i], mask[j] = True, False
    tied[i] = tied[j] = False
    if tied.any():
        left = mask & ~tied
        right = ~mask & ~tied
        t = np.flatnonzero(tied)
        ml = dist[np.ix_(t, left)].mean(axis=1)
        mr = dist[np.ix_(t, right)].mean(axis=1)
        mask[t[ml < mr]] = True
        undecided = t[ml == mr]
        if undecided.size:
            n_left = int(np.count_nonzero(mask)) - int(np.count_nonzero(mask[undecided]))
            n_right = dist.shape[0] - n_left - undecided.size
            # fill the smaller side first, then alternate
            k_left = max(0, min(undecided.size, (undecided.size + n_right - n_left + 1) // 2))
            mask[undecided] = False
            mask[undecided[:k_left]] = True
    return mask


class Node:
    """A cluster of the hierarchy. Active nodes (leaves) hold their labels; ``d1_split`` and
    ``eps_split`` are recorded when a node splits (for the merge test of its children).
    ``unplaced``: its labels had no co-occurrence evidence when it was made (the root, and the
    group of labels a components split could not place)."""

    __slots__ = (
        "id", "parent", "depth", "children", "labels", "d1_split", "eps_split", "due", "unplaced",
    )

    def __init__(self, node_id: int, parent: int | None, depth: int, labels: list[int]) -> None:
        self.id = node_id
        self.parent = parent
        self.depth = depth
        self.children: tuple[int, ...] | None = None
        self.labels = labels
        self.d1_split = math.nan
        self.eps_split = math.nan
        self.due = 0  # instance count at which this leaf is checked next
        self.unplaced = parent is None

    @property
    def active(self) -> bool:
        return self.children is None

    def __getstate__(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state: dict) -> None:
        state.setdefault("unplaced", state.get("parent") is None)  # older pickles
        for k, v in state.items():
            setattr(self, k, v)


class LabelTree:
    """A binary tree of label clusters whose leaves partition the labels.

    Examples
    --------
    >>> t = LabelTree()
    >>> for g in range(4):
    ...     t.add_label(g, t.root)
    >>> left, right = t.split(t.root, [0, 2], [1, 3], d1=0.9, eps=0.05)
    >>> [n.labels for n in t.leaves()], t.leaf_of(2) == left
    ([[0, 2], [1, 3]], True)
    >>> t.merge(t.root) == t.root, [n.labels for n in t.leaves()]
    (True, [[0, 1, 2, 3]])
    """

    def __init__(self) -> None:
        self.root = 0
        self.nodes: dict[int, Node] = {0: Node(0, None, 0, [])}
        self._leaf_of: list[int] = []  # label index -> id of the active node holding it
        self._next_id = 1

    def leaf_of(self, g: int) -> int:
        return self._leaf_of[g]

    def leaves(self) -> list[Node]:
        """Active nodes, ordered by their earliest label (empty root last)."""
        out = [n for n in self.nodes.values() if n.children is None]
        out.sort(key=lambda n: n.labels[0] if n.labels else math.inf)
        return out

    def path(self, node_id: int) -> tuple[int, ...]:
        """Node ids from the root down to ``node_id``."""
        out = []
        cur: int | None = node_id
        while cur is not None:
            out.append(cur)
            cur = self.nodes[cur].parent
        return tuple(reversed(out))

    def add_label(self, g: int, leaf_id: int) -> None:
        """Put the new label ``g`` (the next index) into the active node ``leaf_id``."""
        if g != len(self._leaf_of):
            raise ValueError(f"LabelTree.add_label: expected label {len(self._leaf_of)}, got {g}")
        node = self.nodes[leaf_id]
        if not node.active:
            raise ValueError(f"LabelTree.add_label: node {leaf_id} is not active")
        node.labels.append(g)
        self._leaf_of.append(leaf_id)

    def split(
        self, leaf_id: int, left: list[int], right: list[int], *, d1: float, eps: float
    ) -> tuple[int, int]:
        """Replace an active node by two children holding ``left`` and ``right``."""
        a, b = self.split_many(leaf_id, [left, right], d1=d1, eps=eps)
        return a, b

    def split_many(
        self, leaf_id: int, groups: list[list[int]], *, d1: float, eps: float
    ) -> tuple[int, ...]:
        """Replace an active node by one child per group (two or more, non-empty, together the
        node's labels)."""
        node = self.nodes[leaf_id]
        flat = sorted(g for x in groups for g in x)
        if len(groups) < 2 or flat != sorted(node.labels) or not all(groups):
            raise ValueError(f"LabelTree.split: {groups} does not split node {leaf_id}")
        ids = []
        for labels in groups:
            child = Node(self._next_id, leaf_id, node.depth + 1, sorted(labels))
            self.nodes[child.id] = child
            for g in child.labels:
                self._leaf_of[g] = child.id
            ids.append(child.id)
            self._next_id += 1
        node.children = tuple(ids)
        node.labels = []
        node.d1_split, node.eps_split = d1, eps
        return tuple(ids)

    def descendants(self, node_id: int) -> list[int]:
        out, stack = [], list(self.nodes[node_id].children or ())
        while stack:
            cur = stack.pop()
            out.append(cur)
            stack.extend(self.nodes[cur].children or ())
        return out

    def merge(self, node_id: int) -> int:
        """Drop every descendant of ``node_id`` and make it active again with their labels."""
        node = self.nodes[node_id]
        labels: list[int] = []
        for d in self.descendants(node_id):
            labels.extend(self.nodes.pop(d).labels)
        node.children = None
        node.labels = sorted(labels) if labels else node.labels
        node.d1_split = node.eps_split = math.nan
        node.unplaced = False
        for g in node.labels:
            self._leaf_of[g] = node_id
        return node_id
