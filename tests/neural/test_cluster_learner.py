"""NeuralClusterLearner honours the ClusterLearner contract and learns from SparseRows."""

from __future__ import annotations

import copy

import numpy as np

from ihomer.features import FeatureIndex
from ihomer.learner import ClusterLearner
from ihomer.neural import NeuralClusterLearner
from tests.neural.helpers import planted


def make(**kw) -> NeuralClusterLearner:
    params = {"hidden": (16,), "device": "cpu", "batch_size": 8, "lr": 3e-3}
    params.update(kw)
    return NeuralClusterLearner(**params)


def test_contract_shapes_and_new_labels():
    learner = make()
    assert isinstance(learner, ClusterLearner)
    fi = FeatureIndex()
    assert learner.n_labels == 0
    learner.add_labels(2)
    p = learner.predict_proba(fi.encode({"a": 1.0}))
    assert p.dtype == np.float64 and p.shape == (2,) and (p == 0.5).all()
    for i in range(8):
        learner.learn(fi.encode({"a": float(i), "b": 1.0}), np.array([i % 2 == 0, True]))
    assert learner.n_pending == 0
    learner.add_labels(1)
    # a column id the learner never trained on (the shared index grew elsewhere) is ignored
    p = learner.predict_proba(fi.encode({"a": 1.0, "zzz_unseen": 4.0}))
    assert p.shape == (3,) and p[2] == 0.5
    learner.learn(fi.encode({"c": 2.0}), np.array([True, False, True]))
    learner.flush()
    assert learner.engine.n_in == 4 and learner.engine.n_out == 3  # "c" got column id 3
    assert learner.memory_bytes() > 0
    assert learner.drain_events() == []


def test_learns_planted_rule_from_sparse_rows():
    X, Y = planted(1200)
    fi = FeatureIndex()
    rows = [fi.encode({f"f{j}": float(v) for j, v in enumerate(x)}) for x in X]
    learner = make()
    learner.add_labels(3)
    for _ in range(2):
        for row, y in zip(rows[:1000], Y[:1000], strict=True):
            learner.learn(row, y)
    pred = np.array([learner.predict_proba(r) > 0.5 for r in rows[1000:]])
    assert ((pred == Y[1000:]).mean(axis=0) > 0.85).all()


def test_clone_is_fresh_and_copies_keep_predictions():
    fi = FeatureIndex()
    learner = make(batch_size=2)
    learner.add_labels(1)
    for i in range(4):
        learner.learn(fi.encode({"a": float(i)}), np.array([i > 1]))
    clone = learner.clone()
    assert clone.n_labels == 0 and clone.memory_bytes() == 0
    copied = copy.deepcopy(learner)
    row = fi.encode({"a": 3.0})
    assert np.array_equal(copied.predict_proba(row), learner.predict_proba(row))


def test_too_long_label_vector_is_rejected():
    learner = make()
    learner.add_labels(1)
    try:
        learner.learn(FeatureIndex().encode({"a": 1.0}), np.array([True, True]))
    except ValueError as e:
        assert "2 labels" in str(e)
    else:
        raise AssertionError("expected ValueError")


def test_plugs_into_ihomer_as_cluster_learner():
    try:
        from ihomer import IHOMER
    except ImportError as e:  # pragma: no cover - the model is part of the package
        import pytest

        pytest.skip(f"ihomer.model not importable: {e}")
    X, Y = planted(500)
    model = IHOMER(cluster_learner=make(batch_size=8, lr=1e-2), n_min=100, seed=0)
    hits = []
    for i, (x, y) in enumerate(zip(X, Y, strict=True)):
        xd = {f"f{j}": float(v) for j, v in enumerate(x)}
        yd = {f"l{k}": bool(v) for k, v in enumerate(y)}
        pred = model.predict_one(xd)
        if i >= 350:
            hits.append([pred.get(k, False) == v for k, v in yd.items()])
        model.learn_one(xd, yd)
    assert set(model.predict_one({"f0": 1.0})) == {"l0", "l1", "l2"}
    acc = np.mean(hits, axis=0)
    chance = np.maximum(Y[350:].mean(axis=0), 1 - Y[350:].mean(axis=0))
    assert (acc > 0.8).all() and (acc > chance + 0.1).all(), (acc, chance)
