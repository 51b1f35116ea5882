"""ihomer.evaluate: the prequential step and loop (order, coverage, traces, events, results)."""

from __future__ import annotations

import itertools
import json
import time
import tracemalloc

import numpy as np
import pytest
from river import datasets, linear_model, multioutput

from ihomer.evaluate import (
    PrequentialResult,
    PrequentialStep,
    format_table,
    prequential,
)
from ihomer.events import EventLog
from ihomer.metrics import METRIC_NAMES, MultiLabelReport

TOL = 1e-12


class RecordingModel:
    """Predicts the label set it learned last (so a prediction made after learning would differ)
    and records the order of calls."""

    def __init__(self, predict_none: bool = False):
        self.calls: list[tuple[str, int]] = []
        self.last: dict = {}
        self.predict_none = predict_none

    def predict_one(self, x):
        self.calls.append(("predict", x["i"]))
        return None if self.predict_none else dict(self.last)

    def learn_one(self, x, y):
        self.calls.append(("learn", x["i"]))
        self.last = dict(y)


class EventfulModel(RecordingModel):
    """Records a structural event every third instance; ``n_clusters`` grows with the events."""

    def __init__(self, lazy: bool = False):
        super().__init__()
        self.lazy = lazy
        self.n_seen = 0
        if not lazy:
            self.events = EventLog()

    @property
    def n_clusters(self):
        return 1 + self.events.counts["cluster_split"]

    def learn_one(self, x, y):
        super().learn_one(x, y)
        if not hasattr(self, "events"):
            self.events = EventLog()
        self.n_seen += 1
        if self.n_seen == 1:  # in the same call that creates a lazy log
            self.events.record(1, "label_added", label="l0")
        if self.n_seen % 3 == 0:
            self.events.record(self.n_seen, "cluster_split", size=self.n_seen, pivots=("a", "b"))


def toy_stream(n, seed=0, n_labels=4):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        y = {f"l{j}": bool(v) for j, v in enumerate(rng.random(n_labels) < 0.4)}
        out.append(({"i": i, "f": float(rng.random())}, y))
    return out


def hand_loop_report(stream, predict):
    report = MultiLabelReport()
    for x, y in stream:
        report.update(y, predict(x))
    return report


# --------------------------------------------------------------------------- the step
def test_step_predicts_before_it_learns():
    model = RecordingModel()
    step = PrequentialStep(model)
    stream = toy_stream(5)
    preds = [step(x, y) for x, y in stream]
    assert model.calls == [(k, i) for i in range(5) for k in ("predict", "learn")]
    # each prediction is the previous instance's labels: made before learning the current one
    assert preds[0] == {}
    assert preds[1:] == [y for _, y in stream[:-1]]
    assert step.n == step.report.n == 5
    assert step.predict_seconds >= 0 and step.learn_seconds >= 0


def test_step_scores_into_a_given_report():
    report = MultiLabelReport()
    step = PrequentialStep(RecordingModel(), report)
    stream = toy_stream(7)
    for x, y in stream:
        step(x, y)
    assert step.report is report
    expected = hand_loop_report(stream, lambda x: stream[x["i"] - 1][1] if x["i"] else {})
    assert report.get() == expected.get()


def test_step_times_predict_and_learn_separately():
    class Slow(RecordingModel):
        def predict_one(self, x):
            time.sleep(0.004)
            return super().predict_one(x)

    step = PrequentialStep(Slow())
    for x, y in toy_stream(3):
        step(x, y)
    assert step.predict_seconds >= 3 * 0.004
    assert step.learn_seconds < step.predict_seconds


def test_step_errors_say_which_instance():
    class Broken(RecordingModel):
        def learn_one(self, x, y):
            if x["i"] == 2:
                raise RuntimeError("boom")
            super().learn_one(x, y)

    step = PrequentialStep(Broken())
    with pytest.raises(RuntimeError) as info:
        for x, y in toy_stream(4):
            step(x, y)
    assert any("learn_one of instance 2" in note for note in info.value.__notes__)


