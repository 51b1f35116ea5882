import pytest

from ihomer.bench.suite import (
    SYNTH_DRIFT,
    default_streams,
    open_bench_stream,
    parse_drifts,
    quick_streams,
    resolve,
)


def test_synthetic_spec_with_scheduled_drifts_opens_with_them():
    s = open_bench_stream(
        "synth:n_instances=400,n_features=6,n_labels=6,n_clusters=2,seed=3,"
        "drifts=100:labels+250:concept:20"
    )
    assert s.drift_points == [100, 250]
    assert sum(1 for _ in s) == 400


def test_the_drift_alias_is_seeded_by_the_job():
    spec = resolve(SYNTH_DRIFT)
    assert "{seed}" in spec and "drifts=" in spec
    a = open_bench_stream(spec.replace("{seed}", "1"))
    b = open_bench_stream(spec.replace("{seed}", "2"))
    assert a.drift_points == b.drift_points and len(a.drift_points) == 2
    assert next(iter(a))[0] != next(iter(b))[0]


def test_bad_drift_text_is_rejected_with_the_part():
    with pytest.raises(ValueError, match="'x:labels'"):
        parse_drifts("100:labels+x:labels")


def test_default_and_quick_streams():
    assert SYNTH_DRIFT in default_streams()
    assert "river:yeast" in quick_streams()
    assert resolve("scene") == "scene"
