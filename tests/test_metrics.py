"""ihomer.metrics: every metric against an independent computation from the definitions, and
against river 0.26.1's metric objects on random streams."""

from __future__ import annotations

import pickle
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ihomer.metrics import (
    LOWER_IS_BETTER,
    METRIC_NAMES,
    WINDOW_METRIC_NAMES,
    MultiLabelReport,
    window_metrics,
)

TOL = 1e-12


# --------------------------------------------------------------------------- independent reference
def reference(stream):
    """The metrics of a list of (y_true, y_pred) written from the definitions, with plain loops:
    label universe = every key seen so far; absent = False; 0 on zero division."""
    universe: list = []
    per_label: dict = {}  # label -> [tp, fp, fn, tn]
    exact = pairs = errors = 0
    sp = sr = sf = 0.0
    for y_true, y_pred in stream:
        for key in list(y_true) + list(y_pred):
            if key not in per_label:
                universe.append(key)
                per_label[key] = [0, 0, 0, 0]
        t = {k for k in universe if y_true.get(k, False) == True}  # noqa: E712
        p = {k for k in universe if y_pred.get(k, False) == True}  # noqa: E712
        for k in universe:
            cell = (k in t, k in p)
            idx = {(True, True): 0, (False, True): 1, (True, False): 2, (False, False): 3}[cell]
            per_label[k][idx] += 1
            pairs += 1
            errors += cell[0] != cell[1]
        exact += t == p
        prec = len(t & p) / len(p) if p else 0.0
        rec = len(t & p) / len(t) if t else 0.0
        sp += prec
        sr += rec
        sf += 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    n = len(stream)
    tp = sum(c[0] for c in per_label.values())
    fp = sum(c[1] for c in per_label.values())
    fn = sum(c[2] for c in per_label.values())

    def div(a, b):
        return a / b if b else 0.0

    def f1(p, r):
        return 2 * p * r / (p + r) if p + r else 0.0

    mp, mr = div(tp, tp + fp), div(tp, tp + fn)
    lp = [div(c[0], c[0] + c[1]) for c in per_label.values()]
    lr = [div(c[0], c[0] + c[2]) for c in per_label.values()]
    lf = [f1(a, b) for a, b in zip(lp, lr, strict=True)]
    out = {
        "subset_accuracy": div(exact, n),
        "hamming_loss": div(errors, pairs) if pairs else 1.0,
        "example_precision": div(sp, n),
        "example_recall": div(sr, n),
        "example_f1": div(sf, n),
        "micro_precision": mp,
        "micro_recall": mr,
        "micro_f1": f1(mp, mr),
        "macro_precision": statistics.mean(lp) if lp else 0.0,
        "macro_recall": statistics.mean(lr) if lr else 0.0,
        "macro_f1": statistics.mean(lf) if lf else 0.0,
    }
    return out, universe, per_label


def run(stream):
    report = MultiLabelReport()
    for y_true, y_pred in stream:
        report.update(y_true, y_pred)
    return report


def assert_close(got: dict, want: dict, names=METRIC_NAMES, where=""):
    for name in names:
        assert got[name] == pytest.approx(want[name], abs=TOL), f"{name} {where}"


