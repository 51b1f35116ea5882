"""The river contract of IHOMER, checked with river's own check functions on offline streams."""

from __future__ import annotations

import copy
import pickle
import random

import numpy as np
import pytest
from river import datasets
from river.checks import common

from ihomer import IHOMER
from ihomer.learner import ClusterLearner


def _stream(n=300, seed=0, n_labels=6, n_features=8, sparse=False):
    """A small seeded multi-label stream: labels depend on the features."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x = {f"f{j}": rng.random() for j in range(n_features)}
        if sparse:  # keep at least one feature: river's checks pick one at random
            x = {k: v for k, v in x.items() if v > 0.5} or {"f0": x["f0"]}
        y = {f"l{i}": x.get(f"f{i % n_features}", 0.0) > 0.6 for i in range(n_labels)}
        out.append((x, y))
    return out


DATASET_CHECKS = [
    common.check_learn_one,
    common.check_pickling,
    common.check_shuffle_features_no_impact,
    common.check_emerging_features,
    common.check_disappearing_features,
    common.check_radically_disappearing_features,
    common.check_predict_one_pure,
    common.check_predict_one_before_any_learn,
    common.check_no_state_aliasing_with_input,
    common.check_clone_is_independent,
]
GENERAL_CHECKS = [
    common.check_repr,
    common.check_str,
    common.check_tags,
    common.check_clone_same_class,
    common.check_clone_is_idempotent,
    common.check_init_has_default_params_for_tests,
    common.check_init_default_params_are_not_mutable,
    common.check_doc,
    common.check_clone_changes_memory_addresses,
    common.check_pickling_supports_roundtrip,
    common.check_repr_roundtrips_clone,
    common.check_clone_with_new_params_applies,
    common.check_get_params_matches_signature,
]


@pytest.mark.parametrize("check", GENERAL_CHECKS, ids=lambda c: c.__name__)
def test_river_general_checks(check):
    for params in IHOMER._unit_test_params():
        check(IHOMER(**params))


@pytest.mark.parametrize("check", DATASET_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_river_dataset_checks(check, sparse):
    for params in IHOMER._unit_test_params():
        check(IHOMER(**params), dataset=_stream(120, seed=3, sparse=sparse))


def test_bounded_memory_growth():
    common.check_bounded_memory_growth(IHOMER(n_min=50), dataset=_stream(1000, seed=5))


def test_every_seen_label_predicted_from_the_first_call():
    model = IHOMER()
    assert model.predict_one({"a": 1.0}) == {}
    assert model.predict_proba_one({"a": 1.0}) == {}
    model.learn_one({"a": 1.0}, {"x": True, "y": False})
    assert set(model.predict_one({"a": 1.0})) == {"x", "y"}
    proba = model.predict_proba_one({"a": 1.0})
    assert set(proba) == {"x", "y"}
    for p in proba.values():
        assert p[True] + p[False] == pytest.approx(1.0)
    # a new label appears later, and a label missing from y counts as False
    model.learn_one({"a": 0.0}, {"z": True})
    assert set(model.predict_one({})) == {"x", "y", "z"}
    assert sorted(lab for c in model.partition for lab in c) == ["x", "y", "z"]


def test_label_missing_from_y_counts_as_false():
    # once the model knows a label, leaving it out of y is the same as saying False. (A label
    # the model has not been told of yet cannot be learned as False: before its first mention
    # its columns do not exist, so b below names every label once, on the first instance.)
    a, b = IHOMER(seed=1), IHOMER(seed=1)
    data = _stream(200, seed=2)
    for i, (x, y) in enumerate(data):
        a.learn_one(x, y)
        b.learn_one(x, y if i == 0 else {k: v for k, v in y.items() if v})
    assert a._labels == b._labels and len(a._labels) > 2
    assert any(not all(y.values()) for _, y in data[1:])  # b was sent short label sets
    for x, _ in data[:50]:
        pa, pb = a.predict_proba_one(x), b.predict_proba_one(x)
        assert pa == pb


def test_a_label_first_named_later_is_learned_from_then_on():
    # b names each label only when it is true: a label's model starts at its first mention, so
    # b's predictions differ from a's, but b knows every label and learns each of them
    a, b = IHOMER(seed=1), IHOMER(seed=1)
    data = _stream(400, seed=2)
    for x, y in data:
        a.learn_one(x, y)
        b.learn_one(x, {k: v for k, v in y.items() if v} | {"l0": y["l0"]})
    assert set(a._labels) == set(b._labels)
    hits = {"a": 0, "b": 0}
    for x, y in data[-100:]:
        for name, m in (("a", a), ("b", b)):
            pred = m.predict_one(x)
            hits[name] += sum(pred.get(k, False) == v for k, v in y.items())
    assert hits["b"] >= 0.9 * hits["a"]


def test_partition_invariant_through_the_model():
    model = IHOMER(n_min=30)
    rng = random.Random(7)
    for i in range(1500):
        n_labels = 4 + i // 100  # new labels keep appearing
        y = {f"l{j}": rng.random() < 0.3 for j in range(n_labels) if rng.random() < 0.8}
        model.learn_one({"f": rng.random()}, y)
        seen = sorted(model._label_ids)
        flat = sorted(lab for c in model.partition for lab in c)
        assert flat == seen, f"step {i}: every seen label in exactly one cluster"
        assert len(model.predict_one({"f": 0.5})) == len(seen)


def test_deterministic_for_a_seed():
    data = _stream(400, seed=11)
    preds = []
    for _ in range(2):
        model = IHOMER(seed=4)
        out = []
        for x, y in data:
            out.append(model.predict_proba_one(x))
            model.learn_one(x, y)
        preds.append(out)
    assert preds[0] == preds[1]


def test_sparse_and_dense_dicts_give_identical_predictions():
    dense = _stream(600, seed=13, n_features=10)
    sparse = [({k: v for k, v in x.items() if v > 0.5}, y) for x, y in dense]
    dense = [({k: (v if v > 0.5 else 0.0) for k, v in x.items()}, y) for x, y in dense]
    a, b = IHOMER(seed=0), IHOMER(seed=0)
    for (xd, y), (xs, _) in zip(dense, sparse):
        assert a.predict_proba_one(xd) == b.predict_proba_one(xs)
        a.learn_one(xd, y)
        b.learn_one(xs, y)


def test_pickle_roundtrip_mid_stream_continues_identically():
    data = list(datasets.Yeast().take(500))
    model = IHOMER(seed=2)
    for x, y in data[:300]:
        model.predict_one(x)
        model.learn_one(x, y)
    twin = pickle.loads(pickle.dumps(model))
    for x, y in data[300:]:
        assert model.predict_proba_one(x) == twin.predict_proba_one(x)
        model.learn_one(x, y)
        twin.learn_one(x, y)


def test_clone_is_untrained_and_keeps_params():
    model = IHOMER(n_min=77, threshold=0.4)
    for x, y in _stream(100):
        model.learn_one(x, y)
    fresh = model.clone()
    assert fresh.n_min == 77 and fresh.threshold == 0.4
    assert fresh.predict_one({"f0": 1.0}) == {}


def test_learn_one_does_not_mutate_inputs():
    x, y = {"a": 1.0, "b": None, "c": "red"}, {"x": True, "y": False}
    xx, yy = copy.deepcopy(x), copy.deepcopy(y)
    model = IHOMER()
    model.learn_one(x, y)
    model.predict_one(x)
    assert x == xx and y == yy


class _Unsure(ClusterLearner):
    """A cluster learner that is never sure of anything: p = 0.3 for every label."""

    def __init__(self):
        pass

    @property
    def n_labels(self):
        return getattr(self, "_n", 0)

    def add_labels(self, k):
        self._n = self.n_labels + k

    def learn(self, row, y, w=1.0):
        pass

    def predict_proba(self, row):
        return np.full(self.n_labels, 0.3)


def test_empty_fallback_predicts_the_most_probable_frequent_set():
    data = [({"f": 1.0}, {"a": True, "b": i % 3 == 0, "c": False}) for i in range(300)]
    for fallback, expect_empty in [(True, False), (False, True), ("auto", False)]:
        # (no margin scorer: it would learn that "a" is always on, and the model be sure)
        model = IHOMER(cluster_learner=_Unsure(), empty_fallback=fallback, decision="fixed",
                       margin_blend=None)  # fmt: skip
        for x, y in data:
            model.learn_one(x, y)
        pred = model.predict_one({"f": 1.0})
        assert (not any(pred.values())) is expect_empty, fallback
        if not expect_empty:  # {a} is the most frequent set and the most probable under p=0.3
            assert pred == {"a": True, "b": False, "c": False}


def test_auto_fallback_is_off_when_empty_sets_are_common():
    data = [({"f": 1.0}, {"a": i % 2 == 0}) for i in range(300)]  # half the sets are empty
    model = IHOMER(cluster_learner=_Unsure(), empty_fallback="auto", decision="fixed")
    for x, y in data:
        model.learn_one(x, y)
    assert model.predict_one({"f": 1.0}) == {"a": False}


@pytest.mark.parametrize(
    "params",
    [
        {"n_min": -1},
        {"n_min": 0},
        {"seed": "abc"},
        {"empty_rate": 3},
        {"delta": "x"},
        {"threshold": float("nan")},
        {"warm_start": 2.5},
        {"global_drift_delta": 2.0},
        {"delta": 1.5},
        {"threshold": 1.0},
        {"empty_fallback": "sometimes"},
        {"label_fading": 0.0},
        {"cluster_learner": object()},
    ],
)
def test_bad_parameters_fail_in_init(params):
    with pytest.raises(ValueError):
        IHOMER(**params)


def test_restored_model_learns_whether_trained_or_not():
    import pickle

    from river import datasets

    untrained = IHOMER()
    # reading the events builds the (empty) state, as the daemon does before its first checkpoint
    assert len(untrained.events.counts) == 0
    data = list(datasets.Yeast().take(20))
    for model in (untrained, IHOMER()):
        restored = pickle.loads(pickle.dumps(model))
        for x, y in data:
            restored.predict_one(x)
            restored.learn_one(x, y)
        assert restored.n_learned == 20
        again = pickle.loads(pickle.dumps(restored))
        again.learn_one(*data[0])
        assert again.n_learned == 21


@pytest.mark.parametrize("partitioning", ["one", "binary_relevance"])
def test_ablation_partitionings(partitioning):
    model = IHOMER(partitioning=partitioning, handover=False)
    for x, y in datasets.Yeast().take(400):
        model.learn_one(x, y)
    sizes = sorted(len(c) for c in model.partition)
    assert sum(sizes) == 14
    assert sizes == ([14] if partitioning == "one" else [1] * 14)
    with pytest.raises(ValueError, match="partitioning"):
        IHOMER(partitioning="flat")
