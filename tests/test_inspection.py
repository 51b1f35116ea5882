"""Inspection: ihomer.hierarchy (label clusters, ODAC tree, structural history) and
ihomer.cluster_trees / ihomer.trees.draw (each cluster's tree as text and Graphviz dot) describe
the model faithfully and never change it."""

from __future__ import annotations

import pickle
import re
import types

import numpy as np
import pytest
from river import datasets

import ihomer
from ihomer.features import FeatureIndex
from ihomer.labels.view import hierarchy, model_labels
from ihomer.trees import MultiLabelHoeffdingTree, draw
from ihomer.trees.nodes import Split, count_nodes


@pytest.fixture(scope="module")
def trained():
    model = ihomer.IHOMER(n_min=100, partitioning="hierarchy")
    for x, y in datasets.Yeast().take(1500):
        model.predict_one(x)
        model.learn_one(x, y)
    return model


def test_the_hierarchy_matches_the_model(trained):
    h = ihomer.hierarchy(trained)
    assert [tuple(c) for c in h.partition] == trained.partition and h.detail == "tree"
    labels = model_labels(trained)
    active = [lab for n in h.active for lab in n.labels]
    assert sorted(active) == sorted(labels) and len(active) == len(labels)  # each exactly once
    for node in h.nodes.values():
        if not node.active:
            assert len(node.children) == 2 and node.d1_at_split is not None
            assert set(node.labels) == {lab for c in node.children for lab in h.nodes[c].labels}
        if node.parent is not None:
            assert node.depth == h.nodes[node.parent].depth + 1
    splits = [c for c in h.history if c.kind == "cluster_split"]
    merges = [c for c in h.history if c.kind == "cluster_merge"]
    assert len(splits) == trained.events.counts["cluster_split"] > 0
    assert len(merges) == trained.events.counts.get("cluster_merge", 0)
    assert len(h.nodes) == 1 + 2 * len(splits) - sum(c.detail["n_dropped"] for c in merges)
    assert [c.n for c in h.history] == sorted(c.n for c in h.history)
    for c in splits:
        assert set(c.detail["pivots"]) <= set(labels)


def test_summary_dot_and_json(trained):
    h = ihomer.hierarchy(trained)
    text = h.summary()
    assert text.startswith(f"{len(h.partition)} learning cluster(s) after 1,500 instances")
    assert text.count("split a cluster of") == len(h.splits_and_merges()) - sum(
        c.kind == "cluster_merge" for c in h.history
    )
    dot = h.to_dot()
    assert dot.startswith("digraph label_hierarchy {") and dot.endswith("}")
    assert len(re.findall(r"^  n\d+ \[", dot, re.M)) == len(h.nodes)
    assert dot.count("->") == len(h.nodes) - 1
    data = h.to_dict()
    assert data["n_learned"] == 1500 and len(data["nodes"]) == len(h.nodes)
    assert h.to_json().startswith("{")


def test_inspection_never_changes_the_model(trained):
    before = pickle.dumps(trained)
    h = ihomer.hierarchy(trained)
    for t in ihomer.cluster_trees(trained):
        t.summary()
        t.to_dot()
    h.summary()
    assert pickle.dumps(trained) == before
    fresh = ihomer.IHOMER()
    h0 = ihomer.hierarchy(fresh)
    assert h0.partition == () and h0.nodes == {} and h0.history == ()
    assert ihomer.cluster_trees(fresh) == [] and "_features" not in fresh.__dict__


def test_the_view_is_a_copy():
    model = ihomer.IHOMER(n_min=50, partitioning="hierarchy")
    data = list(datasets.Yeast().take(800))
    for x, y in data[:100]:
        model.learn_one(x, y)
    h = ihomer.hierarchy(model)
    n_nodes, n_history = len(h.nodes), len(h.history)
    for x, y in data[100:]:
        model.learn_one(x, y)
    assert len(h.nodes) == n_nodes and len(h.history) == n_history and h.n_learned == 100
    assert len(ihomer.hierarchy(model).history) > n_history


def test_partition_only_view_for_other_models():
    other = types.SimpleNamespace(partition=[("a", "b"), ("c",)], n_learned=3)
    h = hierarchy(other)
    assert h.detail == "partition" and h.partition == (("a", "b"), ("c",)) and h.nodes == {}
    assert "2 learning cluster(s) after 3 instances" in h.summary()


def _grown_tree():
    rng = np.random.default_rng(0)
    fi = FeatureIndex()
    tree = MultiLabelHoeffdingTree(grace_period=50, delta=0.01)
    tree.add_labels(2)
    for _ in range(3000):
        a, b = rng.random(), rng.random()
        row = fi.encode({"temp": a, "wind": b, "zero_or_one": float(rng.random() < 0.5)})
        tree.learn(row, np.array([a > 0.5, b > 0.3]))
    return tree, fi.names


def test_a_cluster_tree_as_text_and_dot():
    tree, names = _grown_tree()
    facts = draw.node_facts(tree)
    assert len(facts) == count_nodes(tree.root, with_alt=False) > 1
    splits = [f for f in facts if "split" in f]
    leaves = [f for f in facts if "leaf" in f]
    assert len(leaves) == len(splits) + 1
    text = draw.summary(tree, names, ["hot", "windy"])
    assert text.count("leaf (") == len(leaves)
    assert any(name in text for name in ("temp <=", "wind <="))
    assert "hot" in text or "windy" in text
    dot = draw.to_dot(tree, names, ["hot", "windy"])
    assert dot.count("->") == len(facts) - 1 and dot.count("shape=box") == len(leaves)
    assert dot.count('[label="yes"]') == dot.count('[label="no"]') == len(splits)
    root = tree.root
    assert isinstance(root, Split)
    first = draw.summary(tree, names).splitlines()[0]
    name = names[root.feature]
    test = f"{name} <= {root.threshold:.4g}" if root.kind else f"{name} == 0"
    assert first == f"if {test}:" or first.startswith(f"if {test}: leaf")


def test_cluster_trees_follow_the_partition(trained):
    trees = ihomer.cluster_trees(trained)
    assert [t.labels for t in trees] == trained.partition
    for t in trees:
        text = t.summary()
        assert text.startswith(f"cluster {t.index} ({len(t.labels)} label(s)")
        assert text.count("leaf (") == sum("leaf" in f for f in draw.node_facts(t.learner))
