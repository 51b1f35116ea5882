"""The tree's own compact column ids: arrays sized by the features the tree saw, and its cap."""

from __future__ import annotations

import numpy as np

from ihomer.features import SparseRow
from ihomer.trees import MultiLabelHoeffdingTree

NONE = np.array([], dtype=np.int64)


def _rows(n, n_features, offset, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        idx = np.sort(rng.choice(n_features, size=5, replace=False)).astype(np.int64)
        val = rng.random(5) + 0.5
        y = np.array([idx[0] < n_features // 2, idx[-1] > n_features // 2])
        out.append((idx + offset, val, y))
    return out


def test_arrays_follow_the_features_seen_not_the_largest_id():
    far, near = MultiLabelHoeffdingTree(grace_period=50), MultiLabelHoeffdingTree(grace_period=50)
    far.add_labels(2)
    near.add_labels(2)
    for idx, val, y in _rows(400, 40, offset=1_000_000):
        far.learn(SparseRow(idx, val, NONE), y)
    for idx, val, y in _rows(400, 40, offset=0):
        near.learn(SparseRow(idx, val, NONE), y)
    # 40 features seen at ids 1e6..: the arrays are as small as for ids 0..39
    assert far.memory_bytes() < 2 * near.memory_bytes()
    for idx, val, _ in _rows(50, 40, offset=0, seed=1):
        p_far = far.predict_proba(SparseRow(idx + 1_000_000, val, NONE))
        p_near = near.predict_proba(SparseRow(idx, val, NONE))
        assert np.allclose(p_far, p_near)
    for node in [far.root]:
        if hasattr(node, "feature"):
            assert node.feature >= 1_000_000  # splits route on global ids


def test_feature_cap_is_honoured():
    tree = MultiLabelHoeffdingTree(max_features=10)
    tree.add_labels(2)
    for idx, val, y in _rows(300, 200, offset=0):
        tree.learn(SparseRow(idx, val, NONE), y)
    assert tree._gof.size == 10
    assert tree._cap <= 16
    p = tree.predict_proba(SparseRow(np.array([150, 199]), np.array([1.0, 1.0]), NONE))
    assert p.shape == (2,) and np.isfinite(p).all()


def test_memory_budget_stops_growth_before_the_arrays_double():
    budget_mb = 0.25
    tree = MultiLabelHoeffdingTree(memory_budget_mb=budget_mb)
    tree.add_labels(20)
    rng = np.random.default_rng(0)
    for t in range(600):  # 5 new features per instance: 3,000 in all
        idx = np.arange(5 * t, 5 * t + 5, dtype=np.int64)
        y = rng.random(20) < 0.2
        tree.learn(SparseRow(idx, np.ones(5), NONE), y)
        assert tree.memory_bytes() <= budget_mb * 2**20, t
    assert tree._frozen and tree._gof.size < 3000
    assert any(kind == "memory_cap" for kind, _ in tree.drain_events())
    free = MultiLabelHoeffdingTree()
    free.add_labels(20)
    for t in range(600):
        free.learn(SparseRow(np.arange(5 * t, 5 * t + 5, dtype=np.int64), np.ones(5), NONE),
                   rng.random(20) < 0.2)
    assert free.memory_bytes() > budget_mb * 2**20  # the budget did bind
