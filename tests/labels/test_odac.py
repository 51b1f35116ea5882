"""ODAC decisions over labels: diameters (mean over pairs), Hoeffding bound, split / merge at
their boundaries, hand-made streams through LabelSpace, and the tree operations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ihomer.labels import LabelSpace
from ihomer.labels.odac import (
    Diameters,
    LabelTree,
    assign_to_pivots,
    diameters,
    hoeffding_bound,
    isolated_labels,
    merge_condition,
    split_condition,
)


def dist_matrix(k: int, pairs: dict[tuple[int, int], float]) -> np.ndarray:
    d = np.zeros((k, k))
    for (a, b), v in pairs.items():
        d[a, b] = d[b, a] = v
    return d


def test_diameters_against_brute_force():
    rng = np.random.default_rng(0)
    for k in (2, 3, 5, 9):
        x = rng.random((k, k))
        d = (x + x.T) / 2
        np.fill_diagonal(d, 0.0)
        values = sorted((d[a, b], (a, b)) for a, b in itertools.combinations(range(k), 2))
        m = diameters(d)
        assert m.d1 == values[-1][0] and m.pivots == values[-1][1]
        assert m.d0 == values[0][0]
        assert m.d2 == (values[-2][0] if k > 2 else values[-1][0])
        assert m.dbar == pytest.approx(sum(v for v, _ in values) / len(values))
        assert m.n_pairs == k * (k - 1) // 2


def test_diameters_needs_two_labels():
    with pytest.raises(ValueError, match="at least 2"):
        diameters(np.zeros((1, 1)))


def test_hoeffding_bound_formula():
    for n, delta in [(1, 0.1), (200, 0.1), (1000, 0.05)]:
        expected = math.sqrt(math.log(1 / delta) / (2 * n))
        assert hoeffding_bound(1.0, delta, n) == pytest.approx(expected)
    assert hoeffding_bound(1.0, 0.1, 0) == math.inf


def _m(d1, d2, d0, dbar):
    return Diameters(d1=d1, d2=d2, d0=d0, dbar=dbar, pivots=(0, 1), n_pairs=6)


def test_split_condition_first_factor_boundary():
    # second factor large: (1 - 0) * |1 + 0 - 2 * 0.2| = 0.6
    eps = 0.05
    assert split_condition(_m(1.0, 1.0 - eps - 1e-9, 0.0, 0.2), eps, tau=0.0)  # d1 - d2 > eps
    assert not split_condition(_m(1.0, 1.0 - eps + 1e-9, 0.0, 0.2), eps, tau=0.0)
    assert split_condition(_m(1.0, 1.0, 0.0, 0.2), eps, tau=eps + 1e-9)  # tau > eps
    assert not split_condition(_m(1.0, 1.0, 0.0, 0.2), eps, tau=eps)


def test_split_condition_second_factor_boundary():
    eps = 0.05
    # (d1 - d0) * |d1 + d0 - 2 dbar| with d1 = 1, d0 = 0: |1 - 2 dbar| vs eps
    above = 0.5 - (eps + 1e-6) / 2
    below = 0.5 - (eps - 1e-6) / 2
    assert split_condition(_m(1.0, 0.5, 0.0, above), eps, tau=1.0)
    assert not split_condition(_m(1.0, 0.5, 0.0, below), eps, tau=1.0)
    # both sides of the mean count (absolute value)
    assert split_condition(_m(1.0, 0.5, 0.0, 1.0 - above), eps, tau=1.0)


def test_merge_condition_boundary():
    assert merge_condition(0.9 + 0.05 + 1e-9, 0.05, 0.9, 0.01)
    assert not merge_condition(0.9 + 0.05 - 1e-9, 0.05, 0.9, 0.01)
    assert not merge_condition(0.9 + 0.05 - 1e-9, 0.01, 0.9, 0.05)  # max of the two bounds
    assert merge_condition(0.9 + 0.05 + 1e-9, 0.01, 0.9, 0.05)


def test_assign_to_pivots_nearer_and_ties():
    d = dist_matrix(4, {(0, 1): 1.0, (0, 2): 0.2, (1, 2): 0.8, (0, 3): 0.7, (1, 3): 0.7})
    assert assign_to_pivots(d, 0, 1).tolist() == [True, False, True, True]  # tie -> first pivot
    d[1, 3] = d[3, 1] = 0.6
    assert assign_to_pivots(d, 0, 1).tolist() == [True, False, True, False]


def test_isolated_labels():
    d = dist_matrix(3, {(0, 1): 0.2, (0, 2): 0.97, (1, 2): 0.99})
    assert isolated_labels(d, eps=0.05, tau=0.1).tolist() == [False, False, True]
    assert not isolated_labels(d, eps=0.08, tau=0.1).any()  # 1 - 0.97 is not below 0.1 - 0.08


# -- hand-made streams through LabelSpace ----------------------------------------------------
N_STAR = math.log(1 / 0.1) / (2 * 0.1**2)  # n where eps == tau for delta = tau = 0.1: 115.13


def feed(space: LabelSpace, pattern: list[list[str]], n: int) -> list[tuple[str, dict]]:
    events = []
    for t in range(n):
        events += space.learn(pattern[t % len(pattern)])
    return events


def kinds(events):
    return [k for k, _ in events if k in ("cluster_split", "cluster_merge")]


@pytest.mark.parametrize("n, splits", [(math.floor(N_STAR), False), (math.ceil(N_STAR), True)])
def test_split_at_the_tau_boundary(n, splits):
    # {a,b} and {c,d} never meet: d1 = d2 = 1, so the split relies on tau > eps, i.e. n > 115.13
    space = LabelSpace(n_min=n, fading=1.0, min_size=1)
    events = feed(space, [["a", "b"], ["c", "d"]], n)
    assert kinds(events) == (["cluster_split"] if splits else [])
    if splits:
        detail = dict(events)["cluster_split"]
        assert detail["eps"] < 0.1 and detail["d1"] == 1.0 and detail["d0"] == 0.0
        assert detail["dbar"] == pytest.approx(4 / 6)  # 4 of the 6 pairs at distance 1
        assert sorted(space.leaves) == [("a", "b"), ("c", "d")]
        assert space.partition == [("a", "b"), ("c", "d")]
    else:
        assert space.leaves == [("a", "b", "c", "d")]


def test_mean_over_pairs_not_instances():
    # alternating {a,b}, {b,c}: d(a,b) = d(b,c) = 0.5, d(a,c) = 1. Over pairs d̄ = 2/3 and
    # (d1 - d0)|d1 + d0 - 2 d̄| = 0.5 * 1/6 = 0.083 < eps(116) = 0.0996: no split. Dividing the
    # sum of distances by the number of instances (the reference code's bug) would split.
    n = 116
    space = LabelSpace(n_min=n, fading=1.0, min_size=1)
    events = feed(space, [["a", "b"], ["b", "c"]], n)
    assert kinds(events) == []
    eps = hoeffding_bound(1.0, 0.1, n)
    buggy = Diameters(d1=1.0, d2=0.5, d0=0.5, dbar=2.0 / n, pivots=(0, 2), n_pairs=3)
    assert split_condition(buggy, eps, 0.1)  # the bug would decide differently
    right = Diameters(d1=1.0, d2=0.5, d0=0.5, dbar=2.0 / 3, pivots=(0, 2), n_pairs=3)
    assert not split_condition(right, eps, 0.1)


def test_merge_when_a_leaf_grows_wider_than_its_parent_was():
    # phase 1: {a,b} and {c,d} always together, all four together 1/3 of the time:
    # d(a,b) = d(c,d) = 0, cross distances 2/3 -> the root splits with d1 = 2/3.
    space = LabelSpace(n_min=120, fading=1.0, min_size=1)
    ev1 = feed(space, [["a", "b", "c", "d"], ["a", "b"], ["c", "d"]], 120)
    assert kinds(ev1) == ["cluster_split"]
    assert dict(ev1)["cluster_split"]["d1"] == pytest.approx(2 / 3)
    # phase 2: a and b never together any more: the leaf's d1 becomes 1 > 2/3 + eps -> merge
    ev2 = feed(space, [["a", "c", "d"], ["b", "c", "d"]], 120)
    assert kinds(ev2)[0] == "cluster_merge"
    detail = dict(ev2)["cluster_merge"]
    assert detail["d1"] == 1.0 and detail["parent_d1"] == pytest.approx(2 / 3)
    assert space.n_merges == 1 and space.leaves == [("a", "b", "c", "d")]
    space.check_invariant()


def test_no_merge_when_the_leaf_stays_as_tight():
    space = LabelSpace(n_min=120, fading=1.0, min_size=1)
    feed(space, [["a", "b", "c", "d"], ["a", "b"], ["c", "d"]], 120)
    events = feed(space, [["a", "b", "c", "d"], ["a", "b"], ["c", "d"]], 600)
    assert kinds(events) == [] and space.n_merges == 0 and space.n_splits == 1


def test_isolated_pair_splits_into_singletons():
    # two labels that never co-occur form no cluster (the ODAC test is degenerate for a pair)
    space = LabelSpace(n_min=150, fading=1.0, min_size=1)
    events = feed(space, [["a"], ["b"]], 150)
    assert dict(events)["cluster_split"]["rule"] == "separable"
    assert space.leaves == [("a",), ("b",)]


def test_max_depth_stops_splitting():
    space = LabelSpace(n_min=120, fading=1.0, min_size=1, max_depth=0)
    feed(space, [["a", "b"], ["c", "d"]], 600)
    assert space.n_splits == 0 and space.leaves == [("a", "b", "c", "d")]


# -- tree ------------------------------------------------------------------------------------
def test_tree_split_merge_and_paths():
    t = LabelTree()
    for g in range(6):
        t.add_label(g, t.root)
    left, right = t.split(t.root, [0, 1, 2], [3, 4, 5], d1=1.0, eps=0.1)
    ll, lr = t.split(left, [0], [1, 2], d1=0.5, eps=0.1)
    assert t.path(lr) == (t.root, left, lr) and t.nodes[lr].depth == 2
    assert [n.labels for n in t.leaves()] == [[0], [1, 2], [3, 4, 5]]
    assert sorted(t.descendants(t.root)) == sorted([left, right, ll, lr])
    t.merge(left)
    assert [n.labels for n in t.leaves()] == [[0, 1, 2], [3, 4, 5]]
    assert t.leaf_of(1) == left and ll not in t.nodes
    with pytest.raises(ValueError, match="does not split"):
        t.split(right, [3], [4], d1=1.0, eps=0.1)
    with pytest.raises(ValueError, match="not active"):
        t.add_label(6, t.root)


def test_separable_groups_split_where_the_odac_test_does_not():
    # {a..e} and {f,g} never meet: 11 near pairs, 10 far pairs, so d1 + d0 - 2 d̄ = 1/21 and the
    # ODAC product (0.048) stays below eps(200) = 0.076; the two sides never co-occur: split.
    # (the components rule, tried first by default, would split them the same way: turned off)
    space = LabelSpace(n_min=200, fading=1.0, min_size=1, components_from=10**9)
    events = feed(space, [["a", "b", "c", "d", "e"], ["f", "g"]], 200)
    detail = dict(events)["cluster_split"]
    m = Diameters(detail["d1"], detail["d2"], detail["d0"], detail["dbar"], (0, 5), 21)
    assert not split_condition(m, detail["eps"], 0.1)
    assert detail["rule"] == "separable"
    assert sorted(space.leaves) == [("a", "b", "c", "d", "e"), ("f", "g")]
    default = LabelSpace(n_min=200, fading=1.0, min_size=1)
    assert dict(feed(default, [["a", "b", "c", "d", "e"], ["f", "g"]], 200))["cluster_split"][
        "rule"] == "components"
    assert sorted(default.leaves) == sorted(space.leaves)


# -- the sparse tests and the components split ----------------------------------------------------
@pytest.mark.parametrize("seed", range(3))
def test_sparse_diameters_equal_the_dense_ones(seed):
    from ihomer.labels.odac import sparse_diameters

    rng = np.random.default_rng(seed)
    for _ in range(300):
        k = int(rng.integers(2, 9))
        d = np.ones((k, k))
        np.fill_diagonal(d, 0.0)
        iu, ju = np.triu_indices(k, 1)
        given = rng.random(iu.size) < rng.random()
        vals = np.where(rng.random(given.sum()) < 0.2, 1.0, rng.integers(0, 5, given.sum()) / 4)
        d[iu[given], ju[given]] = d[ju[given], iu[given]] = vals
        assert sparse_diameters(k, iu[given], ju[given], vals) == diameters(d)


@pytest.mark.parametrize("seed", range(3))
def test_components_match_scipy(seed):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from ihomer.labels.odac import components

    rng = np.random.default_rng(seed)
    for _ in range(300):
        k = int(rng.integers(1, 40))
        m = int(rng.integers(0, 2 * k))
        i, j = rng.integers(0, k, m), rng.integers(0, k, m)
        n, comp = components(k, i, j)
        n2, comp2 = connected_components(coo_matrix((np.ones(m), (i, j)), shape=(k, k)))
        first: dict[int, int] = {}
        assert n == n2 and comp.tolist() == [first.setdefault(c, len(first)) for c in comp2]


def test_split_many_and_merge_back():
    t = LabelTree()
    for g in range(6):
        t.add_label(g, t.root)
    ids = t.split_many(t.root, [[0, 3], [1, 4], [2, 5]], d1=1.0, eps=0.1)
    assert [n.labels for n in t.leaves()] == [[0, 3], [1, 4], [2, 5]] and len(ids) == 3
    with pytest.raises(ValueError):
        t.split_many(ids[0], [[0, 3]], d1=1.0, eps=0.1)
    t.merge(t.root)
    assert [n.labels for n in t.leaves()] == [[0, 1, 2, 3, 4, 5]]


def test_components_split_is_multiway_and_keeps_unseen_labels_together():
    # four groups that never meet, and two labels registered but never present
    space = LabelSpace(n_min=200, fading=1.0, min_size=1)
    space.add_labels(["u", "v"])
    pattern = [["a", "b"], ["c", "d", "e"], ["f", "g"], ["h", "i"]]
    events = feed(space, pattern, 200)
    splits = [d for k, d in events if k == "cluster_split"]
    assert len(splits) == 1 and splits[0]["rule"] == "components"
    assert splits[0]["sizes"] == (2, 3, 2, 2, 2)  # in the order of their first label, u/v last
    assert sorted(space.leaves) == [("a", "b"), ("c", "d", "e"), ("f", "g"), ("h", "i"),
                                    ("u", "v")]
    unplaced = [n.labels for n in space._tree.leaves() if n.unplaced]
    assert [[space.labels[g] for g in x] for x in unplaced] == [["u", "v"]]
    # the unplaced group splits off a single component once it is seen
    feed(space, [["u", "v"], ["a", "b"]], 400)
    assert ("u", "v") in space.leaves
    space.check_invariant()


def test_a_planted_group_seen_in_two_halves_is_not_split_off_its_unseen_labels():
    # a placed cluster whose window saw one component and some unseen labels: no split
    space = LabelSpace(n_min=150, fading=1.0, min_size=1)
    feed(space, [["a", "b", "c", "d"], ["e", "f"]], 150)  # split into {a..d}, {e, f}
    before = sorted(space.leaves)
    assert before == [("a", "b", "c", "d"), ("e", "f")]
    # c, d unseen since the split; at the check (150 instances, 75 with a label of the cluster:
    # the ODAC bound 0.124 is above tau) only the components rule could split: it does not,
    # one component and labels without evidence is no reason to split a placed cluster
    events = feed(space, [["a", "b"], ["e", "f"]], 150)
    assert kinds(events) == [] and sorted(space.leaves) == before


def test_bound_counts_the_instances_with_a_label_of_the_cluster():
    # {a, b, c} then seen in 2 of 200 instances ({a, b} once, c once): with
    # evidence="instances" the ODAC test splits it (n = 200: eps 0.076 < 0.33); with "active"
    # the bound sees n = 2 (eps 0.76) and waits for evidence
    leaves = {}
    for evidence in ("active", "instances"):
        space = LabelSpace(n_min=200, fading=1.0, min_size=1, evidence=evidence)
        feed(space, [["a", "b", "c"], ["x", "y"]], 200)
        assert sorted(space.leaves) == [("a", "b", "c"), ("x", "y")]
        feed(space, [["a", "b"], ["c"]] + [["x", "y"]] * 98, 200)
        leaves[evidence] = sorted(space.leaves)
    assert leaves == {"active": [("a", "b", "c"), ("x", "y")],
                      "instances": [("a", "b"), ("c",), ("x", "y")]}
    with pytest.raises(ValueError, match="evidence"):
        LabelSpace(evidence="all")
