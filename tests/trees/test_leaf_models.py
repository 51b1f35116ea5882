"""Leaf models: every candidate learns, naive Bayes from the statistics, label-set recency."""

import pickle

import numpy as np
import pytest

from ihomer.features import SparseRow
from ihomer.trees import MultiLabelHoeffdingTree, kernels
from ihomer.trees.kernels import NB as NB_INDEX
from ihomer.trees.leaf_models import (
    ADA_PRIOR,
    CANDIDATES,
    LAST,
    LINEAR,
    FeatureScaler,
    LeafConfig,
    LeafModel,
)
from ihomer.trees.observers import LeafStats, moments

NONE = np.empty(0, dtype=np.int64)


def gaussian_stream(n, seed):
    """label 0 on: f0 ~ N(3, 1), off: N(0, 1); label 1 on iff sparse feature f1 is present."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        y0, y1 = rng.random() < 0.4, rng.random() < 0.3
        idx = [0, 1] if y1 else [0]
        val = [rng.normal(3.0 if y0 else 0.0, 1.0), 1.0] if y1 else [rng.normal(3.0 * y0, 1.0)]
        if val[0] == 0.0:
            val[0] = 1e-3
        yield SparseRow(np.array(idx), np.array(val), NONE), np.array([y0, y1])


@pytest.mark.parametrize("model", CANDIDATES)
def test_each_candidate_alone_learns_and_predicts_probabilities(model):
    tree = MultiLabelHoeffdingTree(leaf_model=model, grace_period=10_000)
    tree.add_labels(2)
    errs = []
    for i, (row, y) in enumerate(gaussian_stream(1500, seed=1)):
        p = tree.predict_proba(row)
        assert p.shape == (2,) and ((0 <= p) & (p <= 1)).all()
        if i >= 1000:
            errs.append((p > 0.5) != y)
        tree.learn(row, y)
    err = np.mean(errs, axis=0)
    if model in ("naive_bayes", "linear"):
        assert err[0] < 0.15 and err[1] < 0.05
    else:  # label-set / prior models cannot use x: no better than the majority class
        assert err[0] >= 0.25


def test_naive_bayes_log_odds_follow_the_gaussians():
    st = LeafStats(2, 2)
    for row, y in gaussian_stream(2000, seed=2):
        st.update(row.idx, moments(row.val, 1.0), NONE, np.flatnonzero(y), 1.0)
    lo = st.nb_logit(np.array([0]), np.array([0.0 + 1e-3]))
    hi = st.nb_logit(np.array([0, 1]), np.array([3.0, 1.0]))
    assert lo[0] < -2 and hi[0] > 2  # label 0 by f0's value
    assert lo[1] < -2 and hi[1] > 2  # label 1 by f1 being non-zero
    # the same statistics fed through the batched path give the same log-odds
    st2 = LeafStats(2, 2)
    for row, y in gaussian_stream(2000, seed=2):
        st2.push(row.idx, row.val, y, 1.0)
    np.testing.assert_allclose(st2.nb_logit(np.array([0, 1]), np.array([3.0, 1.0])), hi)
    np.testing.assert_allclose(st2.nz, st.nz)
    np.testing.assert_allclose(st2.nzp, st.nzp)


def test_naive_bayes_rare_features_are_no_evidence_for_a_rare_label():
    # 400 rows, 200 background features each present in ~1% of the rows; a rare label (5% of
    # the rows) is on exactly when feature 0 is present. A row holding only background
    # features that never met the label must not look more like the label than the prior
    # does: smoothed towards 1/2 (Laplace), P(present | on) = 1/22 for each of them against
    # ~1/100 off, and three of them added ~ +4.5 to the label's log-odds
    rng = np.random.default_rng(0)
    st = LeafStats(201, 1)
    for i in range(400):
        on = i % 20 == 0
        bg = rng.choice(np.arange(1, 201), 2, replace=False)
        idx = np.concatenate([[0], bg]) if on else bg
        st.push(idx, np.ones(idx.size), np.array([on]), 1.0)
    seen_off = [f for f in range(1, 201) if st.nz[f, 0] > 0 and st.nzp[f, 0, 0] == 0][:3]
    prior = st.nb_logit(NONE, np.empty(0))[0]
    background = st.nb_logit(np.array(seen_off), np.ones(3))[0]
    motif = st.nb_logit(np.array([0]), np.ones(1))[0]
    assert background <= prior + 0.1
    assert motif > prior + 3


def test_label_sets_sorted_stream_picks_recency_candidate():
    """Runs of one label set (like a stream sorted by label set): the last set wins."""
    rng = np.random.default_rng(3)
    tree = MultiLabelHoeffdingTree()
    tree.add_labels(4)
    sets = [np.array(s, dtype=bool) for s in ([1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1])]
    hits = []
    for run in range(30):
        y = sets[run % 3]
        for _ in range(40):
            row = SparseRow(np.array([0]), np.array([rng.random() + 0.1]), NONE)
            hits.append(((tree.predict_proba(row) > 0.5) == y).all())
            tree.learn(row, y)
    assert np.mean(hits) > 0.9
    assert tree.root.model.chosen == LAST


def test_feature_scaler_uses_rms_of_non_zeros():
    sc = FeatureScaler(2)
    for v in (1.0, 3.0, -3.0):
        sc.learn(np.array([1]), np.array([v]))
    rms = np.sqrt((1 + 9 + 9) / 3)
    assert sc.transform(np.array([1]), np.array([rms])).tolist() == pytest.approx([1.0])
    sc.grow(5)
    assert sc.transform(np.array([4]), np.array([7.0])).tolist() == [0.0]  # unseen: ignored


def _rare_feature_stream(n, seed):
    """Unscaled sparse rows: ~40 common noise features (values up to 100) on every row, and
    label l on iff the rare feature 100 + l (5% of rows, value 1) is present."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        y = rng.random(3) < 0.05
        common = np.flatnonzero(rng.random(80) < 0.5)
        idx = np.concatenate([common, 100 + np.flatnonzero(y)])
        val = np.concatenate([rng.random(common.size) * 100.0, np.ones(int(y.sum()))])
        yield SparseRow(idx, val, NONE), y


