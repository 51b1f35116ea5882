"""The margin scorer (ihomer.margin) and its blend into IHOMER's served probabilities: Vowpal
Wabbit's update, bounded memory, the Brier-score choice and its stops, and the model serving,
deciding and pickling the blend."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from river import datasets

from ihomer import IHOMER
from ihomer.features import FeatureIndex, SparseRow
from ihomer.margin import MAX_LABELS, MAX_WEIGHTS, MarginBlend, MarginScorer


def _row(idx, val) -> SparseRow:
    return SparseRow(np.array(idx, dtype=np.int64), np.array(val, dtype=float),
                     np.zeros(0, dtype=np.int64))  # fmt: skip


@pytest.fixture(scope="module")
def yeast():
    return list(datasets.Yeast().take(400))


# ------------------------------------------------------------------------------- the scorer
def test_one_step_moves_each_score_to_the_margin_and_not_past_it():
    for eta in (1.0, 1e6):
        s = MarginScorer(eta=eta)
        s.resize(2)
        row = _row([0, 1], [3.0, -0.5])
        s.learn(row, np.array([True, False]))
        raw = s._b + row.val @ s._W[row.idx]  # the scores before the votes clip them
        np.testing.assert_allclose(raw, [1.0, -1.0])  # at the margin exactly, not past it
        np.testing.assert_allclose(s.votes(row), [1.0, 0.0])
        W, b = s._W.copy(), s._b.copy()
        s.learn(row, np.array([True, False]))  # no loss any more: nothing moves
        np.testing.assert_array_equal(s._W, W)
        np.testing.assert_array_equal(s._b, b)


def test_a_larger_value_rescales_the_weights_of_its_column():
    s = MarginScorer()
    s.resize(1)
    s.learn(_row([0], [1.0]), np.array([True]))
    w = s._W[0, 0]
    s.learn(_row([0], [4.0]), np.array([True]))  # scored above the margin: no loss
    assert s._N[0] == 4.0
    # the weight is scaled by 1 / 4, as if the column's scale had always been 4, and nothing
    # else moves
    assert s._W[0, 0] == pytest.approx(w / 4.0)


def test_the_scorer_learns_a_sparse_concept():
    index, s = FeatureIndex(), MarginScorer()
    s.resize(3)
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    errors = 0
    for t in range(600):
        on = rng.random(3) < 0.3
        x = {w: 1.0 for w in rng.choice(words[9:], 4, replace=False)}  # noise words
        for j in np.flatnonzero(on):
            x[words[3 * j + int(rng.integers(0, 3))]] = 1.0  # one of the label's three words
        row = index.encode(x)
        if t >= 300:
            errors += int(((s.votes(row) > 0.5) != on).sum())
        s.learn(row, on)
    assert errors / (300 * 3) < 0.02


def test_a_standardising_scorer_sees_centred_values_and_keeps_indicators():
    s = MarginScorer(standardise=True)
    s.resize(1)
    for v in (1000.0, 1002.0, 1004.0):
        s.learn(_row([0, 1], [v, 1.0]), np.array([True]))
    idx, z = s._values(_row([0, 1, 7], [1004.0, 1.0, 2.5]))
    # column 0: (1004 - 1002) / sd(1000, 1002, 1004); column 1 never varied: kept; column 7
    # was never learned: kept
    np.testing.assert_allclose(z, [2.0 / np.std([1000.0, 1002.0, 1004.0]), 1.0, 2.5])
    assert idx.tolist() == [0, 1, 7]
    idx, z = s._values(_row([0], [1002.0]))  # exactly the mean: 0, an absent column
    assert idx.size == 0 and z.size == 0
    raw = MarginScorer()
    raw.resize(1)
    assert raw._values(_row([0], [1002.0]))[1].tolist() == [1002.0]


def test_memory_is_bounded_by_max_weights_whatever_the_number_of_columns():
    s = MarginScorer()
    s.resize(150)
    cap = s.max_rows
    assert cap == MAX_WEIGHTS // 150
    y = np.zeros(150, dtype=bool)
    y[3] = True
    for start in range(0, 4 * cap, 500):  # four times more columns than rows
        s.learn(_row(np.arange(start, start + 500), np.ones(500)), y)
    assert s._W.shape == (cap, 150)
    assert s.nbytes() <= 2 * 8 * MAX_WEIGHTS + 64 * cap  # weights, rates and normalisers
    assert np.isfinite(s.votes(_row([10 * cap + 3], [1.0]))).all()  # (a hashed column)


def test_bad_parameters_raise_value_error():
    with pytest.raises(ValueError, match="eta"):
        MarginScorer(eta=0.0)
    with pytest.raises(ValueError, match="standardise"):
        MarginScorer(standardise="yes")
    for bad in ((), (1.5,), ("0.3",), (True,), 0.3):
        with pytest.raises(ValueError, match="weights"):
            MarginBlend(bad)
    with pytest.raises(ValueError, match="n_scorers"):
        MarginBlend((0.0, 0.5), n_scorers=0)
    with pytest.raises(ValueError, match="margin_blend"):
        IHOMER(margin_blend=(0.3, 2.0))


# -------------------------------------------------------------------------------- the blend
def test_the_blend_serves_the_candidate_with_the_lowest_brier_score_so_far():
    rng = np.random.default_rng(3)
    blend = MarginBlend((0.0, 0.3, 0.5), n_scorers=2)
    cands = blend.candidates
    assert cands == [(-1, 0.0), (0, 0.3), (1, 0.3), (0, 0.5), (1, 0.5)]
    total = np.zeros(len(cands))
    for _ in range(150):  # (before JUDGE_AFTER: nothing stops)
        P, V, y = rng.random(4), rng.random((2, 4)), rng.random(4) < 0.5
        served = blend.mix(P, V)
        j, w = blend.choice
        np.testing.assert_allclose(served, P if j < 0 else (1 - w) * P + w * V[j])
        for k, (j, w) in enumerate(cands):
            B = P if j < 0 else (1 - w) * P + w * V[j]
            total[k] += ((B - y) ** 2).sum()
        blend.learn(P, V, y)
        np.testing.assert_allclose(blend.losses, total)
        assert blend.choice == cands[int(np.argmin(total))]


def test_a_trailing_scorer_and_a_duplicate_scorer_stop_and_never_return():
    rng = np.random.default_rng(4)
    blend = MarginBlend((0.0, 0.5), n_scorers=3)
    for t in range(400):
        y = rng.random(5) < 0.4
        good = np.where(y, 0.9, 0.1)
        V = np.stack([good, rng.random(5), good])  # scorer 2 votes as scorer 0 does
        blend.learn(np.full(5, 0.5), V, y)
        if t + 1 < MarginBlend.JUDGE_AFTER:
            assert blend.active == (True, True, True)
    assert blend.active == (True, False, False)
    assert blend.choice == (0, 0.5)
    for _ in range(50):  # the stopped scorer would now be perfect: it stays stopped
        y = rng.random(5) < 0.4
        blend.learn(np.full(5, 0.5), np.stack([np.full(5, 0.5), y * 1.0, y * 1.0]), y)
    assert blend.active == (True, False, False)


def test_without_a_weight_of_zero_the_last_scorer_never_stops():
    blend = MarginBlend((0.5,), n_scorers=1)
    for _ in range(300):  # the votes are always wrong
        blend.learn(np.full(2, 0.5), np.zeros((1, 2)), np.ones(2, dtype=bool))
    assert blend.active == (True,)
    assert blend.choice == (0, 0.5)


# -------------------------------------------------------------------------------- the model
def _run(model, data):
    served = []
    for x, y in data:
        served.append((model.predict_proba_one(x), model.predict_one(x)))
        model.learn_one(x, y)
    return served


def test_the_model_serves_and_decides_on_the_blend_of_its_learners_and_the_scorer(yeast):
    model = IHOMER()
    _run(model, yeast[:300])
    assert model._blend.choice[0] >= 0  # a blend is served here, not the learners alone
    x = yeast[300][0]
    row, _ = model._features.encode_known(x)
    served, own, pm = model._predict_clusters(row)
    P = model._served(served, pm)  # the learners' probabilities
    V = np.stack([m.votes(row) if m is not None else np.full(P.size, 0.5)
                  for m in model._margin])  # fmt: skip
    j, w = model._blend.choice
    expect = P if j < 0 else (1 - w) * P + w * V[j]
    got = model.predict_proba_one(x)
    np.testing.assert_allclose([got[lab][True] for lab in model._labels], expect)
    on = model.predict_one(x)
    assert on == model._label_dict(model._decide(expect, model._fallback_enabled()))
    [(p, on_batch)] = model.predict_batch([x])
    assert on_batch == on and p == {lab: got[lab][True] for lab in model._labels}


def test_the_blend_changes_what_is_served_and_none_turns_it_off(yeast):
    with_blend, without = IHOMER(), IHOMER(margin_blend=None)
    a, b = _run(with_blend, yeast[:300]), _run(without, yeast[:300])
    assert without._margin is None and without._blend is None
    assert a != b  # the blend served something else on some instance
    assert with_blend.memory_bytes() > without.memory_bytes()


def test_a_stream_of_max_labels_or_more_has_no_scorer():
    model = IHOMER()
    labels = [f"l{i}" for i in range(MAX_LABELS)]
    model.learn_one({"a": 1.0}, {lab: i < 3 for i, lab in enumerate(labels[: MAX_LABELS - 1])})
    assert model._margin is not None
    model.learn_one({"a": 1.0}, {lab: i < 3 for i, lab in enumerate(labels)})
    assert model._margin is None and model._blend is None
    assert len(model.predict_proba_one({"a": 1.0})) == MAX_LABELS


def test_a_pickled_model_goes_on_exactly_as_the_original(yeast):
    model = IHOMER()
    _run(model, yeast[:250])
    copy = pickle.loads(pickle.dumps(model))
    assert _run(copy, yeast[250:320]) == _run(model, yeast[250:320])
    assert copy._blend.losses.tolist() == model._blend.losses.tolist()


def test_a_model_pickled_before_the_scorer_loads_and_serves_its_learners_alone(yeast):
    model = IHOMER(margin_blend=None)
    _run(model, yeast[:200])
    state = dict(pickle.loads(pickle.dumps(model)).__dict__)  # (its own copy of the learners)
    for k in ("margin_blend", "_margin", "_blend"):
        state.pop(k, None)
    old = IHOMER.__new__(IHOMER)
    old.__setstate__(state)
    assert old.margin_blend is None and old._margin is None
    assert _run(old, yeast[200:260]) == _run(model, yeast[200:260])
