"""Partition refinement: merges small leaves into the nearest cluster, never drops one."""

from __future__ import annotations

import numpy as np
import pytest

from ihomer.labels.partition import check_partition, refine_partition


def rows_of(D: np.ndarray):
    """The ``similarities`` callable of a dense distance matrix: its pairs ``a < b`` with
    similarity ``1 - D`` (pairs at distance 1 left out, as the sparse counts leave them)."""
    a, b = np.triu_indices(D.shape[0], 1)
    sim = 1.0 - D[a, b]
    keep = sim > 0
    return lambda: (a[keep], b[keep], sim[keep])


def block_distances(blocks: list[list[int]], n: int, near: float = 0.1, far: float = 0.95):
    D = np.full((n, n), far)
    for b in blocks:
        D[np.ix_(b, b)] = near
    np.fill_diagonal(D, 0.0)
    return D


def test_nothing_to_do_when_all_large_enough():
    groups = [[2, 3], [0, 1]]
    out = refine_partition(groups, [(0, 1), (0, 2)], 2, rows_of(np.zeros((4, 4))))
    assert out == [[0, 1], [2, 3]]


def test_small_leaves_join_their_nearest_cluster_by_mean_distance():
    # true blocks {0,1,2} and {3,4,5}; leaves cut across the tree: {0,1}, {3,4,5}, {2}
    D = block_distances([[0, 1, 2], [3, 4, 5]], 6)
    groups = [[0, 1], [3, 4, 5], [2]]
    paths = [(0, 1, 3), (0, 1, 4), (0, 2)]  # {2} is a sibling of neither: tree would say {0,1}
    out = refine_partition(groups, paths, 3, rows_of(D))
    assert out == [[0, 1, 2], [3, 4, 5]]


def test_deepest_first_and_tree_distance_breaks_ties():
    D = np.ones((4, 4))  # every distance 1: only the tree can decide
    np.fill_diagonal(D, 0.0)
    groups = [[0], [1], [2, 3]]
    paths = [(0, 1, 3), (0, 1, 4), (0, 2)]
    out = refine_partition(groups, paths, 2, rows_of(D))
    assert out == [[0, 1], [2, 3]]  # {0} (deepest) joins its sibling {1}


def test_stops_at_one_cluster_and_never_drops_labels():
    D = block_distances([[0], [1], [2]], 3)
    out = refine_partition([[0], [1], [2]], [(0, 1), (0, 2, 3), (0, 2, 4)], 10, rows_of(D))
    assert out == [[0, 1, 2]]


@pytest.mark.parametrize("seed", range(20))
def test_random_refinements_keep_the_invariant(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    perm = rng.permutation(n).tolist()
    cuts = sorted(rng.choice(np.arange(1, n), size=min(n - 1, int(rng.integers(0, 8))),
                             replace=False).tolist()) if n > 1 else []
    groups = [perm[a:b] for a, b in zip([0] + cuts, cuts + [n], strict=True)]
    paths = [tuple([0] + rng.integers(1, 5, size=int(rng.integers(0, 5))).tolist()) for _ in groups]
    x = rng.random((n, n))
    D = (x + x.T) / 2
    min_size = int(rng.integers(1, 8))
    out = refine_partition(groups, paths, min_size, rows_of(D))
    check_partition(out, n)
    assert len(out) == 1 or all(len(c) >= min_size for c in out)
    # clusters only grow: every input leaf is inside one output cluster
    where = {g: i for i, c in enumerate(out) for g in c}
    assert all(len({where[g] for g in grp}) == 1 for grp in groups)


def test_check_partition_reports_missing_and_duplicated():
    check_partition([[1], [0, 2]], 3)
    with pytest.raises(ValueError, match="label 1 is in 0 clusters"):
        check_partition([[0], [2]], 3)
    with pytest.raises(ValueError, match="label 0 is in 2 clusters"):
        check_partition([[0, 1], [0, 2]], 3)
    with pytest.raises(ValueError, match="unknown label 7"):
        check_partition([[0, 1, 2, 7]], 3)


def test_keep_apart_leaves_an_unrelated_cluster_alone():
    # {0..4} and {5..9} never co-occur with anything else; {10} is related to {5..9}
    D = block_distances([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9, 10]], 11, near=0.2, far=1.0)
    groups = [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10]]
    paths = [(0, 1), (0, 2, 3), (0, 2, 4)]
    merged = refine_partition(groups, paths, 6, rows_of(D))
    assert merged == [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]  # the paper's rule: down to one
    kept = refine_partition(groups, paths, 6, rows_of(D), keep_apart=4)
    assert kept == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9, 10]]
    check_partition(kept, 11)
    # a small cluster below keep_apart is still merged, by tree distance when nothing is similar
    alone = refine_partition([[0, 1, 2, 3, 4], [5]], [(0, 1), (0, 2)], 3,
                             rows_of(1.0 - np.eye(6)), keep_apart=4)
    assert alone == [[0, 1, 2, 3, 4, 5]]