def _rare_recall(step):
    tree = MultiLabelHoeffdingTree(leaf_model="linear", grace_period=10_000, adaptive_step=step)
    tree.add_labels(3)
    hits = []
    for i, (row, y) in enumerate(_rare_feature_stream(3000, seed=4)):
        if i >= 1000 and y.any():
            hits.append(((tree.predict_proba(row) > 0.5) == y)[y].mean())
        tree.learn(row, y)
    return float(np.mean(hits))


def test_adaptive_step_learns_rare_sparse_features_faster_than_the_plain_step():
    # recall of the rare labels over rows 1000..3000, measured: plain 0.77, per-feature
    # adaptive 0.89 (per-weight adaptive 0.70: not asserted, it does worse here)
    plain, adaptive = _rare_recall("off"), _rare_recall("feature")
    assert adaptive >= plain + 0.08 and adaptive > 0.85


def _adaptive_leaf(L=3, F=4, mode="feature", lr=(0.5, 4.0)):
    cfg = LeafConfig(lr=lr, adaptive=mode)
    m = LeafModel(F, L, cfg)
    rng = np.random.default_rng(0)
    for _ in range(50):
        y = rng.random(L) < 0.5
        idx = np.flatnonzero(rng.random(F) < 0.6)
        xs = rng.random(idx.size) + 0.5
        m.learn(idx, xs, float(xs @ xs), y, y.nonzero()[0], y.nonzero()[0].tobytes(), 1.0, cfg)
    return m, cfg


