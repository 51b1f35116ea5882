"""The one model registry (ihomer.registry): the CLI, the benchmark and the daemon build the same
models from the same specs, and a bad spec is a ValueError that names it."""

from __future__ import annotations

import pytest

from ihomer.bench.models import MODELS
from ihomer.bench.models import make_model as bench_make_model
from ihomer.registry import build_model, model_names, parse_model_spec
from ihomer.serve.models import make_model as serve_make_model


def test_ihomer_parameters_and_seed():
    model = build_model("ihomer:n_min=77,threshold=0.4,empty_fallback=false", seed=5)
    assert (model.n_min, model.threshold, model.empty_fallback, model.seed) == (77, 0.4, False, 5)
    assert build_model("ihomer:seed=3", seed=5).seed == 3  # the spec wins over the default


@pytest.mark.parametrize(
    "spec, match",
    [
        ("ihomer:grace_period=10", "model 'ihomer': unknown parameter 'grace_period'; known: "),
        ("ihomer:n_min=-1", "n_min must be a positive integer"),
        ("ihomer:seed=abc", "seed must be None or an integer"),
        ("ihomer:empty_rate=3", "empty_rate must be in"),
        ("ihomer:n_min", "'n_min' is not key=value"),
        ("nope", "unknown model 'nope'; known: ihomer, br-logreg, "),
        ("river-br-ht:x=1", "takes no parameters"),
        ("br-logreg:alpha=1", "model 'br-logreg': unknown parameter 'alpha'"),
        ("no.such.module:factory", "cannot load the factory"),
        ("", "non-empty string"),
    ],
)
def test_bad_specs_are_value_errors_that_name_the_problem(spec, match):
    with pytest.raises(ValueError, match=match):
        build_model(spec)


def test_the_three_doors_build_the_same_models():
    for door in (build_model, serve_make_model):
        assert type(door("br-logreg")).__name__ == "LabelwiseLogistic"
        assert type(door("ihomer:n_min=50")).__name__ == "IHOMER"
    assert bench_make_model("ihomer:n_min=50", seed=None).n_min == 50
    assert build_model("ihomer", seed=42).seed == serve_make_model("ihomer").seed == 42
    model = bench_make_model("majority-labelset")
    assert type(model) is type(build_model("majority-labelset"))
    assert type(serve_make_model("ihomer.serve.models:LabelwiseLogistic")).__name__ == (
        "LabelwiseLogistic"
    )


def test_every_benchmark_model_is_a_registry_name():
    assert set(MODELS) <= set(model_names())
    with pytest.raises(ValueError, match="needs the stream"):
        build_model("moa-mlht")


def test_parse_model_spec_types():
    assert parse_model_spec("ihomer:a=1,b=0.5,c=none,d=true,e=text") == (
        "ihomer", {"a": 1, "b": 0.5, "c": None, "d": True, "e": "text"}
    )


def test_a_peer_whose_extra_is_missing_says_so(monkeypatch):
    import ihomer.bench.models as bench_models

    monkeypatch.setattr(
        bench_models, "model_available",
        lambda name: (False, "MOA unavailable: capymoa not installed (the 'moa' extra)"),
    )  # fmt: skip
    with pytest.raises(ValueError, match="model 'moa-mlht' cannot run here: MOA unavailable"):
        build_model("moa-mlht")