# --------------------------------------------------------------------------- the loop
@pytest.mark.parametrize("predict_none", [False, True])
def test_every_instance_is_scored_including_empty_predictions(predict_none):
    stream = toy_stream(23, seed=4)
    model = RecordingModel(predict_none=predict_none)
    result = prequential(model, stream, trace_every=5)
    assert result.n == 23
    if predict_none:
        # the empty prediction is scored: exact match only where the true set is empty
        n_empty = sum(not any(y.values()) for _, y in stream)
        assert result.metrics["subset_accuracy"] == pytest.approx(n_empty / 23, abs=TOL)
        assert result.metrics["micro_recall"] == 0.0
        expected = hand_loop_report(stream, lambda x: {})
    else:
        expected = hand_loop_report(stream, lambda x: stream[x["i"] - 1][1] if x["i"] else {})
    assert result.metrics == expected.get()
    assert [n for kind, n in model.calls if kind == "predict"] == list(range(23))


def test_trace_every_and_last_entry_equal_final_metrics():
    stream = toy_stream(23, seed=5)
    result = prequential(RecordingModel(), stream, trace_every=5)
    assert [e["n"] for e in result.trace] == [5, 10, 15, 20, 23]
    last = result.trace[-1]
    for name in METRIC_NAMES:
        assert last[name] == result.metrics[name]
    assert last["seconds"] == result.seconds
    secs = [e["seconds"] for e in result.trace]
    assert secs == sorted(secs)
    assert all(e["n_clusters"] is None for e in result.trace)
    # window metrics: computed over the instances since the previous entry only
    window = hand_loop_report(stream[10:15], lambda x: stream[x["i"] - 1][1]).get()
    for name in ("subset_accuracy", "micro_f1", "example_f1"):
        assert result.trace[2][f"window_{name}"] == pytest.approx(window[name], abs=TOL)
    assert 0.0 <= result.trace[2]["window_hamming_loss"] <= 1.0


def test_trace_without_periodic_entries_and_empty_stream():
    for off in (None, 0):
        result = prequential(RecordingModel(), toy_stream(7), trace_every=off)
        assert [e["n"] for e in result.trace] == [7]
    empty = prequential(RecordingModel(), [], trace_every=3)
    assert empty.n == 0 and [e["n"] for e in empty.trace] == [0]
    assert empty.metrics == MultiLabelReport().get()


def test_max_instances_stops_the_stream():
    stream = iter(toy_stream(50))
    result = prequential(RecordingModel(), stream, max_instances=12, trace_every=10)
    assert result.n == 12
    assert next(stream)[0]["i"] == 12  # no instance consumed beyond the limit


@pytest.mark.parametrize("lazy", [False, True])
def test_events_are_captured_from_the_event_log(lazy):
    model = EventfulModel(lazy=lazy)
    if not lazy:
        model.events.record(0, "label_added", label="before the run")  # not part of the run
    result = prequential(model, toy_stream(10), trace_every=5)
    assert [e["kind"] for e in result.events] == ["label_added"] + ["cluster_split"] * 3
    assert [e["n"] for e in result.events] == [1, 3, 6, 9]
    assert result.events[0]["label"] == "l0"
    assert [e["size"] for e in result.events[1:]] == [3, 6, 9]
    splits = result.events[1:]
    assert [e["step"] for e in splits] == [2, 5, 8]  # instances processed before the event
    assert [e["n_clusters"] for e in result.trace] == [2, 4]
    # the run unsubscribes: later events do not leak into the finished result
    model.events.record(99, "cluster_merge")
    assert len(result.events) == 4
    json.dumps(result.to_dict())
    # ... and leaves no callback behind (EventLog has no public unsubscribe yet)
    prequential(model, toy_stream(4))
    assert model.events._subscribers == []


def test_events_off():
    result = prequential(EventfulModel(), toy_stream(6), events=False)
    assert result.events == []


def test_result_fields_memory_and_json():
    result = prequential(RecordingModel(), toy_stream(30), measure_memory=True, trace_every=10)
    assert isinstance(result, PrequentialResult)
    assert result.peak_memory_bytes is not None and result.peak_memory_bytes > 0
    assert result.peak_rss_bytes is not None and result.peak_rss_bytes > 1_000_000
    assert result.instances_per_s == pytest.approx(result.n / result.seconds)
    assert result.predict_seconds + result.learn_seconds <= result.seconds
    data = json.loads(json.dumps(result.to_dict()))
    assert data["n"] == 30 and set(METRIC_NAMES) <= set(data["metrics"])
    assert len(data["trace"]) == 3
    assert prequential(RecordingModel(), toy_stream(3)).peak_memory_bytes is None