@pytest.mark.parametrize("mode", ["feature", "weight"])
def test_adaptive_leaf_model_keeps_its_accumulators_through_every_operation(mode):
    m, cfg = _adaptive_leaf(mode=mode)
    F, KL = m.W.shape
    C = 2 if mode == "feature" else KL
    assert m.G.shape == (F, C) and m.Gb.shape == (C,) and (m.G > ADA_PRIOR).any()
    plain = LeafModel(F, 3, LeafConfig())
    assert plain.G is None
    assert m.nbytes() - plain.nbytes() >= m.G.nbytes + m.Gb.nbytes  # counted
    back = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(back.G, m.G)
    m.grow_features(F + 3)
    assert m.G.shape == (F + 3, C) and (m.G[F:] == ADA_PRIOR).all()
    m.take_features(np.array([2, 0]), 5)
    assert m.G.shape == (5, C)
    m.add_labels(2)
    assert m.G.shape[1] == (2 if mode == "feature" else 2 * 5) and m.Gb.size == m.G.shape[1]
    m.restrict(np.array([4, 0, 1]), lambda k: k)
    assert m.G.shape[1] == (2 if mode == "feature" else 2 * 3) and m.W.shape[1] == 6
    child = m.spawn(np.ones(3), np.full(3, 2.0))
    assert child.G is not m.G
    np.testing.assert_array_equal(child.G, m.G)
    y = np.array([True, False, True])
    m.learn(np.array([0]), np.array([1.0]), 1.0, y, y.nonzero()[0], b"", 1.0, cfg)


def test_judging_drops_a_trailing_adaptive_model_with_its_accumulators():
    L = LeafModel.PRUNE_LINEAR_LABELS
    m, cfg = _adaptive_leaf(L=L, mode="weight")
    m.sc[LINEAR:, 0], m.chosen = [50.0, 1.0], LINEAR  # the second linear model trails
    m._judge(cfg.select_fading)
    assert m.n_linear == 1 and m.W.shape[1] == L and m.G.shape[1] == L and m.Gb.size == L
    m2, cfg2 = _adaptive_leaf(L=L, mode="feature")
    m2.ada = np.array([False, True])
    m2.sc[LINEAR:, 0], m2.chosen = [50.0, 1.0], LINEAR  # the adaptive one trails: plain from now
    m2._judge(cfg2.select_fading)
    assert m2.n_linear == 1 and m2.G is None


def test_leaf_models_pickled_before_the_adaptive_step_load_with_the_plain_step():
    m, _ = _adaptive_leaf(mode="off")
    state = m.__reduce_ex__(4)
    slots = dict(state[2][1])
    for name in ("G", "Gb", "ada"):
        del slots[name]
    old = LeafModel.__new__(LeafModel)
    old.__setstate__((None, slots))
    assert old.G is None and old.Gb is None
    cfg = LeafConfig()
    back = LeafConfig.__new__(LeafConfig)
    back.__setstate__(cfg.__getstate__()[:6])
    assert back.adaptive == "off" and back.ada.tolist() == [True, True]


def redundant_stream(n, seed, copies=8):
    """label 0 on iff f0 > 0, and f0 repeated ``copies`` times (plus a little noise per copy):
    naive Bayes counts the same evidence ``copies`` times, so its log-odds are far too large."""
    rng = np.random.default_rng(seed)
    idx = np.arange(copies)
    for _ in range(n):
        f = rng.normal()
        y0 = rng.random() < (0.9 if f > 0 else 0.1)  # 10% label noise either side
        val = f + 0.05 * rng.normal(size=copies)
        val[val == 0.0] = 1e-3
        yield SparseRow(idx, val, NONE), np.array([y0])


def _nb_tree(**kw):
    tree = MultiLabelHoeffdingTree(leaf_model="naive_bayes", grace_period=10_000, **kw)
    tree.add_labels(1)
    return tree


def test_naive_bayes_calibration_shrinks_redundant_evidence():
    calibrated, raw = _nb_tree(), _nb_tree(nb_calibration=0.0)
    loss = {"calibrated": [], "raw": []}
    for i, (row, y) in enumerate(redundant_stream(3000, seed=5)):
        for name, tree in (("calibrated", calibrated), ("raw", raw)):
            p = float(np.clip(tree.predict_proba(row)[0], 1e-12, 1 - 1e-12))
            if i >= 1000:
                loss[name].append(-np.log(p if y[0] else 1.0 - p))
            tree.learn(row, y)
    # the raw log-odds count the one feature 8 times; the calibration learns to shrink them
    assert np.mean(loss["calibrated"]) < 0.8 * np.mean(loss["raw"])
    leaf = calibrated._root.model
    assert 0.0 < leaf.nbc[0, 0] < 0.5  # the shrinkage A
    assert raw._root.model.nbc is None


