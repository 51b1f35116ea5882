"""Refinement of the ODAC leaves into the learning partition, and the partition invariant.

ODAC tends to split down to tiny clusters; the partition iHOMER learns with merges every leaf
smaller than ``min_size`` into its nearest other cluster (mean pairwise Jaccard distance; ties
broken by tree distance, then by the earliest label), deepest first, until no cluster is smaller
than ``min_size`` or only one remains. Clusters are only ever merged, never dropped, so every
label of the leaves is in exactly one cluster of the result (:func:`check_partition`).

It must not know how distances are counted or how the tree is grown: it gets the leaves, their
paths in the tree and a function giving distance rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["refine_partition", "check_partition"]

_TIE = 1e-9


def _common_prefix(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def refine_partition(
    groups: Sequence[Sequence[int]],
    paths: Sequence[tuple[int, ...]],
    min_size: int,
    distance_rows: Callable[[np.ndarray], np.ndarray],
) -> list[list[int]]:
    """Merge clusters smaller than ``min_size`` into their nearest cluster.

    Parameters
    ----------
    groups
        The leaves: disjoint lists of label indices ``0 .. L-1`` (together, all of them).
    paths
        For each leaf, the node ids from the root down to it (gives depth and tree distance).
    min_size
        Clusters smaller than this are merged (1 or less: nothing to do).
    distance_rows
        ``distance_rows(idx)`` returns the ``len(idx) × L`` Jaccard distances from the labels
        ``idx`` to every label.

    Returns
    -------
    list of sorted lists of labels, ordered by their smallest label.

    Examples
    --------
    >>> D = np.array([[0, .1, .9, .9], [.1, 0, .9, .9], [.9, .9, 0, .8], [.9, .9, .8, 0]])
    >>> refine_partition([[0], [1], [2, 3]], [(0, 1, 3), (0, 1, 4), (0, 2)], 2, lambda i: D[i])
    [[0, 1], [2, 3]]
    """
    g = len(groups)
    sizes = [len(x) for x in groups]
    small = [i for i in range(g) if sizes[i] < min_size]
    if g <= 1 or min_size <= 1 or not small:
        return sorted((sorted(x) for x in groups), key=lambda x: x[0] if x else -1)

    n_labels = sum(sizes)
    group_of = np.empty(n_labels, dtype=np.intp)
    for i, x in enumerate(groups):
        group_of[list(x)] = i
    # Distance sums S[i, j] = sum of d(a, b), a in group i, b in group j: rows only for the
    # groups that start small (only they can ever be merged *from*; a merge into a small group
    # keeps a valid row, a merge into a large group makes a large group).
    src = np.concatenate([np.asarray(groups[i], dtype=np.intp) for i in small])
    rows = distance_rows(src)  # |src| × L
    order = np.argsort(group_of, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
    by_col = np.add.reduceat(rows[:, order], starts, axis=1)  # |src| × g
    row_starts = np.concatenate([[0], np.cumsum([sizes[i] for i in small])[:-1]]).astype(np.intp)
    S = np.zeros((g, g))
    S[small] = np.add.reduceat(by_col, row_starts, axis=0)

    size = np.asarray(sizes, dtype=float)
    alive = np.ones(g, dtype=bool)
    members = [sorted(x) for x in groups]
    anchor = [tuple(p) for p in paths]
    n_alive = g
    depth = np.array([len(x) for x in anchor], dtype=float)
    first = np.array([m[0] if m else -1 for m in members], dtype=float)
    while n_alive > 1:
        cand = np.flatnonzero(alive & (size < min_size))
        if not cand.size:
            break
        # deepest first; then the smallest; then the earliest label (lexsort: last key first)
        s = int(cand[np.lexsort((first[cand], size[cand], -depth[cand]))[0]])
        mean = S[s] / (size[s] * np.maximum(size, 1.0))
        mean[~alive] = np.inf
        mean[s] = np.inf
        best = mean.min()
        tied = np.flatnonzero(mean <= best + _TIE)
        if tied.size > 1:
            a = anchor[s]
            t = min(
                (int(j) for j in tied),
                key=lambda j: (
                    len(a) + len(anchor[j]) - 2 * len(_common_prefix(a, anchor[j])),
                    members[j][0],
                ),
            )
        else:
            t = int(tied[0])
        # merge s into t
        S[:, t] += S[:, s]
        S[t] += S[s]
        size[t] += size[s]
        alive[s] = False
        members[t] = sorted(members[t] + members[s])
        anchor[t] = _common_prefix(anchor[s], anchor[t])
        depth[t] = len(anchor[t])
        first[t] = min(first[t], first[s])
        n_alive -= 1
    out = [members[i] for i in range(g) if alive[i]]
    out.sort(key=lambda x: x[0] if x else -1)
    return out


def check_partition(partition: Sequence[Sequence[int]], n_labels: int, what: str = "") -> None:
    """Raise ValueError unless every label ``0 .. n_labels-1`` is in exactly one cluster.

    >>> check_partition([[0, 2], [1]], 3)
    >>> check_partition([[0, 2], [2]], 3, "partition")
    Traceback (most recent call last):
    ...
    ValueError: partition: label 1 is in 0 clusters; label 2 is in 2 clusters
    """
    count = np.zeros(n_labels, dtype=np.intp)
    bad: list[str] = []
    for cluster in partition:
        for g in cluster:
            if not 0 <= g < n_labels:
                bad.append(f"unknown label {g}")
            else:
                count[g] += 1
    for g in np.flatnonzero(count != 1):
        bad.append(f"label {int(g)} is in {int(count[g])} clusters")
    if bad:
        raise ValueError(f"{what or 'check_partition'}: " + "; ".join(bad))
