import pickle

import pytest
from river import tree

from ihomer.bench.baselines import DenseInput, MajorityLabelSet, OneHotStrings, ThresholdedRegressor
from ihomer.bench.moa import MOAMultiLabel, moa_available, scan_features
from ihomer.bench.models import DEFAULT_MODELS, MODELS, QUICK_MODELS, make_model, model_available


class _Stream(list):
    labels = ["a", "b"]
    features = ["f", "g"]
    sparse = True


def _stream(n=60):
    # sparse records: "g" only present when non-zero; label a follows f, b is rare
    s = _Stream()
    for i in range(n):
        x = {"f": float(i % 2)}
        if i % 3 == 0:
            x["g"] = 1.0
        s.append((x, {"a": i % 2 == 1, "b": i % 10 == 0}))
    return s


def test_registry_is_consistent():
    assert set(DEFAULT_MODELS) <= set(MODELS) and set(QUICK_MODELS) <= set(MODELS)
    assert MODELS["river-br-arf"].stochastic and not MODELS["river-br-ht"].stochastic
    with pytest.raises(ValueError, match="unknown benchmark model"):
        make_model("nope")
    assert model_available("nope")[0] is False


@pytest.mark.parametrize(
    "name", ["river-br-ht", "river-cc-lr", "river-isoupt", "majority-labelset", "river-br-ht-dense"]
)
def test_river_peers_learn_and_predict_every_label(name):
    stream = _stream(450)  # trees split after their 200-instance grace period
    model = make_model(name, seed=1, stream=stream)
    for x, y in stream:
        model.predict_one(x)
        model.learn_one(x, y)
    pred = model.predict_one({"f": 1.0})
    assert set(pred) == {"a", "b"}
    if name != "majority-labelset":
        assert pred["a"] is True or pred["a"] == True  # noqa: E712 (numpy bools)


def test_majority_label_set_keeps_the_first_of_tied_sets():
    m = MajorityLabelSet()
    assert m.predict_one({}) == {}
    m.learn_one({}, {"a": True, "b": False})
    m.learn_one({}, {"a": False, "b": True})
    assert m.predict_one({}) == {"a": True, "b": False}
    m.learn_one({}, {"a": False, "b": True, "c": False})
    assert m.predict_one({}) == {"a": False, "b": True, "c": False}
    assert m.clone().predict_one({}) == {}


def test_thresholded_regressor_and_input_transforms():
    m = ThresholdedRegressor(tree.ISOUPTreeRegressor(), threshold=0.5)
    for i in range(30):
        m.learn_one({"f": float(i % 2)}, {"a": i % 2 == 1})
    assert m.predict_one({"f": 0.0}) == {"a": False}
    assert OneHotStrings().transform_one({"c": "x", "n": float("nan"), "v": 2}) == {
        "c=x": 1.0,
        "v": 2,
    }
    d = DenseInput(MajorityLabelSet(), features=["f", "g"])
    assert d._dense({"g": 3.0}) == {"f": 0.0, "g": 3.0}


def test_scan_features_finds_categories_in_first_seen_order():
    scan = scan_features([({"b": 1.0, "s": "u"}, {"y": True}), ({"a": 2, "s": "v"}, {})])
    assert scan == (["b", "s", "a"], ["y"], {"s": ["u", "v"]})


def test_moa_adapter_takes_categorical_features_as_nominal():
    ok, why = moa_available()
    if not ok:
        pytest.skip(why)
    m = MOAMultiLabel("br-ht", features=["c"], labels=["a"], nominal={"c": ["on", "off"]})
    for i in range(400):
        m.learn_one({"c": "on" if i % 2 else "off"}, {"a": i % 2 == 1})
    assert m.predict_one({"c": "on"}) == {"a": True}
    assert m.predict_one({"c": "off"}) == {"a": False}
    m.predict_one({"c": "never-seen"})  # an unseen category is a missing value, not an error


def test_moa_adapter_learns_sparse_records_and_clones_fresh():
    ok, why = moa_available()
    if not ok:
        pytest.skip(why)
    stream = _stream(200)
    m = MOAMultiLabel("br-ht", features=["f", "g"], labels=["a", "b"])
    assert m.predict_one({"f": 1.0}) == {"a": False, "b": False}  # cold start: every label
    for x, y in stream:
        m.learn_one(x, y)
    assert m.predict_one({"f": 1.0})["a"] is True
    assert m.predict_one({"f": 0.0})["a"] is False
    proba = m.predict_proba_one({"f": 1.0, "unknown": 5.0})
    assert set(proba) == {"a", "b"} and 0.0 <= proba["b"][True] <= 1.0
    fresh = m.clone()
    assert fresh.predict_one({"f": 1.0}) == {"a": False, "b": False}
    assert pickle.loads(pickle.dumps(m))._model is None
    with pytest.raises(ValueError, match="unknown MOA learner"):
        MOAMultiLabel("nope", features=["f"], labels=["a"]).predict_one({})