# --------------------------------------------------------------------------- hand-made cases
CASES = {
    "empty_true": [({"a": False, "b": False}, {"a": True}), ({"a": True}, {"a": True})],
    "empty_prediction": [({"a": True, "b": True}, {}), ({"b": True}, {"b": True})],
    "both_empty": [({}, {}), ({"a": False}, {"a": False}), ({"a": True}, {"a": True})],
    "label_only_late": [
        ({"a": True}, {"a": True}),
        ({"a": True}, {"a": True}),
        ({"a": False, "z": True}, {"z": True}),
        ({"z": True}, {}),
    ],
    "label_never_predicted": [
        ({"a": True, "b": True}, {"a": True}),
        ({"b": True}, {"a": True}),
        ({"a": True}, {"a": True, "b": False}),
    ],
    "prediction_only_label": [({"a": True}, {"a": True, "q": True}), ({"a": True}, {"a": True})],
    "ints_and_numpy_bools": [
        ({"a": 1, "b": 0}, {"a": np.True_, "b": np.False_}),
        ({"a": 0, "b": 1}, {"a": 1.0, "b": 0}),
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hand_made_cases_match_the_definitions(name):
    stream = CASES[name]
    want, universe, per_label = reference(stream)
    report = run(stream)
    assert report.n == len(stream)
    assert report.labels == universe
    assert_close(report.get(), want, where=name)
    conf = report.confusion()
    for key, i in zip(universe, range(len(universe)), strict=True):
        got = [int(conf[c][i]) for c in ("tp", "fp", "fn", "tn")]
        assert got == per_label[key], key


def test_both_empty_counts_as_exact_match_but_zero_example_scores():
    # river: ExactMatch compares the dicts ({} == {}); Precision/Recall/F1 give 0 on 0/0.
    report = run([({}, {}), ({"a": False}, {})])
    m = report.get()
    assert m["subset_accuracy"] == 1.0
    assert m["example_precision"] == m["example_recall"] == m["example_f1"] == 0.0
    # first instance knew no label: only the second contributes one (instance, label) pair
    assert m["hamming_loss"] == 0.0
    assert report.confusion()["tn"].tolist() == [1]


def test_empty_report_and_empty_universe_follow_river():
    assert MultiLabelReport().get() == {
        name: (1.0 if name == "hamming_loss" else 0.0) for name in METRIC_NAMES
    }
    # an instance with no label at all: river's accuracy over zero pairs is 0, so loss is 1
    assert run([({}, {})]).get()["hamming_loss"] == 1.0


def test_late_label_does_not_count_for_earlier_instances():
    report = run([({"a": True}, {"a": True})] * 3 + [({"z": True}, {})])
    conf = report.confusion()
    # a: 3 TP then one TN; z: only the fourth instance counts (one FN, no TN before it)
    assert conf["tp"].tolist() == [3, 0]
    assert conf["fn"].tolist() == [0, 1]
    assert conf["tn"].tolist() == [1, 0]
    m = report.get()
    assert m["macro_recall"] == pytest.approx((1.0 + 0.0) / 2, abs=TOL)
    assert m["hamming_loss"] == pytest.approx(1 / (3 * 1 + 2), abs=TOL)


def test_label_never_predicted_gives_zero_precision_in_macro():
    report = run([({"a": True, "b": True}, {"a": True})] * 2)
    m = report.get()
    # a: P = R = 1; b: P = 0 (0/0), R = 0
    assert m["macro_precision"] == pytest.approx(0.5, abs=TOL)
    assert m["micro_precision"] == 1.0
    assert m["micro_recall"] == pytest.approx(0.5, abs=TOL)


def test_constants_are_consistent():
    assert len(METRIC_NAMES) == 11 and len(set(METRIC_NAMES)) == 11
    assert LOWER_IS_BETTER == {"hamming_loss"}
    assert set(WINDOW_METRIC_NAMES) <= set(METRIC_NAMES)


def test_repr_lists_every_metric():
    text = repr(run(CASES["label_only_late"]))
    assert "n=4" in text and "labels=2" in text
    for name in METRIC_NAMES:
        assert name in text


def test_pickle_round_trip_keeps_counting():
    stream = CASES["label_never_predicted"]
    report = run(stream[:2])
    clone = pickle.loads(pickle.dumps(report))
    clone.update(*stream[2])
    report.update(*stream[2])
    assert clone.get() == report.get() and clone.n == 3


def test_many_labels_grow_the_arrays():
    rng = np.random.default_rng(3)
    stream = []
    for i in range(60):
        keys = [f"l{j}" for j in rng.choice(200, size=rng.integers(0, 6), replace=False)]
        stream.append(({k: True for k in keys} | {f"new{i}": True}, {k: True for k in keys[:2]}))
    want, universe, _ = reference(stream)
    report = run(stream)
    assert report.n_labels == len(universe) > 60
    assert_close(report.get(), want)


# --------------------------------------------------------------------------- window metrics
def test_window_metrics_equal_a_fresh_report_on_the_window():
    rng = np.random.default_rng(11)
    stream = random_stream(rng, n=80, n_labels=9, sparse=True)
    report = run(stream[:50])
    before = report.snapshot()
    for y_true, y_pred in stream[50:]:
        report.update(y_true, y_pred)
    got = window_metrics(before, report.snapshot())
    fresh = run(stream[50:]).get()
    # all but the Hamming loss are independent of the labels known before the window
    assert_close(got, fresh, names=[m for m in WINDOW_METRIC_NAMES if m != "hamming_loss"])
    # Hamming loss over the window scores every label known at each instance
    full, _, _ = reference(stream)
    head, _, _ = reference(stream[:50])
    pairs_head = sum(len({k for yt, yp in stream[: i + 1] for k in (*yt, *yp)}) for i in range(50))
    pairs_all = sum(len({k for yt, yp in stream[: i + 1] for k in (*yt, *yp)}) for i in range(80))
    errors = full["hamming_loss"] * pairs_all - head["hamming_loss"] * pairs_head
    assert got["hamming_loss"] == pytest.approx(errors / (pairs_all - pairs_head), abs=1e-9)


# --------------------------------------------------------------------------- agreement with river
def river_get(objs, name):
    value = objs[name].get()
    return 1.0 - value if name == "hamming_loss" else value


def random_stream(rng, n, n_labels, sparse, p_new=0.05, density=0.3):
    """Label dicts whose label set grows; sparse: only positive keys; predictions are noisy."""
    known = 1
    stream = []
    for _ in range(n):
        if known < n_labels and rng.random() < p_new * 4:
            known += 1
        truth = rng.random(known) < density
        pred = np.where(rng.random(known) < 0.3, ~truth, truth)
        if rng.random() < 0.1:
            pred[:] = False  # empty predictions happen
        if sparse:
            y_true = {f"L{j}": True for j in np.flatnonzero(truth)}
            y_pred = {f"L{j}": True for j in np.flatnonzero(pred)}
        else:
            y_true = {f"L{j}": bool(truth[j]) for j in range(known)}
            shown = rng.permutation(known)[: rng.integers(0, known + 1)]  # keys may be missing
            y_pred = {f"L{j}": bool(pred[j]) for j in shown}
        stream.append((y_true, y_pred))
    return stream


def compare_with_river_every_step(stream, river_metric_objects):
    report = MultiLabelReport()
    objs = river_metric_objects()
    universe: dict = {}
    for i, (y_true, y_pred) in enumerate(stream):
        report.update(y_true, y_pred)
        for key in (*y_true, *y_pred):
            universe.setdefault(key, None)
        full_true = {k: bool(y_true.get(k, False)) for k in universe}
        full_pred = {k: bool(y_pred.get(k, False)) for k in universe}
        for obj in objs.values():
            obj.update(full_true, full_pred)
        got = report.get()
        for name in METRIC_NAMES:
            if name.startswith("macro") and not universe:
                continue  # river's statistics.mean raises on no label; we give 0
            assert got[name] == pytest.approx(river_get(objs, name), abs=TOL), (name, i)


@pytest.mark.parametrize("seed, sparse", [(0, True), (1, False), (2, True), (3, False)])
def test_agrees_with_river_at_every_step_seeded(seed, sparse, river_metric_objects):
    rng = np.random.default_rng(seed)
    stream = random_stream(rng, n=150, n_labels=12, sparse=sparse)
    compare_with_river_every_step(stream, river_metric_objects)


label_dict = st.dictionaries(st.sampled_from("abcdef"), st.booleans(), max_size=6)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(label_dict, label_dict), min_size=1, max_size=15))
def test_agrees_with_river_at_every_step_hypothesis(river_metric_objects, stream):
    compare_with_river_every_step(stream, river_metric_objects)
