"""The river dict API of NeuralMultiLabelClassifier: cold start, growth, buffering, parameters."""

from __future__ import annotations

import numpy as np
import pytest

from ihomer.neural import NeuralMultiLabelClassifier


def make(**kw) -> NeuralMultiLabelClassifier:
    params = {"hidden": (8,), "device": "cpu", "batch_size": 4}
    params.update(kw)
    return NeuralMultiLabelClassifier(**params)


def test_cold_start_and_every_seen_label_predicted():
    model = make()
    assert model.predict_one({"a": 1.0}) == {}
    assert model.predict_proba_one({"a": 1.0}) == {}
    model.learn_one({"a": 1.0}, {"x": True, "y": False})
    assert model.n_pending == 1  # buffered, not trained yet
    proba = model.predict_proba_one({"a": 1.0})
    assert set(proba) == {"x", "y"}
    for p in proba.values():  # untrained output rows: exactly 0.5
        assert p == {False: 0.5, True: 0.5}
    assert model.predict_one({"a": 1.0}) == {"x": False, "y": False}


def test_buffer_trains_on_full_batch_and_flush():
    model = make(batch_size=3)
    for i in range(2):
        model.learn_one({"a": float(i)}, {"x": True})
    assert model.n_pending == 2
    model.flush()
    assert model.n_pending == 0
    assert model.engine.steps == 1
    for i in range(3):
        model.learn_one({"a": float(i)}, {"x": True})
    assert model.n_pending == 0
    assert model.engine.steps == 2
    assert model.predict_proba_one({"a": 1.0})["x"][True] > 0.5


def test_new_labels_and_features_on_the_fly():
    model = make(batch_size=2)
    for i in range(6):
        model.learn_one({"a": float(i % 3)}, {"x": i % 2 == 0})
    before = model.predict_proba_one({"a": 2.0})
    # a new feature and a new label arrive; "x" is absent from y, so it counts as False
    model.learn_one({"a": 2.0, "b": 5.0, "c": "red"}, {"z": True})
    assert model.labels == ["x", "z"]
    assert model.feature_names == ["a", "b", "c=red"]
    after = model.predict_proba_one({"a": 2.0})
    assert set(after) == {"x", "z"}
    # growing (not training: the instance is still pending) keeps old predictions
    assert after["x"][True] == pytest.approx(before["x"][True], abs=1e-6)
    assert after["z"][True] == 0.5
    model.flush()
    x, y, _ = model._buffer.dense(3, 2)  # empty after flush
    assert x.shape == (0, 3) and y.shape == (0, 2)
    assert model.engine.n_in == 3 and model.engine.n_out == 2


def test_unseen_feature_at_prediction_is_ignored_and_not_registered():
    model = make(batch_size=1)
    model.learn_one({"a": 1.0}, {"x": True})
    p1 = model.predict_proba_one({"a": 1.0})
    p2 = model.predict_proba_one({"a": 1.0, "never": 3.0})
    assert p1 == p2
    assert model.feature_names == ["a"]


def test_missing_values_are_imputed_not_errors():
    model = make(batch_size=2)
    for i in range(8):
        model.learn_one({"a": float(i), "b": None if i % 2 else 1.0}, {"x": i > 3})
    p = model.predict_proba_one({"a": float("nan"), "b": None})["x"][True]
    assert np.isfinite(p)


def test_clone_is_fresh_and_keeps_params():
    model = make(lr=0.01, seed=3)
    model.learn_one({"a": 1.0}, {"x": True})
    clone = model.clone()
    assert clone.labels == [] and clone.n_pending == 0
    assert clone.lr == 0.01 and clone.seed == 3 and clone.hidden == (8,)


@pytest.mark.parametrize(
    "kw",
    [
        {"hidden": (0,)},
        {"hidden": 16},
        {"lr": 0.0},
        {"optimizer": "rmsprop"},
        {"weight_decay": -1.0},
        {"batch_size": 0},
        {"max_batch": 0},
        {"amp": "fp8"},
        {"threshold": 1.0},
        {"threads": 0},
    ],
)
def test_bad_parameters_raise_value_error(kw):
    with pytest.raises(ValueError):
        make(**kw)


def test_bad_device_raises_value_error_when_network_is_built():
    torch = pytest.importorskip("torch")
    model = make(device="tpu")
    model.learn_one({"a": 1.0}, {"x": True})
    with pytest.raises(ValueError, match="device"):
        model.flush()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda"):
            make(device="cuda").predict_proba_many(np.zeros((1, 1)))
        with pytest.raises(ValueError, match="bf16"):
            make(amp="bf16").predict_proba_many(np.zeros((1, 1)))


def test_auto_device_is_cpu_without_cuda():
    torch = pytest.importorskip("torch")
    model = NeuralMultiLabelClassifier(hidden=(4,))
    model.learn_many(np.zeros((2, 3)), np.zeros((2, 2), dtype=bool))
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert model.engine.device.type == expected
    if expected == "cpu":
        assert model.engine.amp_dtype is None


@pytest.mark.parametrize(
    "check",
    [
        "check_repr",
        "check_clone_same_class",
        "check_clone_is_idempotent",
        "check_init_has_default_params_for_tests",
        "check_init_default_params_are_not_mutable",
        "check_doc",
        "check_clone_changes_memory_addresses",
        "check_pickling_supports_roundtrip",
        "check_repr_roundtrips_clone",
        "check_get_params_matches_signature",
        "check_predict_one_before_any_learn",
    ],
)
def test_river_estimator_checks_that_need_no_download(check):
    # river.checks.yield_checks builds its datasets with scikit-learn (not a dependency) and a
    # download; call the check functions directly, on offline records for the dataset ones.
    from river.checks import common

    model = make()
    fn = getattr(common, check)
    if check == "check_predict_one_before_any_learn":
        fn(model.clone(), dataset=[({"a": 1.0, "b": 0.5}, {"x": True, "y": False})])
    else:
        fn(model.clone())


def test_threads_parameter_sets_torch_threads_on_cpu():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        model = make(threads=2)
        model.learn_many(np.zeros((2, 1)), np.zeros((2, 1), dtype=bool))
        assert torch.get_num_threads() == 2
        model = make(threads=None)
        torch.set_num_threads(1)
        model.learn_many(np.zeros((2, 1)), np.zeros((2, 1), dtype=bool))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
