"""Work a leaf stops doing once measurements say it does not pay: the naive Bayes candidate
and the linear models that trail (LeafModel._judge), and split attempts that the Hoeffding
bound says cannot pass yet (the attempt back-off)."""

import pickle

import numpy as np

from ihomer.features import FeatureIndex
from ihomer.trees import MultiLabelHoeffdingTree
from ihomer.trees.leaf_models import LINEAR, NB, LeafModel
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
    # without the naive Bayes mixture (nb_mix=0; with it, see the next test)
    fi, tree = FeatureIndex(), MultiLabelHoeffdingTree(grace_period=100, nb_mix=0.0)
    tree.add_labels(2)
    young = int(LeafModel.PRUNE_WEIGHT) - 10
    feed(tree, fi, one_label_copies_last(young))
    (leaf,) = leaves(tree)
    assert leaf.model.mask[NB] and leaf.stats.nb is not None  # too young to judge
    feed(tree, fi, one_label_copies_last(600, seed=1))
    (leaf,) = leaves(tree)
    assert not leaf.model.mask[NB]
    assert leaf.stats.nb is None and leaf.stats.nb_terms is None
    assert leaf.stats.w >= LeafModel.PRUNE_WEIGHT
    before = tree.memory_bytes()
    feed(tree, fi, one_label_copies_last(300, seed=2))  # never refitted again
    assert leaf.stats.nb is None and tree.memory_bytes() <= before + 1024


def test_a_mixing_leaf_keeps_naive_bayes_computed_once_it_trails_as_a_candidate():
    fi, tree = FeatureIndex(), MultiLabelHoeffdingTree(grace_period=100)  # nb_mix=0.4
    tree.add_labels(2)
    feed(tree, fi, one_label_copies_last(int(LeafModel.PRUNE_WEIGHT) + 100))
    (leaf,) = leaves(tree)
    assert not leaf.model.mask[NB]  # it trails: no longer chosen
    assert leaf.model.nb_on and leaf.stats.nb is not None and leaf.model.mixes(0.4)
    w = leaf.stats.nb_w
    feed(tree, fi, one_label_copies_last(300, seed=2))
    assert leaf.stats.nb_w > w  # still refitted, for the mixture


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


def test_split_children_start_with_naive_bayes_again():
    rng = np.random.default_rng(0)
    fi, tree = FeatureIndex(), MultiLabelHoeffdingTree(grace_period=50, tau=0.5)
    tree.add_labels(1)
    born = []  # (the parent's naive Bayes flag, the children's flags) at each split
    attempt = tree._attempt_split

    def spy(leaf, owner, side, is_alt):
        n = tree.n_nodes
        attempt(leaf, owner, side, is_alt)
        if tree.n_nodes > n:
            split = tree.root if owner is None else getattr(owner, side)
            flags = [bool(c.model.mask[NB]) for c in (split.left, split.right)]
            born.append((bool(leaf.model.mask[NB]), flags))

    tree._attempt_split = spy
    for i in range(3000):
        x = {"a": float(rng.random()), "b": float(rng.random())}
        if i == 20:  # as if the root had judged naive Bayes off
            tree.root.model.mask = tree.root.model.mask.copy()
            tree.root.model.mask[NB] = False
        tree.learn(fi.encode(x), np.array([x["a"] > 0.5]))
    assert born and born[0][0] is False  # the first split's parent had dropped it
    assert all(flags == [True, True] for _, flags in born)


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
    assert isinstance(tree.root, Leaf)  # (a background leaf may exist: node drift)
    # without the back-off: an attempt every 50 instances (100 attempts)
    assert len(calls) < 40
    gaps = np.diff(calls)
    assert gaps.min() >= 50 and gaps.max() > 200  # waits grow, never below a grace period
    leaf = tree.root
    assert leaf.wait <= leaf.stats.w  # at most the weight seen


def test_back_off_does_not_stop_a_clear_split():
    rng = np.random.default_rng(2)
    fi, tree = FeatureIndex(), MultiLabelHoeffdingTree(grace_period=100)
    tree.add_labels(1)
    for _ in range(3000):
        x = {"a": float(rng.random()), "b": float(rng.random())}
        tree.learn(fi.encode(x), np.array([x["a"] > 0.5]))
    assert tree.n_nodes >= 3 and tree.root.feature == fi.encode({"a": 1.0}).idx[0]


def linear_beats_the_rest(n, seed=0):
    """two labels that are linear in the features: a linear model wins at the leaf."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        x = {f"f{j}": float(rng.normal()) for j in range(6)}
        yield x, np.array([x["f0"] + x["f1"] > 0, x["f2"] - x["f3"] > 0])


def test_a_trailing_linear_model_is_dropped_and_its_weights_freed(monkeypatch):
    monkeypatch.setattr(LeafModel, "PRUNE_LINEAR_LABELS", 2)
    fi, tree = FeatureIndex(), MultiLabelHoeffdingTree(grace_period=100, max_depth=0)
    tree.add_labels(2)
    rows = list(linear_beats_the_rest(3000))
    young = int(LeafModel.PRUNE_WEIGHT) - 10
    feed(tree, fi, rows[:young])
    (leaf,) = leaves(tree)
    assert leaf.model.n_linear == 2
    before = leaf.model.W.nbytes
    p_before = tree.predict_proba(fi.encode(rows[young][0]))
    feed(tree, fi, rows[young:])
    (leaf,) = leaves(tree)
    m = leaf.model
    assert m.n_linear == 1 and m.W.nbytes == before // 2
    assert m.chosen == LINEAR and m.sc.shape[0] == LINEAR + 1 and m.mask.size == LINEAR + 1
    # the kept model goes on predicting and learning
    acc = np.mean(
        [
            ((tree.predict_proba(fi.encode(x)) > 0.5) == y).all()
            for x, y in linear_beats_the_rest(300, 9)
        ]
    )
    assert acc > 0.8 and p_before.shape == (2,)


def test_linear_models_are_kept_at_leaves_with_few_labels():
    fi, tree = FeatureIndex(), MultiLabelHoeffdingTree(grace_period=100, max_depth=0)
    tree.add_labels(2)
    feed(tree, fi, linear_beats_the_rest(3000))
    assert tree.root.model.n_linear == 2


def test_pickled_leaves_without_the_new_state_load_and_learn():
    fi, tree = FeatureIndex(), MultiLabelHoeffdingTree(grace_period=100)
    tree.add_labels(2)
    feed(tree, fi, linear_beats_the_rest(300))
    (leaf,) = leaves(tree)
    for name in ("lr", "seen", "judge_at"):  # as a model pickled by the previous release
        delattr(leaf.model, name)
    delattr(leaf, "wait")
    again = pickle.loads(pickle.dumps(tree))
    feed(again, fi, linear_beats_the_rest(1500, seed=3))
    (leaf,) = leaves(again)
    assert leaf.model.lr.tolist() in ([0.5], [4.0], [0.5, 4.0]) and leaf.model.seen == 1500
