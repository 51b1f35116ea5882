"""The Vowpal Wabbit peer (ihomer.bench.vw): it learns, empty label sets, awkward names, registry.

Tests that need the real VW skip, with the reason, when ``vowpalwabbit`` is not installed (the
``vw`` extra); CI installs it (requirements-ci.txt).
"""

from __future__ import annotations

import builtins
import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ihomer.bench import vw
from ihomer.bench.jobs import Job
from ihomer.bench.models import DEFAULT_MODELS, MODELS, make_model, model_available
from ihomer.bench.vw import VW_HINGE, VW_LOGISTIC, VWMultiLabel, vw_available, vw_name
from ihomer.evaluate import prequential
from streams.synth import LabelClusterStream

VW_OK, VW_WHY = vw_available()
needs_vw = pytest.mark.skipif(not VW_OK, reason=VW_WHY)
CONFIGS = [pytest.param(VW_HINGE, id="hinge"), pytest.param(VW_LOGISTIC, id="logistic")]


def _learn(model, records, repeat=1):
    for _ in range(repeat):
        for x, y in records:
            model.learn_one(x, y)
    return model


# -- no VW needed ---------------------------------------------------------------------------------
@given(st.text(max_size=12), st.text(max_size=12))
def test_vw_name_is_one_to_one_and_safe(a, b):
    ea, eb = vw_name(a), vw_name(b)
    assert (ea == eb) == (a == b)
    assert ea and not any(c in ea for c in " :|\t\n\r\v\f")


def test_missing_vowpalwabbit_is_reported_with_the_reason(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "vowpalwabbit" or name.startswith("vowpalwabbit."):
            raise ImportError("No module named 'vowpalwabbit'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    ok, why = model_available("vw-hinge")
    assert ok is False and "vowpalwabbit" in why and "pip install" in why
    model = VWMultiLabel(labels=["a"])
    with pytest.raises(ImportError, match="vw"):
        model.learn_one({"f": 1.0}, {"a": True})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"labels": []},
        {"labels": ["a", "a"]},
        {"options": 3},
        {"options": "--multilabel_oaa 4"},
        {"threshold": 1.5},
        {"threshold": True},
    ],
)
def test_bad_parameters_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        VWMultiLabel(**kwargs)


def test_registry_has_both_configurations():
    for name in ("vw-hinge", "vw-logistic"):
        assert name in DEFAULT_MODELS
        spec = MODELS[name]
        assert spec.family == "vw" and not spec.stochastic
    assert "hinge" in MODELS["vw-hinge"].description
    assert "--probabilities" in MODELS["vw-logistic"].description


def test_hinge_has_no_probabilities():
    with pytest.raises(NotImplementedError, match="--probabilities"):
        VWMultiLabel(labels=["a"], options=VW_HINGE).predict_proba_one({"f": 1.0})


