"""The decision layer (ihomer.decision, IHOMER(decision=...)): it learns only from the model's
past served predictions, moves decisions in the expected direction, and predict_one and
predict_batch decide identically; its state survives pickling."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from river import datasets

from ihomer import IHOMER
from ihomer.decision import ThresholdSelector


@pytest.fixture(scope="module")
def yeast():
    return list(datasets.Yeast().take(400))


def _served_pairs(model, data):
    """Prequential run; the served probabilities of each instance, before it is learned."""
    pairs = []
    for x, y in data:
        p = model.predict_proba_one(x)
        model.predict_one(x)
        pairs.append((np.array([q[True] for q in p.values()]) if p else None, y))
        model.learn_one(x, y)
    return pairs


def test_the_layer_learns_exactly_the_served_predictions_of_past_instances(yeast):
    model = IHOMER(decision="balanced")
    pairs = _served_pairs(model, yeast[:300])
    again = ThresholdSelector(hamming_weight=0.5)
    again.resize(len(model._labels))
    for P, y in pairs:
        if P is None:  # the first instance: no label known, nothing served
            P = np.zeros(len(model._labels))
        again.learn(P, np.array([bool(y[lab]) for lab in model._labels]))
    assert model._decider.n_learned == 300
    model._decider._flush()
    again._flush()
    np.testing.assert_array_equal(model._decider._counts, again._counts)
    np.testing.assert_array_equal(model._decider.thresholds, again.thresholds)
    # predicting never changes the layer; only learn_one does
    before = model._decider._counts.copy()
    for x, _ in yeast[300:320]:
        model.predict_one(x)
        model.predict_batch([x])
    np.testing.assert_array_equal(model._decider._counts, before)


def test_the_next_prediction_does_not_depend_on_the_current_labels(yeast):
    a, b = IHOMER(decision="balanced"), IHOMER(decision="balanced")
    for x, y in yeast[:200]:
        a.learn_one(x, y)
        b.learn_one(x, y)
    x, y = yeast[200]
    assert a.predict_one(x) == b.predict_one(x)
    a.learn_one(x, y)
    b.learn_one(x, {lab: not on for lab, on in y.items()})
    assert a._decider.n_learned == b._decider.n_learned == 201


def _feed(sel, p, rate, n=200):
    for i in range(n):
        sel.learn(np.array([p]), np.array([(i * rate) % 1.0 < rate - 1e-9]))


def test_hamming_turns_off_an_overconfident_label_and_f1_turns_on_a_shy_one():
    over = ThresholdSelector(hamming_weight=1.0)
    over.resize(1)
    _feed(over, 0.7, 0.2)  # P = 0.7, right one time in five: fixed predicts it, wrongly
    assert not over.decide(np.array([0.7]))[0]
    shy_h, shy_f = ThresholdSelector(hamming_weight=1.0), ThresholdSelector(hamming_weight=0.0)
    for sel in (shy_h, shy_f):
        sel.resize(1)
        _feed(sel, 0.3, 0.4)  # P = 0.3, right 40%: off for Hamming, on for F1
    assert not shy_h.decide(np.array([0.3]))[0]
    assert shy_f.decide(np.array([0.3]))[0]
    # before warming up, the fixed rule
    cold = ThresholdSelector(warm=20)
    cold.resize(2)
    np.testing.assert_array_equal(cold.decide(np.array([0.6, 0.4])), [True, False])


def test_evidence_keeps_an_unproven_label_off():
    # P = 0.9 three times (2 true, 1 false positive), then P = 0.01 and the label is off
    history = [(0.9, True), (0.9, True), (0.9, False)] + [(0.01, False)] * 20
    strict = ThresholdSelector(hamming_weight=1.0, evidence=3.0, min_positives=0)
    loose = ThresholdSelector(hamming_weight=1.0, evidence=0.0, min_positives=0)
    for sel in (strict, loose):
        sel.resize(1)
        for p, y in history:
            sel.learn(np.array([p]), np.array([y]))
    assert not strict.decide(np.array([0.9]))[0]  # net 1 true positive < 3
    assert loose.decide(np.array([0.9]))[0]


def test_f1_hamming_cuts_a_rare_sharp_label_low_and_keeps_a_frequent_shy_one_off():
    # label 0: frequent (30% on) but P = 0.45 says nothing: on would gain F1 at a Hamming
    # cost far above it. Label 1: rare (7 of 400); P = 0.3 on 16 instances, 7 of them right
    # (Hamming: off): on gains 0.61 of F1 for 2 more errors in 400
    def history(i):
        p1, y1 = (0.3, (i // 25) % 5 < 2) if i % 25 == 0 else (0.01, False)
        return np.array([0.45, p1]), np.array([i % 10 < 3, y1])

    rules = {
        "f1_hamming": ThresholdSelector(hamming_cost=2.75),
        "hamming": ThresholdSelector(hamming_weight=1.0),
        "f1": ThresholdSelector(hamming_weight=0.0),
    }
    for sel in rules.values():
        sel.resize(2)
        for i in range(400):
            sel.learn(*history(i))
    on = {name: sel.decide(np.array([0.45, 0.3])).tolist() for name, sel in rules.items()}
    assert on["f1_hamming"] == [False, True]  # Hamming's choice for 0, F1's for 1
    assert on["hamming"] == [False, False] and on["f1"] == [True, True]
    # with a high enough cost of errors, the rare label is not worth it either
    dear = ThresholdSelector(hamming_cost=1000.0)
    dear.resize(2)
    for i in range(400):
        dear.learn(*history(i))
    assert dear.decide(np.array([0.45, 0.3])).tolist() == [False, False]
    # a label with fewer than min_positives positives keeps the fixed threshold
    few = ThresholdSelector(hamming_cost=2.75, min_positives=50)
    few.resize(2)
    for i in range(400):
        few.learn(*history(i))
    assert few.decide(np.array([0.45, 0.3])).tolist() == [False, False]
    assert few.decide(np.array([0.45, 0.51])).tolist() == [False, True]


@pytest.mark.parametrize("decision", ["fixed", "balanced", "hamming", "f1", "f1_hamming"])
def test_predict_one_equals_predict_batch(yeast, decision):
    model = IHOMER(decision=decision)
    for x, y in yeast[:250]:
        model.learn_one(x, y)
    xs = [x for x, _ in yeast[250:320]]
    batch = model.predict_batch(xs)
    for x, (p, on) in zip(xs, batch):
        assert on == model.predict_one(x)
        assert p == {lab: q[True] for lab, q in model.predict_proba_one(x).items()}


def test_f1_hamming_is_the_default_and_learned_thresholds_change_decisions_only(yeast):
    assert IHOMER().decision == "f1_hamming"
    fixed, learned = IHOMER(decision="fixed"), IHOMER()
    differ = 0
    for x, y in yeast:
        assert fixed.predict_proba_one(x) == learned.predict_proba_one(x)
        differ += fixed.predict_one(x) != learned.predict_one(x)
        fixed.learn_one(x, y)
        learned.learn_one(x, y)
    assert fixed._decider is None and differ > 0


def test_the_layer_survives_pickling_and_old_pickles_keep_the_fixed_rule(yeast):
    model = IHOMER(decision="balanced")
    for x, y in yeast[:300]:
        model.learn_one(x, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again._decider.thresholds, model._decider.thresholds)
    for x, y in yeast[300:]:
        assert again.predict_one(x) == model.predict_one(x)
        again.learn_one(x, y)
        model.learn_one(x, y)
    old = model.__getstate__()
    del old["_decider"], old["decision"]
    restored = IHOMER.__new__(IHOMER)
    restored.__setstate__(old)
    assert restored.decision == "fixed" and restored._decider is None
    for x, _ in yeast[300:340]:
        P = restored._proba(x)
        if (P > restored.threshold).any():  # no fallback: the old rule, P > threshold
            assert restored.predict_one(x) == dict(zip(restored._labels, (P > 0.5).tolist()))


@pytest.mark.parametrize(
    "params",
    [
        {"decision": "best"},
        {"decision": None},
        {"decision": 0.5},
    ],
)
def test_bad_decision_is_a_value_error(params):
    with pytest.raises(ValueError, match="decision"):
        IHOMER(**params)


@pytest.mark.parametrize(
    "params",
    [
        {"hamming_weight": 1.5},
        {"hamming_weight": True},
        {"evidence": -1.0},
        {"threshold": 1.0},
        {"warm": -1},
        {"refit_every": 0},
        {"min_positives": 2.5},
        {"hamming_cost": -1.0},
        {"hamming_cost": "2"},
        {"hamming_cost": float("nan")},
    ],
)
def test_bad_selector_params_are_value_errors(params):
    with pytest.raises(ValueError):
        ThresholdSelector(**params)
