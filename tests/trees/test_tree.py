"""Behaviour of MultiLabelHoeffdingTree: the ClusterLearner contract, learning, drift, memory."""

import pickle

import numpy as np
import pytest

from ihomer.features import FeatureIndex, SparseRow
from ihomer.learner import ClusterLearner
from ihomer.trees import MultiLabelHoeffdingTree


def planted(n, seed, flip_at=None, n_noise=4):
    """x: f0..f{n_noise} uniform; label 0 iff f0 > 0.5 (flipped after ``flip_at``),
    label 1 iff f1 > 0.3 and f2 > 0.5."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        x = {f"f{j}": float(rng.random()) for j in range(n_noise + 1)}
        y0 = x["f0"] > 0.5
        if flip_at is not None and i >= flip_at:
            y0 = not y0
        yield x, np.array([y0, x["f1"] > 0.3 and x["f2"] > 0.5])


def test_is_a_cluster_learner_and_validates():
    tree = MultiLabelHoeffdingTree()
    assert isinstance(tree, ClusterLearner)
    assert tree.n_labels == 0
    with pytest.raises(ValueError):
        tree.add_labels(-1)
    tree.add_labels(2)
    with pytest.raises(ValueError, match="shape"):
        tree.learn(SparseRow(np.array([0]), np.array([1.0]), np.array([], dtype=np.int64)),
                   np.array([True]))
    with pytest.raises(ValueError, match="grace_period"):
        MultiLabelHoeffdingTree(grace_period=0)  # parameters are validated in __init__
    # cold start predicts every label
    p = tree.predict_proba(SparseRow(np.array([3]), np.array([1.0]), np.array([], np.int64)))
    assert p.dtype == np.float64 and p.shape == (2,)


def test_learns_planted_rule_and_splits_on_right_feature():
    fi = FeatureIndex()
    tree = MultiLabelHoeffdingTree(grace_period=100)
    tree.add_labels(2)
    stream = list(planted(3000, seed=0))
    errors = []
    for x, y in stream:
        row = fi.encode(x)
        errors.append((tree.predict_proba(row) > 0.5) != y)
        tree.learn(row, y)
    splits = [d for k, d in tree.drain_events() if k == "node_split"]
    assert splits, "the tree never split"
    assert fi.names[splits[0]["feature"]] == "f0"
    assert abs(splits[0]["threshold"] - 0.5) < 0.15
    assert tree.drain_events() == []
    late = np.array(errors[-1000:])
    assert late[:, 0].mean() < 0.05
    assert late[:, 1].mean() < 0.2
    # probabilities are in [0, 1] and on the right side of 0.5
    rest = {"f3": 0.5, "f4": 0.5}
    p = tree.predict_proba(fi.encode({"f0": 0.95, "f1": 0.9, "f2": 0.9, **rest}))
    assert ((0 <= p) & (p <= 1)).all() and p[0] > 0.5 and p[1] > 0.5
    p = tree.predict_proba(fi.encode({"f0": 0.05, "f1": 0.1, "f2": 0.1, **rest}))
    assert p[0] < 0.5 and p[1] < 0.5


def test_sparse_and_dense_dicts_give_identical_predictions():
    rng = np.random.default_rng(5)
    n_feat = 12
    fi_s, fi_d = FeatureIndex(), FeatureIndex()
    ts = MultiLabelHoeffdingTree(grace_period=60)
    td = MultiLabelHoeffdingTree(grace_period=60)
    ts.add_labels(3)
    td.add_labels(3)
    for i in range(1500):
        dense = {f"w{j}": (float(rng.integers(1, 4)) if (i == 0 or rng.random() < 0.2) else 0)
                 for j in range(n_feat)}
        sparse = {k: v for k, v in dense.items() if v != 0}
        y = np.array([dense["w0"] > 0, dense["w1"] > 1 or dense["w2"] > 0, rng.random() < 0.1])
        rs, rd = fi_s.encode(sparse), fi_d.encode(dense)
        np.testing.assert_array_equal(ts.predict_proba(rs), td.predict_proba(rd))
        ts.learn(rs, y)
        td.learn(rd, y)
    assert ts.n_nodes == td.n_nodes > 1


def test_missing_values_are_not_zeros():
    """A feature that is missing whenever the label is off must not look like a zero."""
    rng = np.random.default_rng(6)
    fi = FeatureIndex()
    tree = MultiLabelHoeffdingTree(grace_period=100)
    tree.add_labels(1)
    for _ in range(1500):
        on = rng.random() < 0.5
        x = {"a": float(rng.random() + 1) if on else None, "b": float(rng.random())}
        tree.learn(fi.encode(x), np.array([on]))
    splits = [d for k, d in tree.drain_events() if k == "node_split"]
    # "a" is either present (non-zero) or missing: it carries no zero/non-zero information
    # (were missing counted as zero, "a == 0" would be a perfect split)
    assert all(fi.names[d["feature"]] != "a" for d in splits)


def test_add_labels_mid_stream_keeps_earlier_predictions():
    fi = FeatureIndex()
    tree = MultiLabelHoeffdingTree(grace_period=100)
    tree.add_labels(2)
    for x, y in planted(1200, seed=1):
        tree.learn(fi.encode(x), y)
    probe = [fi.encode(x) for x, _ in planted(50, seed=2)]
    before = np.array([tree.predict_proba(r) for r in probe])
    tree.add_labels(1)
    assert tree.n_labels == 3
    after = np.array([tree.predict_proba(r) for r in probe])
    assert after.shape == (50, 3)
    np.testing.assert_array_equal(after[:, :2], before)
    for x, y in planted(200, seed=3):
        tree.learn(fi.encode(x), np.append(y, x["f3"] > 0.5))


def run_drift(adwin_delta):
    fi = FeatureIndex()
    tree = MultiLabelHoeffdingTree(grace_period=100, leaf_model="prior", prior_fading=1.0,
                                   adwin_delta=adwin_delta, drift_window=100)
    tree.add_labels(2)
    errs = []
    for x, y in planted(6000, seed=4, flip_at=3000):
        row = fi.encode(x)
        errs.append(((tree.predict_proba(row) > 0.5) != y)[0])
        tree.learn(row, y)
    return np.array(errs), [k for k, _ in tree.drain_events()]


def test_abrupt_drift_is_detected_and_error_recovers():
    err_on, kinds_on = run_drift(0.002)
    err_off, kinds_off = run_drift(None)
    assert "node_drift" in kinds_on and "subtree_swap" in kinds_on
    assert "node_drift" not in kinds_off
    assert err_on[2000:3000].mean() < 0.05  # learned before the drift
    assert err_on[-1000:].mean() < 0.1  # recovered
    assert err_on[3000:].mean() < err_off[3000:].mean() - 0.2


def test_clone_gives_untrained_tree():
    fi = FeatureIndex()
    tree = MultiLabelHoeffdingTree(grace_period=50, lr=0.3)
    tree.add_labels(2)
    for x, y in planted(500, seed=7):
        tree.learn(fi.encode(x), y)
    c = tree.clone()
    assert c.n_labels == 0 and c.root is None and c.memory_bytes() == 0
    assert c.grace_period == 50 and c.lr == 0.3
    assert tree.n_labels == 2 and tree.root is not None


def test_pickle_round_trip_gives_identical_predictions():
    fi = FeatureIndex()
    tree = MultiLabelHoeffdingTree(grace_period=80)
    tree.add_labels(2)
    data = list(planted(1600, seed=8))
    for x, y in data[:1000]:
        tree.learn(fi.encode(x), y)
    twin = pickle.loads(pickle.dumps(tree))
    for x, y in data[1000:]:
        row = fi.encode(x)
        np.testing.assert_array_equal(tree.predict_proba(row), twin.predict_proba(row))
        tree.learn(row, y)
        twin.learn(row, y)
    assert tree.n_nodes == twin.n_nodes


def test_memory_bounded_under_max_nodes():
    rng = np.random.default_rng(9)
    tree = MultiLabelHoeffdingTree(grace_period=50, max_nodes=9, tau=0.2)
    tree.add_labels(3)
    n, f = 20_000, 8
    X = rng.random((n, f))
    Y = np.column_stack([X[:, 0] > 0.5, X[:, 1] + X[:, 2] > 1.0, (X[:, 3] > 0.3) ^ (X[:, 4] > 0.6)])
    idx = np.arange(f)
    none = np.empty(0, dtype=np.int64)
    mem = []
    for i in range(n):
        tree.learn(SparseRow(idx, X[i], none), Y[i])
        assert tree.n_nodes <= 9
        if i % 5000 == 4999:
            mem.append(tree.memory_bytes())
    assert tree.n_nodes > 1
    assert 0 < mem[-1] <= 1.5 * mem[0]


def test_feature_space_grows_and_unseen_columns_are_harmless():
    tree = MultiLabelHoeffdingTree(grace_period=50)
    tree.add_labels(1)
    none = np.empty(0, dtype=np.int64)
    rng = np.random.default_rng(10)
    for i in range(300):
        col = int(rng.integers(0, 4 + i))  # the feature space keeps growing
        tree.learn(SparseRow(np.array([col]), np.array([1.0]), none), np.array([col % 2 == 0]))
    p = tree.predict_proba(SparseRow(np.array([10_000]), np.array([2.0]), none))  # never seen
    assert p.shape == (1,) and 0 <= p[0] <= 1
    tree.learn(SparseRow(np.array([10_000]), np.array([2.0]), np.array([10_001])), np.array([True]))
    assert tree.memory_bytes() > 0


def test_weights_count_like_repetitions_in_statistics():
    none = np.empty(0, dtype=np.int64)
    a = MultiLabelHoeffdingTree()
    b = MultiLabelHoeffdingTree()
    a.add_labels(2)
    b.add_labels(2)
    row = SparseRow(np.array([0, 2]), np.array([1.5, -2.0]), none)
    y = np.array([True, False])
    a.learn(row, y, w=3.0)
    for _ in range(3):
        b.learn(row, y)
    sa, sb = a.root.stats, b.root.stats
    sa.flush()
    sb.flush()
    np.testing.assert_allclose(sa.nz, sb.nz)
    np.testing.assert_allclose(sa.nzp, sb.nzp)
    assert sa.w == sb.w == 3.0
