"""Refinement of the ODAC leaves into the learning partition, and the partition invariant.

ODAC tends to split down to tiny clusters; the partition iHOMER learns with merges every leaf
smaller than ``min_size`` into its nearest other cluster (mean pairwise Jaccard distance; ties
broken by tree distance, then by the earliest label), deepest first, until no cluster is smaller
than ``min_size`` or only one remains. Clusters are only ever merged, never dropped, so every
label of the leaves is in exactly one cluster of the result (:func:`check_partition`).

It must not know how distances are counted or how the tree is grown: it gets the leaves, their
paths in the tree and a function giving the (sparse) pairwise Jaccard similarities; a pair not
given is at distance 1. Its cost follows the pairs given and ``small leaves × leaves``, never
``labels²``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["refine_partition", "check_partition"]

_TIE = 1e-9


def _common_depth(rows: np.ndarray, path: np.ndarray) -> np.ndarray:
    """Length of the common prefix of each padded path of ``rows`` with ``path`` (-1: padding).

    >>> _common_depth(np.array([[0, 1, 3], [0, 2, -1]]), np.array([0, 1, 4]))
    array([2, 1])
    """
    same = (rows == path[None, :]) & (path[None, :] >= 0)
    return np.cumprod(same, axis=1).sum(axis=1)


def refine_partition(
    groups: Sequence[Sequence[int]],
    paths: Sequence[tuple[int, ...]],
    min_size: int,
    similarities: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]],
    keep_apart: int | None = None,
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
    similarities
        ``similarities()`` returns ``(a, b, sim)``: label pairs (each unordered pair at most once,
        ``a != b``) and their Jaccard similarity; every pair not given has similarity 0
        (distance 1). Called only when some cluster is small.
    keep_apart
        A small cluster of at least this many labels that has no similarity to any other
        cluster (mean distance 1 to all) is left as it is: only the tree could place it, and
        it would join unrelated labels. None: every small cluster is merged (the paper's rule).

    Returns
    -------
    list of sorted lists of labels, ordered by their smallest label.

    Examples
    --------
    >>> pairs = np.array([0, 0, 0, 1, 1, 2]), np.array([1, 2, 3, 2, 3, 3])
    >>> sim = np.array([.9, .1, .1, .1, .1, .2])  # 1 - distance
    >>> refine_partition([[0], [1], [2, 3]], [(0, 1, 3), (0, 1, 4), (0, 2)], 2,
    ...                  lambda: (*pairs, sim))
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
    # Similarity sums R[r, j] = sum of sim(a, b), a in small group small[r], b in group j: rows
    # only for the groups that start small (only they can ever be merged *from*; a merge into a
    # small group keeps a valid row, a merge into a large group makes a large group). The mean
    # distance between groups s and j is 1 - R[s, j] / (|s| |j|).
    row_of = np.full(g, -1, dtype=np.intp)
    row_of[small] = np.arange(len(small))
    R = np.zeros(len(small) * g)
    a, b, sim = similarities()
    ga, gb = group_of[np.asarray(a, dtype=np.intp)], group_of[np.asarray(b, dtype=np.intp)]
    for x, y in ((ga, gb), (gb, ga)):
        r = row_of[x]
        sel = (r >= 0) & (x != y)
        R += np.bincount(r[sel] * g + y[sel], weights=sim[sel], minlength=R.size)
    R = R.reshape(len(small), g)

    size = np.asarray(sizes, dtype=float)
    alive = np.ones(g, dtype=bool)
    n_alive = g
    members = [sorted(x) for x in groups]
    depth = np.array([len(p) for p in paths], dtype=np.intp)
    # the paths as a padded matrix: tree distance to every cluster at once
    anchor = np.full((g, max(1, int(depth.max()))), -1, dtype=np.int64)
    for i, p in enumerate(paths):
        anchor[i, : len(p)] = p
    first = np.array([m[0] if m else -1 for m in members], dtype=float)
    settled = np.zeros(g, dtype=bool)  # left apart (keep_apart)
    while n_alive > 1:
        cand = np.flatnonzero(alive & (size < min_size) & ~settled)
        if not cand.size:
            break
        # deepest first; then the smallest; then the earliest label (lexsort: last key first)
        s = int(cand[np.lexsort((first[cand], size[cand], -depth[cand]))[0]])
        mean = 1.0 - R[row_of[s]] / (size[s] * np.maximum(size, 1.0))
        mean[~alive] = np.inf
        mean[s] = np.inf
        best = mean.min()
        if keep_apart is not None and size[s] >= keep_apart and best >= 1.0 - _TIE:
            settled[s] = True
            continue
        tied = np.flatnonzero(mean <= best + _TIE)
        if tied.size > 1:
            common = _common_depth(anchor[tied], anchor[s])
            dist = depth[s] + depth[tied] - 2 * common
            t = int(tied[np.lexsort((first[tied], dist))[0]])
        else:
            t = int(tied[0])
        # merge s into t
        R[:, t] += R[:, s]
        if row_of[t] >= 0:
            R[row_of[t]] += R[row_of[s]]
        size[t] += size[s]
        alive[s] = False
        members[t] = sorted(members[t] + members[s])
        c = int(_common_depth(anchor[t : t + 1], anchor[s])[0])
        anchor[t, c:] = -1
        depth[t] = c
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