def test_naive_bayes_calibration_follows_labels_through_every_operation():
    m = LeafModel(4, 3, LeafConfig())
    assert m.nbc.shape == (2, 4) and m.nbc[0].tolist() == [1.0, 0.0, 0.0, 0.0]
    m.nbc[0] = [0.5, 1.0, 2.0, 3.0]
    assert m.nbytes() - LeafModel(4, 3, LeafConfig(nb_calibration=0.0)).nbytes() == m.nbc.nbytes
    m.add_labels(2)  # new labels: no bias yet, the shared shrinkage kept
    assert m.nbc[0].tolist() == [0.5, 1.0, 2.0, 3.0, 0.0, 0.0]
    m.restrict(np.array([2, 0]), lambda k: k)
    assert m.nbc[0].tolist() == [0.5, 3.0, 1.0]
    child = m.spawn(np.ones(2), np.full(2, 2.0))
    assert child.nbc is not m.nbc and child.nbc.tolist() == m.nbc.tolist()
    back = pickle.loads(pickle.dumps(m))
    assert back.nbc.tolist() == m.nbc.tolist()
    assert LeafModel(4, 3, LeafConfig(candidates=("prior", "linear"))).nbc is None


def test_naive_bayes_calibration_is_validated_and_old_pickles_serve_raw_naive_bayes():
    with pytest.raises(ValueError, match="nb_calibration"):
        MultiLabelHoeffdingTree(nb_calibration=-0.1)
    with pytest.raises(ValueError, match="nb_calibration"):
        MultiLabelHoeffdingTree(nb_calibration=float("nan"))
    with pytest.raises(ValueError, match="nb_calibration"):
        LeafConfig(nb_calibration=float("inf"))
    cfg = LeafConfig.__new__(LeafConfig)
    cfg.__setstate__(LeafConfig().__getstate__()[:8])  # pickled before the calibration
    assert cfg.nb_calibration == 0.0
    m = LeafModel(2, 2, LeafConfig())
    slots = dict(m.__reduce_ex__(4)[2][1])
    del slots["nbc"]
    old = LeafModel.__new__(LeafModel)
    old.__setstate__((None, slots))
    assert old.nbc is None


def test_a_nan_log_odds_cannot_poison_the_shared_shrinkage():
    from ihomer.trees import kernels

    for fn in (kernels.nb_calibrate_numpy, getattr(kernels._kernels, "leaf_learn", None)):
        if fn is None:
            continue
        nbc = np.array([[0.5, 0.1, -0.2], [2.0, 3.0, 4.0]])
        z = np.array([np.nan, 3.0])
        y = np.array([True, False])
        if fn is kernels.nb_calibrate_numpy:
            fn(z, nbc, y, 0.1, 1.0)
        else:  # the compiled path: one leaf step with naive Bayes log-odds [nan, 3]
            W, b = np.zeros((1, 2)), np.zeros(2)
            fn(W, b, None, np.zeros(0), 0.0, y, np.zeros(2), 0.0, y, y, z, np.zeros((1, 6)),
               np.zeros(0), np.zeros((5, 4)), np.ones(5, dtype=bool), 0, 0.97, np.ones(1), 1.0,
               None, None, None, np.array([0]), 1.0, None, None, None, nbc, 0.1)  # fmt: skip
        assert np.isfinite(nbc).all()
        assert nbc[0, 0] != 0.5  # the finite label still moved the shrinkage
    cal = np.array([[0.5, 1.0, 0.0], [1.0, 1.0, 1.0]])
    assert kernels.nb_calibrated(np.array([np.nan, -np.inf]), cal).tolist() == [1.0, -15.0]


def _mixing_stream(n, seed, n_labels=3):
    """a dense feature per label (label l on iff f_l > 0, 10% noise) and a few sparse ones"""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        f = rng.normal(size=n_labels)
        y = (f > 0) ^ (rng.random(n_labels) < 0.1)
        f[f == 0.0] = 1e-3
        extra = rng.choice(np.arange(n_labels, n_labels + 20), 2, replace=False)
        yield SparseRow(np.concatenate([np.arange(n_labels), extra]),
                        np.concatenate([f, np.ones(2)]), NONE), y  # fmt: skip


