"""Dense rows (idx == arange(n)) take view-based shortcuts; they must match the general path
bit for bit (the general path is forced by giving the same columns as int32)."""

import numpy as np

from ihomer.features import SparseRow
from ihomer.trees import MultiLabelHoeffdingTree
from ihomer.trees.leaf_models import FeatureScaler
from ihomer.trees.observers import LeafStats
from ihomer.trees.tree import _dense_rows

NONE = np.empty(0, dtype=np.int64)


def dense_stream(n, n_features, n_labels, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_labels, n_features))
    for i in range(n):
        y = rng.random(n_labels) < 0.35
        x = rng.normal(size=n_features) + y @ centres
        if i > n // 2:  # a concept drift, so nodes split / drift / swap
            y = ~y
        yield x, y


def test_dense_rows_detects_only_int64_arange():
    assert _dense_rows(np.arange(5, dtype=np.int64)) == slice(0, 5)
    assert _dense_rows(np.arange(3000, dtype=np.int64)) == slice(0, 3000)  # grows its cache
    assert _dense_rows(np.array([1, 0, 2])) is None
    assert _dense_rows(np.array([0, 1, 3])) is None
    assert _dense_rows(np.arange(5, dtype=np.int32)) is None
    assert _dense_rows(NONE) is None


def test_dense_rows_remembers_only_read_only_arrays():
    idx = np.arange(4, dtype=np.int64)
    assert _dense_rows(idx) == slice(0, 4)
    idx[:] = [3, 2, 1, 0]  # writable: changed in place, so asked again
    assert _dense_rows(idx) is None
    frozen = np.arange(4, dtype=np.int64)
    frozen.flags.writeable = False
    assert _dense_rows(frozen) == slice(0, 4)
    assert _dense_rows(frozen) == slice(0, 4)  # the remembered answer
    assert _dense_rows(np.array([1, 0], dtype=np.int64)) is None


def test_tree_dense_path_matches_general_path_exactly():
    f, L = 12, 4
    fast = MultiLabelHoeffdingTree(grace_period=40, drift_window=60, delta=0.2)
    slow = MultiLabelHoeffdingTree(grace_period=40, drift_window=60, delta=0.2)
    fast.add_labels(L)
    slow.add_labels(L)
    col64 = np.arange(f, dtype=np.int64)
    col32 = col64.astype(np.int32)
    n_diff, chosen = 0, set()
    for x, y in dense_stream(1500, f, L, seed=3):
        r_fast, r_slow = SparseRow(col64, x, NONE), SparseRow(col32, x.copy(), NONE)
        p_fast, p_slow = fast.predict_proba(r_fast), slow.predict_proba(r_slow)
        n_diff += not np.array_equal(p_fast, p_slow)
        fast.learn(r_fast, y)
        slow.learn(r_slow, y)
        leaf = fast.leaf_of(r_fast)
        chosen.add(leaf.model.chosen)
    assert n_diff == 0
    assert fast.n_nodes == slow.n_nodes and fast.n_nodes > 1  # the stream makes it split
    assert len(chosen) > 1  # several leaf candidates were exercised
    assert [e[0] for e in fast.drain_events()] == [e[0] for e in slow.drain_events()]


def test_leaf_stats_dense_flush_matches_general_flush():
    rng = np.random.default_rng(0)
    a, b = LeafStats(8, 3), LeafStats(8, 3)
    for _ in range(70):  # two full batches and a partial one
        val = rng.normal(size=6)
        y = rng.random(3) < 0.5
        w = float(rng.random())
        a.push(np.arange(6), val, y, w, True)
        b.push(np.arange(6), val, y, w, False)
    a.flush()
    b.flush()
    assert np.array_equal(a.nz, b.nz) and np.array_equal(a.nzp, b.nzp)
    assert a.w == b.w and np.array_equal(a.pos, b.pos)


def test_feature_scaler_dense_flush_matches_general_flush():
    rng = np.random.default_rng(1)
    a, b = FeatureScaler(10), FeatureScaler(10)
    for _ in range(80):
        val = rng.normal(size=7)
        a.learn(np.arange(7), val, True)
        b.learn(np.arange(7), val, False)
        assert np.array_equal(a.inv, b.inv)
    a.flush()
    b.flush()
    assert np.array_equal(a.inv, b.inv) and np.array_equal(a.sq, b.sq)
