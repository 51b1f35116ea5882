"""Work a leaf stops doing once measurements say it does not pay: the naive Bayes candidate
after it has trailed (MultiLabelHoeffdingTree._prune_candidates), and split attempts that the
Hoeffding bound says cannot pass yet (the attempt back-off)."""

import numpy as np

from ihomer.features import FeatureIndex
from ihomer.trees import MultiLabelHoeffdingTree
from ihomer.trees import tree as tree_module
from ihomer.trees.leaf_models import NB
from ihomer.trees.nodes import Leaf, iter_nodes


def leaves(tree):
    return [n for n in iter_nodes(tree.root) if isinstance(n, Leaf)]


def feed(tree, fi, rows):
    for x, y in rows:
        tree.learn(fi.encode(x), y)


def one_label_copies_last(n, seed=0):
    """label 0 repeats in runs (the last label set predicts it), features are noise: naive
    Bayes, which sees only the features, trails the label-set candidates."""
    rng = np.random.default_rng(seed)
    on = False
    for i in range(n):
        if i % 50 == 0:
            on = not on
        yield {f"f{j}": float(rng.random()) for j in range(5)}, np.array([on, not on])


def test_naive_bayes_is_dropped_once_it_trails_and_its_parameters_are_freed():
    fi, tree = FeatureIndex(), MultiLabelHoeffdingTree(grace_period=100)
    tree.add_labels(2)
    feed(tree, fi, one_label_copies_last(900))
    (leaf,) = leaves(tree)
    assert leaf.model.mask[NB] and leaf.stats.nb is not None  # too young to judge
    feed(tree, fi, one_label_copies_last(600, seed=1))
    (leaf,) = leaves(tree)
    assert not leaf.model.mask[NB]
    assert leaf.stats.nb is None and leaf.stats.nb_terms is None
    assert leaf.stats.w >= tree_module.NB_PRUNE_WEIGHT
    before = tree.memory_bytes()
    feed(tree, fi, one_label_copies_last(300, seed=2))  # never refitted again
    assert leaf.stats.nb is None and tree.memory_bytes() <= before + 1024


def test_naive_bayes_is_kept_where_it_is_chosen():
    rng = np.random.default_rng(4)
    fi, tree = (
        FeatureIndex(),
        MultiLabelHoeffdingTree(grace_period=100, leaf_model=("prior", "naive_bayes")),
    )
    tree.add_labels(1)
    for _ in range(2000):
        y = bool(rng.random() < 0.5)
        tree.learn(fi.encode({"a": float(rng.normal(2.0 if y else -2.0))}), np.array([y]))
    assert all(leaf.model.mask[NB] for leaf in leaves(tree))


def test_split_children_start_with_every_candidate(monkeypatch):
    monkeypatch.setattr(tree_module, "NB_PRUNE_WEIGHT", 150.0)
    rng = np.random.default_rng(0)
    fi, tree = FeatureIndex(), MultiLabelHoeffdingTree(grace_period=50, tau=0.5)
    tree.add_labels(1)
    for i in range(3000):
        x = {"a": float(rng.random()), "b": float(rng.random())}
        tree.learn(fi.encode(x), np.array([x["a"] > 0.5]))
    assert tree.n_nodes >= 3
    assert any(leaf.model.mask[NB] for leaf in leaves(tree) if leaf.stats is not None)


def test_split_attempts_back_off_while_the_bound_cannot_pass():
    # labels independent of the features: every attempt fails with a gap far below epsilon
    rng = np.random.default_rng(1)
    fi = FeatureIndex()
    tree = MultiLabelHoeffdingTree(grace_period=50, tau=0.0)
    tree.add_labels(3)
    calls = []
    real = tree._attempt_split

    def counting(*args):
        calls.append(tree._n)
        return real(*args)

    tree._attempt_split = counting
    for _ in range(5000):
        x = {f"f{j}": float(rng.random()) for j in range(4)}
        tree.learn(fi.encode(x), rng.random(3) < 0.5)
    assert tree.n_nodes == 1
    # without the back-off: an attempt every 50 instances (100 attempts)
    assert len(calls) < 40
    gaps = np.diff(calls)
    assert gaps.min() >= 50 and gaps.max() > 200  # waits grow, never below a grace period
    (leaf,) = leaves(tree)
    assert leaf.wait <= leaf.stats.w  # at most the weight seen


def test_back_off_does_not_stop_a_clear_split():
    rng = np.random.default_rng(2)
    fi, tree = FeatureIndex(), MultiLabelHoeffdingTree(grace_period=100)
    tree.add_labels(1)
    for _ in range(3000):
        x = {"a": float(rng.random()), "b": float(rng.random())}
        tree.learn(fi.encode(x), np.array([x["a"] > 0.5]))
    assert tree.n_nodes >= 3 and tree.root.feature == fi.encode({"a": 1.0}).idx[0]