def test_a_leaf_serves_naive_bayes_averaged_into_its_chosen_candidate():
    trees = {w: MultiLabelHoeffdingTree(nb_mix=w, grace_period=10_000) for w in (0.0, 0.4)}
    for t in trees.values():
        t.add_labels(3)
    rows = list(_mixing_stream(1200, seed=7))
    for row, y in rows[:1000]:
        for t in trees.values():
            t.learn(row, y)
    mixed, alone = trees[0.4], trees[0.0]
    leaf = mixed._root
    assert leaf.model.mixes(0.4) is (leaf.model.chosen != NB_INDEX)  # NB alone when chosen
    for chosen in (LINEAR, LAST, 0):  # what the leaf serves, whichever candidate leads
        leaf.model.chosen = chosen
        assert leaf.model.mixes(0.4)
        _check_mixture(mixed, leaf, rows[1000:1010])
    # nb_mix=0 serves the chosen candidate alone
    assert not alone._root.model.mixes(0.0)


def _check_mixture(mixed, leaf, rows):
    for row, _ in rows:
        p = mixed.predict_proba(row)
        chosen = leaf.model.chosen
        idx, val, missing, xs, _, r, _ = mixed._locate(row)
        pc = leaf.model.predict_proba(idx, xs, r) if chosen >= LINEAR else (
            leaf.model.predict_proba(idx, val))
        z = leaf.stats.nb_logit(idx, val, r)
        pn = 1.0 / (1.0 + np.exp(-kernels.nb_calibrated(z, leaf.model.nbc)))
        np.testing.assert_allclose(p, 0.6 * pc + 0.4 * pn, rtol=1e-9, atol=1e-12)
        assert not np.allclose(p, pc)


def test_a_mixing_leaf_keeps_naive_bayes_when_it_stops_being_a_candidate():
    cfg = LeafConfig(nb_mix=0.4)
    for L, kept in ((3, True), (LeafModel.PRUNE_LINEAR_LABELS, False)):
        m = LeafModel(4, L, cfg)
        m.chosen = LINEAR
        m.sc[:] = [[0.0, 0.0, 1.0, 0.5]] * m.sc.shape[0]  # every candidate: F1 0
        m.sc[LINEAR] = [10.0, 10.0, 0.0, 0.9]  # the chosen linear model far ahead
        m._judge(0.97, cfg.nb_mix)
        assert not m.mask[NB_INDEX]  # no longer a candidate either way
        assert m.nb_on is kept and (m.nbc is not None) is kept and m.mixes(0.4) is kept
    off = LeafModel(4, 3, LeafConfig(nb_mix=0.0))
    off.chosen = LINEAR
    off.sc[:] = [[0.0, 0.0, 1.0, 0.5]] * off.sc.shape[0]
    off.sc[LINEAR] = [10.0, 10.0, 0.0, 0.9]
    off._judge(0.97, 0.0)
    assert not off.nb_on and off.nbc is None  # without the mixture: dropped and freed, as before


def test_nb_mix_is_validated_and_old_pickles_do_not_mix():
    for bad in (-0.1, 1.5, float("nan"), True):
        with pytest.raises(ValueError, match="nb_mix"):
            MultiLabelHoeffdingTree(nb_mix=bad)
    with pytest.raises(ValueError, match="nb_mix"):
        LeafConfig(nb_mix=2.0)
    cfg = LeafConfig.__new__(LeafConfig)
    cfg.__setstate__(LeafConfig().__getstate__()[:9])  # pickled before the mixture
    assert cfg.nb_mix == 0.0
    m = LeafModel(2, 2, LeafConfig())
    m.mask = m.mask.copy()
    m.mask[NB_INDEX] = False
    slots = dict(m.__reduce_ex__(4)[2][1])
    del slots["nb_on"]
    old = LeafModel.__new__(LeafModel)
    old.__setstate__((None, slots))
    assert old.nb_on is False  # naive Bayes as the old leaf had it
    back = pickle.loads(pickle.dumps(LeafModel(2, 2, LeafConfig())))
    assert back.nb_on is True
