"""MultiLabelHoeffdingTree.restrict: a copy over a subset of the labels that predicts them as the
original does (to rounding), leaves the original alone, and keeps learning on its own."""

from __future__ import annotations

import numpy as np
import pytest

from ihomer.features import FeatureIndex
from ihomer.trees import MultiLabelHoeffdingTree
from ihomer.trees.nodes import Leaf, iter_nodes


def _stream(n: int, seed: int, sparse: bool):
    """Five labels from three features; with ``sparse`` most values are absent (zero)."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        v = rng.random(6)
        if sparse:
            v[rng.random(6) < 0.6] = 0.0
        x = {f"f{j}": float(v[j]) for j in range(6) if not sparse or v[j]}
        y = np.array([v[0] > 0.5, v[1] > 0.4, v[0] + v[2] > 1.0, v[2] < 0.3, v[1] > 0.9])
        yield x, y


def _trained(sparse: bool, seed: int = 0):
    fi, tree = FeatureIndex(), MultiLabelHoeffdingTree(grace_period=60, delta=0.01, tau=0.3)
    tree.add_labels(5)
    data = list(_stream(3000, seed, sparse))
    for x, y in data[:2000]:
        tree.learn(fi.encode(x), y)
    assert sum(isinstance(n, Leaf) for n in iter_nodes(tree.root)) > 1, "the tree must split"
    return fi, tree, data[2000:]


@pytest.mark.parametrize("sparse", [False, True])
def test_restricted_copy_predicts_its_labels_as_the_original(sparse):
    fi, tree, rest = _trained(sparse)
    pos = np.array([3, 0, 2])
    before = [tree.predict_proba(fi.encode(x, grow=False)) for x, _ in rest[:300]]
    sub = tree.restrict(pos)
    assert sub.n_labels == 3 and sub.n_nodes == tree.n_nodes
    for (x, _), p in zip(rest[:300], before):
        row = fi.encode(x, grow=False)
        np.testing.assert_allclose(sub.predict_proba(row), p[pos], rtol=1e-12, atol=1e-15)
    # learning the copy leaves the original untouched
    for x, y in rest[:300]:
        sub.learn(fi.encode(x), y[pos])
    for (x, _), p in zip(rest[:300], before):
        np.testing.assert_array_equal(tree.predict_proba(fi.encode(x, grow=False)), p)


def test_restricted_copy_keeps_learning_its_labels():
    fi, tree, rest = _trained(sparse=False, seed=1)
    pos = np.array([1, 4])
    sub = tree.restrict(pos)
    errors = []
    for x, y in rest:
        row = fi.encode(x)
        errors.append(np.mean((sub.predict_proba(row) > 0.5) != y[pos]))
        sub.learn(row, y[pos])
    assert np.mean(errors[-300:]) < 0.1
    # its label-set statistics speak of its own labels only
    for node in iter_nodes(sub.root):
        if isinstance(node, Leaf):
            for key in node.keys | set(node.model.sets):
                assert set(np.frombuffer(key, dtype=np.int64).tolist()) <= {0, 1}
            assert node.model.W.shape[1] == 2 * 2 and node.model.W.flags.c_contiguous
            if node.stats is not None:
                assert node.stats.nzp.shape[1] == 2


def test_restrict_merges_label_sets_that_differ_only_outside_the_subset():
    fi, tree = FeatureIndex(), MultiLabelHoeffdingTree()
    tree.add_labels(3)
    row = fi.encode({"a": 1.0})
    for i in range(30):  # sets {0} and {0, 2} alternate: restricted to [0, 1] both are {0}
        tree.learn(row, np.array([True, False, i % 2 == 0]))
    leaf = tree.root
    assert len(leaf.model.sets) == 2
    sub_leaf = tree.restrict(np.array([0, 1])).root
    assert len(sub_leaf.model.sets) == 1
    (count, vec), = sub_leaf.model.sets.values()
    assert count == pytest.approx(sum(c for c, _ in leaf.model.sets.values()))
    assert vec.tolist() == [True, False]


@pytest.mark.parametrize("bad", [[], [0, 0], [-1], [3], [[0, 1]]])
def test_restrict_rejects_bad_positions(bad):
    tree = MultiLabelHoeffdingTree()
    tree.add_labels(3)
    with pytest.raises(ValueError, match="restrict"):
        tree.restrict(np.array(bad, dtype=np.int64))


def test_restricted_tree_drops_the_features_its_labels_never_met():
    from ihomer.features import SparseRow
    from ihomer.trees import MultiLabelHoeffdingTree

    rng = np.random.default_rng(0)
    none = np.array([], dtype=np.int64)
    tree = MultiLabelHoeffdingTree(grace_period=10_000)  # one leaf: exact comparison
    tree.add_labels(2)
    rows = []
    for _ in range(300):
        a = rng.random() < 0.5  # label 0 lives on features 0..9, label 1 on 100..199
        idx = rng.choice(10, 3, replace=False) if a else 100 + rng.choice(100, 3, replace=False)
        row = SparseRow(np.sort(idx).astype(np.int64), np.ones(3), none)
        rows.append((row, np.array([a, not a])))
    for row, y in rows:
        tree.learn(row, y)
    sub = tree.restrict(np.array([0]))
    assert sub._nf <= 10 < tree._nf
    assert sub.memory_bytes() < tree.memory_bytes() / 2
    probe = SparseRow(np.array([1, 4], dtype=np.int64), np.ones(2), none)
    assert np.allclose(sub.predict_proba(probe), tree.predict_proba(probe)[[0]])
