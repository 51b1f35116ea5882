"""The scorer learns: a planted rule, determinism for a seed, growth never changes predictions."""

from __future__ import annotations

import numpy as np

from ihomer.neural import NeuralMultiLabelClassifier
from tests.neural.helpers import as_dicts, planted


def make(**kw) -> NeuralMultiLabelClassifier:
    params = {"hidden": (32,), "device": "cpu", "lr": 3e-3, "seed": 0}
    params.update(kw)
    return NeuralMultiLabelClassifier(**params)


def test_learns_planted_rule_with_batches(data):
    X, Y = data
    model = make()
    for _ in range(3):
        for s in range(0, 1000, 32):
            model.learn_many(X[s : s + 32], Y[s : s + 32])
    pred = model.predict_many(X[1000:])
    acc = (pred == Y[1000:]).mean(axis=0)
    chance = np.maximum(Y[1000:].mean(axis=0), 1 - Y[1000:].mean(axis=0))
    assert (acc > 0.9).all(), acc
    assert (acc > chance + 0.1).all(), (acc, chance)


def test_learns_planted_rule_one_at_a_time(data):
    X, Y = data
    xs, ys = as_dicts(X, Y)
    model = make(batch_size=16)
    for _ in range(2):
        for x, y in zip(xs[:1000], ys[:1000], strict=True):
            model.learn_one(x, y)
    hits = np.array(
        [[model.predict_one(x)[k] == v for k, v in y.items()] for x, y in zip(xs[1000:], ys[1000:])]
    )
    assert (hits.mean(axis=0) > 0.85).all(), hits.mean(axis=0)


def _run(seed: int) -> np.ndarray:
    X, Y = planted(300, seed=5)
    xs, ys = as_dicts(X, Y)
    model = make(seed=seed, batch_size=8, hidden=(16, 8))
    for x, y in zip(xs[:200], ys[:200], strict=True):
        model.learn_one(x, y)
    model.learn_many(X[200:], Y[200:])  # numpy columns are new features 0..d-1
    return np.array(
        [[p[True] for p in model.predict_proba_one(x).values()] for x in xs[200:220]]
    )


def test_deterministic_on_cpu_for_a_seed():
    a, b = _run(seed=7), _run(seed=7)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, _run(seed=8))


def test_growing_inputs_and_outputs_keeps_predictions():
    X, Y = planted(200)
    model = make()
    model.learn_many(X, Y)
    before = model.predict_proba_many(X)
    engine = model.engine
    engine.ensure(engine.n_in + 5, engine.n_out + 2)
    wide = np.hstack([X, np.zeros((len(X), 5))]).astype(np.float32)
    after = engine.predict_proba(wide)
    assert np.allclose(after[:, :3], before, rtol=0, atol=1e-6)
    assert (after[:, 3:] == 0.5).all()
    # training after growth still works and moves the new outputs
    engine.train(wide[:64], np.hstack([Y[:64], np.ones((64, 2), dtype=bool)]))
    assert (engine.predict_proba(wide[:64])[:, 3:] > 0.5).all()


def test_optimizer_state_follows_growth():
    X, Y = planted(128)
    model = make(hidden=())
    model.learn_many(X, Y)
    engine = model.engine
    engine.ensure(engine.n_in + 3, engine.n_out + 1)
    for p in engine._params:
        state = engine._opt.state[p]
        assert state["exp_avg"].shape == p.shape


def test_running_standardisation_matches_numpy_and_imputes_missing():
    torch = __import__("torch")
    from ihomer.neural.engine import MLPEngine

    rng = np.random.default_rng(1)
    X = (rng.normal(size=(1500, 4)) * [1, 10, 0.01, 3] + [1e3, -5, 0.5, 0]).astype(np.float32)
    engine = MLPEngine(4, 1, hidden=(4,), device="cpu")
    for s in range(0, 1500, 100):
        engine.train(X[s : s + 100], np.zeros((100, 1), dtype=bool))
    mean = engine._mean64.numpy()
    std = np.sqrt(engine._m2.numpy() / engine._n)
    assert np.allclose(mean, X.astype(np.float64).mean(axis=0), rtol=1e-5, atol=1e-6)
    assert np.allclose(std, X.astype(np.float64).std(axis=0), rtol=1e-3)
    with torch.inference_mode():
        xs = engine._prepare(torch.from_numpy(X), update=False).numpy()
    assert np.allclose(xs.mean(axis=0), 0, atol=1e-3) and np.allclose(xs.std(axis=0), 1, atol=1e-3)
    missing = np.full((1, 4), np.nan, dtype=np.float32)
    with torch.inference_mode():
        assert (engine._prepare(torch.from_numpy(missing), update=False).numpy() == 0).all()