def test_measure_memory_keeps_an_outer_tracemalloc_running():
    tracemalloc.start()
    try:
        result = prequential(RecordingModel(), toy_stream(10), measure_memory=True)
        assert tracemalloc.is_tracing()
        assert result.peak_memory_bytes is not None and result.peak_memory_bytes > 0
    finally:
        tracemalloc.stop()


def test_progress_callable_and_bar(capsys):
    seen = []
    prequential(RecordingModel(), toy_stream(250), progress=seen.append)
    assert seen == [100, 200, 250]
    prequential(RecordingModel(), toy_stream(150), progress=True)
    err = capsys.readouterr().err
    assert "150" in err and "inst/s" in err


@pytest.mark.parametrize(
    "kwargs",
    [{"trace_every": -1}, {"trace_every": 2.5}, {"max_instances": -1}, {"progress": "yes"}],
)
def test_bad_parameters_raise(kwargs):
    with pytest.raises(ValueError):
        prequential(RecordingModel(), toy_stream(3), **kwargs)


def test_the_dead_evaluate_alias_is_gone():
    import ihomer.evaluate as module

    assert not hasattr(module, "evaluate") and "evaluate" not in module.__all__


def test_progress_bar_has_the_total_and_the_running_micro_f1(capsys):
    data = [({"i": i}, {"a": i % 2 == 0, "b": True}) for i in range(300)]
    prequential(RecordingModel(), iter(data), progress=True, total=300, trace_every=None)
    err = capsys.readouterr().err
    assert "300/300" in err and "micro-F1 " in err
    prequential(RecordingModel(), iter(data), progress=True, total=1000, max_instances=200)
    assert "200/200" in capsys.readouterr().err


def test_format_table():
    a = prequential(RecordingModel(), toy_stream(20, seed=1))
    b = prequential(RecordingModel(predict_none=True), toy_stream(20, seed=1))
    text = format_table({"echo": a, "empty-predictor": b})
    lines = text.splitlines()
    assert len(lines) == 3
    assert lines[0].split()[:2] == ["model", "subset_acc"] and lines[0].endswith("inst/s")
    assert lines[1].startswith("echo ") and lines[2].startswith("empty-predictor")
    assert f"{a.metrics['micro_f1']:.4f}" in lines[1]
    assert lines[0].split()[-3:] == ["seconds", "model_s", "inst/s"]
    model_s = float(lines[1].split()[-2])
    assert model_s == pytest.approx(a.predict_seconds + a.learn_seconds, abs=0.006)
    assert 0 < a.predict_seconds + a.learn_seconds <= a.seconds
    # fixed width: the columns end at the same place on every line
    assert len({len(line) for line in lines}) == 1


# --------------------------------------------------------------------------- a real river model
def test_real_river_model_on_yeast_equals_hand_loop_with_river_metrics(river_metric_objects):
    n = 250
    data = list(itertools.islice(datasets.Yeast(), n))
    labels = list(data[0][1])

    def make():
        return multioutput.ClassifierChain(linear_model.LogisticRegression(), order=labels)

    result = prequential(make(), data, trace_every=100)

    river = river_metric_objects()
    model = make()
    n_empty = 0
    at_trace = {}
    for i, (x, y) in enumerate(data, start=1):
        y_pred = model.predict_one(x)
        n_empty += not any(y_pred.values())
        y_pred = {k: y_pred.get(k, False) for k in y}  # river needs every key of y_true
        for metric in river.values():
            metric.update(y, y_pred)
        model.learn_one(x, y)
        if i % 100 == 0:
            at_trace[i] = {name: metric.get() for name, metric in river.items()}
    assert result.n == n
    assert [e["n"] for e in result.trace] == [100, 200, 250]
    for entry in result.trace[:2]:
        for name in ("subset_accuracy", "example_f1", "micro_f1", "macro_f1"):
            assert entry[name] == pytest.approx(at_trace[entry["n"]][name], abs=TOL), name
    assert n_empty > 0  # the cold start predicts nothing: those instances are scored too
    for name in METRIC_NAMES:
        want = river[name].get()
        if name == "hamming_loss":
            want = 1.0 - want
        assert result.metrics[name] == pytest.approx(want, abs=TOL), name
    assert result.metrics["micro_f1"] > 0.3  # it learned something (sanity of the setup)