# -- the real VW ----------------------------------------------------------------------------------
@needs_vw
def test_docstring_examples():
    assert doctest.testmod(vw, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


@needs_vw
@pytest.mark.parametrize("name", ["vw-hinge", "vw-logistic"])
def test_learns_a_generated_stream_well_above_the_majority_baseline(name):
    stream = LabelClusterStream(
        n_features=20, n_labels=12, n_clusters=3, n_instances=3000, sparse=True, seed=3
    )
    assert model_available(name) == (True, "")
    model = make_model(name, seed=None, stream=stream)
    assert model.labels == stream.labels
    ours = prequential(model, stream, trace_every=None).metrics
    base = prequential(make_model("majority-labelset"), stream, trace_every=None).metrics
    assert ours["micro_f1"] > base["micro_f1"] + 0.2, (ours["micro_f1"], base["micro_f1"])
    pred = model.predict_one(next(iter(stream))[0])
    assert set(pred) == set(stream.labels) and all(type(v) is bool for v in pred.values())


def _with_empty_sets(n=300):
    # "a" alone means label p; "a" with "c" means no label at all; "b" means label q.
    out = []
    for i in range(n):
        if i % 3 == 0:
            out.append(({"a": 1.0}, {"p": True, "q": False}))
        elif i % 3 == 1:
            out.append(({"a": 1.0, "c": 1.0}, {"p": False, "q": False}))
        else:
            out.append(({"b": 1.0}, {"p": False, "q": True}))
    return out


@needs_vw
@pytest.mark.parametrize("options", CONFIGS)
def test_empty_label_sets_are_learned(options):
    records = _with_empty_sets()
    model = VWMultiLabel(labels=["p", "q"], options=options)
    result = prequential(model, records, trace_every=None)
    assert model.predict_one({"a": 1.0, "c": 1.0}) == {"p": False, "q": False}
    assert model.predict_one({"a": 1.0}) == {"p": True, "q": False}
    assert model.predict_one({"b": 1.0}) == {"p": False, "q": True}
    # an empty set predicted right counts for subset accuracy: most of the stream is right
    assert result.metrics["subset_accuracy"] > 0.9


@needs_vw
def test_without_the_dummy_label_vw_never_learns_an_empty_set():
    # Why the wrapper adds its always-on label: the same stream driven into VW directly.
    from vowpalwabbit import Workspace

    ws = Workspace("--multilabel_oaa 2 " + VW_HINGE)
    for _ in range(3):
        for x, y in _with_empty_sets():
            on = ",".join(str(i) for i, lab in enumerate(("p", "q")) if y[lab])
            ws.learn(on + " | " + " ".join(x))
    assert 0 in ws.predict("| a c")  # the empty-set examples were taken as test-only


@needs_vw
@pytest.mark.parametrize("options", CONFIGS)
def test_awkward_label_and_feature_names(options):
    # Each label has its own cue; read with VW's separators as separators, the cues of a pair
    # are the same line ("w v" = "w" and "v", "x:2" = "x" worth 2, "y|z" = "y" then namespace z).
    cues = {
        "a b": {"w v": 1.0},
        "c:d": {"w": 1.0, "v": 1.0},
        "e|f": {"x:2": 1.0},
        "1": {"x": 2.0},
        "g h|": {"y|z": 1.0},
        "%3A": {"y": 1.0},
    }
    labels = list(cues)
    records = [(cues[lab], {k: k == lab for k in labels}) for lab in labels] * 60
    model = _learn(VWMultiLabel(labels=labels, options=options), records, repeat=2)
    for lab in labels:
        pred = model.predict_one(cues[lab])
        assert list(pred) == labels
        assert pred == {k: k == lab for k in labels}, (lab, pred)


@needs_vw
def test_strings_missing_and_zero_values():
    model = VWMultiLabel(labels=["r", "g"])
    records = [
        ({"colour": "red", "m": None, "z": 0.0, "n": float("nan")}, {"r": True, "g": False}),
        ({"colour": "green", "m": None, "flag": False}, {"r": False, "g": True}),
    ] * 30
    _learn(model, records)
    assert model._features({"colour": "red", "m": None, "z": 0.0, "w": 2.5}) == ("colour=red w:2.5")
    assert model.predict_one({"colour": "red"}) == {"r": True, "g": False}
    assert model.predict_one({"colour": "green"}) == {"r": False, "g": True}


@needs_vw
def test_labels_from_the_first_instance_and_unknown_labels():
    model = VWMultiLabel()
    assert model.predict_one({"f": 1.0}) == {}
    model.learn_one({"f": 1.0}, {"a": True, "b": False})
    assert set(model.predict_one({"f": 1.0})) == {"a", "b"}
    with pytest.raises(ValueError, match="'c' is not one of the 2 labels"):
        model.learn_one({"f": 1.0}, {"a": True, "c": True})


@needs_vw
def test_logistic_probabilities_match_its_predictions():
    model = VWMultiLabel(labels=["p", "q"], options=VW_LOGISTIC)
    _learn(model, _with_empty_sets(), repeat=2)
    x = {"b": 1.0}
    proba = model.predict_proba_one(x)
    assert {k: p[True] > 0.5 for k, p in proba.items()} == model.predict_one(x)
    assert all(abs(p[True] + p[False] - 1.0) < 1e-9 for p in proba.values())
    # VW keeps stale probabilities in recycled examples: asking again gives the same answer
    for _ in range(40):
        assert model.predict_proba_one(x) == proba
        model.predict_one({"a": 1.0})


@needs_vw
def test_bench_worker_runs_the_vw_peer(tmp_path):
    from ihomer.bench.worker import run_job

    record = run_job(Job(model="vw-hinge", stream="synth-quick", seed=None, max_instances=400))
    assert record["status"] == "ok" and record["model"]["family"] == "vw"
    assert record["result"]["n"] == 400
    assert record["result"]["metrics"]["micro_f1"] > 0.3
