"""The compiled kernels agree with their numpy reference, and reject what they cannot read."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from river import datasets

from ihomer import IHOMER
from ihomer.trees import kernels
from ihomer.trees.leaf_models import LINEAR

compiled = pytest.mark.skipif(
    kernels._kernels is None, reason="ihomer.trees._kernels not built (no C compiler at install)"
)


@pytest.fixture
def backend():
    """Restore the backend a test switches."""
    before = kernels.backend()
    yield kernels.set_backend
    kernels.set_backend(before)


def _case(rng, dense: bool, with_nb: bool, L: int, K: int = 2, F: int = 30):
    n = F if dense else int(rng.integers(0, F))
    idx = None if dense else np.sort(rng.choice(F, n, replace=False)).astype(np.int64)
    m = LINEAR + K
    sc = rng.random((m, 4)) * 5
    return dict(
        W=rng.normal(size=(F, K * L)),
        b=rng.normal(size=K * L),
        idx=idx,
        xs=rng.normal(size=n),
        x2=float(rng.random() * 10),
        y=rng.random(L) < 0.4,
        pp=rng.random(L) * 3,
        pw=float(rng.random() * 6),
        last=rng.random(L) < 0.5,
        mode=rng.random(L) < 0.5,
        nb=rng.normal(size=L) if with_nb else None,
        sc=sc,
        mask=rng.random(m) < 0.8,
        chosen=int(rng.integers(0, m)),
        a=0.97,
        lr=np.array([0.5, 4.0][:K]),
        w=float(rng.choice([1.0, 0.5, 2.0])),
    )


def _run(fn, case):
    c = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()}
    err, chosen = fn(*c.values())
    return err, chosen, c["W"], c["b"], c["sc"]


@compiled
@pytest.mark.parametrize("dense,with_nb", list(itertools.product([True, False], repeat=2)))
def test_leaf_step_matches_the_numpy_reference(dense, with_nb):
    rng = np.random.default_rng(7)
    for _ in range(200):
        case = _case(rng, dense, with_nb, L=int(rng.integers(1, 12)))
        e1, c1, W1, b1, s1 = _run(kernels.leaf_step_numpy, case)
        e2, c2, W2, b2, s2 = _run(kernels._kernels.leaf_step, case)
        assert c1 == c2
        assert e1 == pytest.approx(e2, abs=1e-12)
        np.testing.assert_allclose(W2, W1, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(b2, b1, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(s2, s1, rtol=1e-12, atol=1e-12)
        if not dense and case["idx"].size < case["W"].shape[0]:
            untouched = np.setdiff1d(np.arange(case["W"].shape[0]), case["idx"])
            assert np.array_equal(W2[untouched], case["W"][untouched])  # only the row's rows


@compiled
def test_nb_add_matches_the_numpy_reference():
    rng = np.random.default_rng(3)
    for _ in range(200):
        L, F = int(rng.integers(1, 10)), 20
        packed = rng.normal(size=(F, 3 * L))
        dense = bool(rng.random() < 0.5)
        n = F if dense else int(rng.integers(0, F))
        idx = None if dense else rng.choice(F, n, replace=False).astype(np.int64)
        val = rng.normal(size=n)
        base = rng.normal(size=L)
        a, b = base.copy(), base.copy()
        kernels.nb_add_numpy(packed, idx, val, a)
        kernels._kernels.nb_add(packed, idx, val, b)
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


@compiled
def test_linear_proba_matches_the_numpy_reference():
    rng = np.random.default_rng(11)
    for _ in range(100):
        case = _case(rng, bool(rng.random() < 0.5), False, L=int(rng.integers(1, 12)))
        L = case["y"].size
        for k in range(2):
            a, b = np.empty(L), np.empty(L)
            args = (case["W"], case["b"], case["idx"], case["xs"], k)
            kernels.linear_proba_numpy(*args, a)
            kernels._kernels.linear_proba(*args, b)
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="linear_proba"):  # model 2 of 2
        kernels._kernels.linear_proba(case["W"], case["b"], case["idx"], case["xs"], 2, a)


@compiled
def test_stats_add_matches_the_numpy_reference():
    rng = np.random.default_rng(5)
    for _ in range(200):
        L, F = int(rng.integers(1, 10)), 20
        dense = bool(rng.random() < 0.5)
        n = F if dense else int(rng.integers(0, F))
        idx = None if dense else rng.choice(F, n, replace=False).astype(np.int64)
        val = rng.normal(size=n)
        on = np.flatnonzero(rng.random(L) < 0.4).astype(np.int64)
        w = float(rng.choice([1.0, 0.5, 2.0]))
        start = (rng.random((F, 3)), rng.random((F, L, 3)), rng.random(L))
        a = [x.copy() for x in start]
        b = [x.copy() for x in start]
        kernels.stats_add_numpy(*a, idx, val, on, w)
        kernels._kernels.stats_add(*b, idx, val, on, w)
        for x, y in zip(a, b):
            np.testing.assert_allclose(y, x, rtol=1e-12, atol=1e-12)
        if n and on.size:
            assert not np.array_equal(a[1], start[1])  # the case did update something


@compiled
def test_nb_fit_matches_the_numpy_reference():
    rng = np.random.default_rng(9)
    for _ in range(200):
        L, F = int(rng.integers(1, 10)), 16
        # consistent counts: per feature and label, w1 <= min(non-zeros, p1), w0 <= w - p1
        w = float(rng.random() * 30 + 1)
        pos = rng.random(L) * w
        n0 = rng.random(F) * w * rng.choice([0.4, 1.0])  # rates below and above 1/2
        n0[rng.random(F) < 0.2] = 0.0  # features never non-zero
        lo = np.maximum(0.0, n0[:, None] + pos[None, :] - w)
        w1 = lo + rng.random((F, L)) * (np.minimum(n0[:, None], pos[None, :]) - lo)
        mean = rng.normal(size=F)
        m2 = mean**2 + rng.random(F)  # valued features: m2 > mean^2
        ind = rng.random(F) < 0.3  # indicators: every non-zero value 1
        mean[ind], m2[ind] = 1.0, 1.0
        nz = np.stack([n0, n0 * mean, n0 * m2], axis=1)
        share = w1 / np.maximum(n0[:, None], 1e-12) * rng.uniform(0.5, 1.5, (F, L))
        nzp = np.stack([w1, share * nz[:, 1:2], np.minimum(share, 1.0) * nz[:, 2:3]], axis=2)
        rows = rng.choice(F, int(rng.integers(1, F)), replace=False).astype(np.int64)
        out = []
        for fn in (kernels.nb_fit_numpy, kernels._kernels.nb_fit):
            coef, terms = np.empty((rows.size, 3 * L)), np.empty((rows.size, L))
            fn(nz, nzp, pos, w, rows, 1.0, 1.0, coef, terms)
            out.append((coef, terms))
        np.testing.assert_allclose(out[1][0], out[0][0], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(out[1][1], out[0][1], rtol=1e-10, atol=1e-10)


@compiled
def test_nb_mix_matches_the_numpy_reference():
    rng = np.random.default_rng(11)
    for case in range(60):
        L, F = int(rng.integers(1, 8)), 12
        base = rng.normal(size=L) * 3
        packed = rng.normal(size=(F, 3 * L))
        dense = case % 3 == 0
        n = F if dense else int(rng.integers(0, F))
        idx = None if dense else rng.choice(F, n, replace=False).astype(np.int64)
        val = rng.normal(size=n) * 2
        nbc = None if case % 4 == 1 else np.stack([np.r_[rng.random(), rng.normal(size=L)],
                                                   np.ones(L + 1)])  # fmt: skip
        if nbc is not None and case % 5 == 0:
            base[0] = np.nan  # a NaN log-odds: 0 once calibrated
        p0 = rng.random(L)
        w = float(rng.random())
        out = []
        for fn in (kernels.nb_mix_numpy, kernels._kernels.nb_mix):
            p = p0.copy()
            fn(base, packed, idx, val, nbc, p, w)
            out.append(p)
        np.testing.assert_allclose(out[1], out[0], rtol=1e-10, atol=1e-12)
        if nbc is not None:
            assert np.isfinite(out[1]).all()
    with pytest.raises(ValueError, match="nb_mix"):
        kernels._kernels.nb_mix(np.zeros(2), np.zeros((3, 6)), np.array([5]), np.ones(1), None,
                                np.zeros(2), 0.5)  # fmt: skip


@compiled
def test_compiled_kernels_reject_bad_buffers_instead_of_reading_out_of_bounds():
    case = _case(np.random.default_rng(0), dense=False, with_nb=True, L=3)
    case["idx"] = np.array([0, 99], dtype=np.int64)  # row 99 of a 30-row W
    case["xs"] = np.ones(2)
    with pytest.raises(ValueError, match="leaf_step"):
        kernels._kernels.leaf_step(*case.values())
    case["idx"] = np.array([0, 1], dtype=np.int32)
    with pytest.raises(TypeError, match="idx: expected a contiguous int64"):
        kernels._kernels.leaf_step(*case.values())
    with pytest.raises(ValueError, match="nb_add"):
        kernels._kernels.nb_add(np.zeros((2, 3)), np.array([5]), np.ones(1), np.zeros(1))
    with pytest.raises(TypeError, match="float64"):
        kernels._kernels.nb_add(np.zeros((2, 3), dtype=np.float32), None, np.ones(1), np.zeros(1))
    nz, nzp, pos = np.zeros((4, 3)), np.zeros((4, 2, 3)), np.zeros(2)
    with pytest.raises(ValueError, match="stats_add"):  # feature 4 of 4, then label 2 of 2
        kernels._kernels.stats_add(nz, nzp, pos, np.array([4]), np.ones(1), np.array([0]), 1.0)
    with pytest.raises(ValueError, match="stats_add"):
        kernels._kernels.stats_add(nz, nzp, pos, np.array([0]), np.ones(1), np.array([2]), 1.0)
    with pytest.raises(ValueError, match="nb_fit"):
        coef, terms = np.empty((1, 6)), np.empty((1, 2))
        kernels._kernels.nb_fit(nz, nzp, pos, 1.0, np.array([7]), 1.0, 1.0, coef, terms)


@compiled
@pytest.mark.parametrize(
    "dense,with_nb,with_stats,with_cal",
    [c for c in itertools.product([True, False], repeat=4) if c[1] or not c[3]],
)
def test_leaf_learn_matches_the_numpy_reference(dense, with_nb, with_stats, with_cal):
    rng = np.random.default_rng(13)
    for _ in range(150):
        L = int(rng.integers(1, 12))
        case = _case(rng, dense, False, L=L)
        F, n = case["W"].shape[0], case["xs"].size
        extra = dict(
            nb_base=rng.normal(size=L) if with_nb else None,
            nb_packed=rng.normal(size=(F, 3 * L)) if with_nb else None,
            val=rng.normal(size=n),
        )
        on = np.flatnonzero(case["y"]).astype(np.int64)
        st = (rng.random((F, 3)), rng.random((F, L, 3)), rng.random(L)) if with_stats else None
        cal = None
        if with_cal:  # a calibration some way into learning: shrinkage, biases, accumulators
            cal = np.vstack([np.r_[rng.uniform(0.2, 1.5), rng.normal(size=L)],
                             rng.uniform(1.0, 5.0, size=L + 1)])  # fmt: skip
        outs = []
        for fn in (kernels.leaf_learn_numpy, kernels._kernels.leaf_learn):
            c = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()}
            s = [x.copy() for x in st] if st is not None else [None, None, None]
            k = None if cal is None else cal.copy()
            err, chosen = fn(
                c["W"], c["b"], c["idx"], c["xs"], c["x2"], c["y"], c["pp"], c["pw"], c["last"],
                c["mode"], extra["nb_base"], extra["nb_packed"], extra["val"], c["sc"], c["mask"],
                c["chosen"], c["a"], c["lr"], c["w"], None, None, None, on, 0.7, *s, k, 0.1,
            )  # fmt: skip
            outs.append((err, chosen, c["W"], c["b"], c["sc"], c["pp"], s, k))
        (e1, c1, *a1, s1, k1), (e2, c2, *a2, s2, k2) = outs
        if with_cal:
            np.testing.assert_allclose(k2, k1, rtol=1e-12, atol=1e-12)
            assert not np.array_equal(k1, cal)  # the calibration learned
        assert c1 == c2
        assert e1 == pytest.approx(e2, abs=1e-12)
        for x, y in zip(a1, a2):
            np.testing.assert_allclose(y, x, rtol=1e-12, atol=1e-12)
        if with_stats:
            for x, y in zip(s1, s2):
                np.testing.assert_allclose(y, x, rtol=1e-12, atol=1e-12)
        # it is leaf_step with the (calibrated) naive Bayes log-odds, then the priors
        c = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()}
        if with_nb:
            c["nb"] = extra["nb_base"].copy()
            if n:
                kernels.nb_add_numpy(extra["nb_packed"], c["idx"], extra["val"], c["nb"])
            if with_cal:
                c["nb"] = kernels.nb_calibrated(c["nb"], cal)
        e3, c3, *_ = _run(kernels.leaf_step_numpy, c)
        assert (e3, c3) == pytest.approx((e1, c1), abs=1e-12)


@compiled
def test_row_local_matches_the_numpy_reference():
    rng = np.random.default_rng(17)
    for _ in range(300):
        n_known, cap = int(rng.integers(0, 40)), int(rng.integers(1, 40))
        gmap = None
        if rng.random() < 0.5:
            gmap = rng.permutation(60).astype(np.int64)
            gmap[rng.random(60) < 0.3] = -1
        n = int(rng.integers(0, 30))
        gidx = rng.choice(70, n, replace=False).astype(np.int64)
        if rng.random() < 0.3:
            gidx = np.arange(n, dtype=np.int64)
        gval = rng.normal(size=n)
        inv = rng.random(max(cap, 1) + 5)
        outs = []
        for fn in (kernels.row_local_numpy, kernels._kernels.row_local):
            loc, val, xs = np.empty(n, dtype=np.int64), np.empty(n), np.empty(n)
            k, unknown, dense, x2 = fn(gidx, gval, gmap, n_known, cap, inv, loc, val, xs)
            outs.append((k, unknown, dense, x2, loc[:k], val[:k], xs[:k]))
        (k1, u1, d1, q1, *r1), (k2, u2, d2, q2, *r2) = outs
        assert (k1, u1, d1) == (k2, u2, d2)
        assert q2 == pytest.approx(q1, rel=1e-12, abs=1e-12)
        for x, y in zip(r1, r2):
            np.testing.assert_allclose(y, x, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="row_local"):  # outputs shorter than the row
        short = (np.empty(2, dtype=np.int64), np.empty(2), np.empty(2))
        kernels._kernels.row_local(np.arange(3), np.ones(3), None, 3, 3, np.ones(3), *short)


@compiled
def test_leaf_learn_rejects_bad_buffers_instead_of_reading_out_of_bounds():
    rng = np.random.default_rng(1)
    case = _case(rng, dense=False, with_nb=False, L=3)
    F, n = case["W"].shape[0], case["xs"].size
    c = dict(case)
    args = [c["W"], c["b"], c["idx"], c["xs"], c["x2"], c["y"], c["pp"], c["pw"], c["last"],
            c["mode"], np.zeros(3), np.zeros((F - 5, 9)), np.ones(n), c["sc"], c["mask"],
            c["chosen"], c["a"], c["lr"], c["w"], None, None, None, np.array([0], dtype=np.int64),
            1.0, None, None, None, None, 0.1]  # fmt: skip
    args[2] = np.array([F - 1], dtype=np.int64)  # a row the naive Bayes table lacks
    args[3], args[12] = np.ones(1), np.ones(1)
    with pytest.raises(ValueError, match="leaf_learn"):
        kernels._kernels.leaf_learn(*args)
    args[10] = args[11] = None
    args[22] = np.array([3], dtype=np.int64)  # label 3 of 3
    with pytest.raises(ValueError, match="leaf_learn"):
        kernels._kernels.leaf_learn(*args)
    with pytest.raises(TypeError, match="29 arguments"):
        kernels._kernels.leaf_learn(*args[:-1])
    args[22] = np.array([0], dtype=np.int64)
    args[10], args[11] = np.zeros(3), np.zeros((F, 9))
    args[2], args[3], args[12] = np.array([0], dtype=np.int64), np.ones(1), np.ones(1)
    kernels._kernels.leaf_learn(*args)  # well formed
    args[27] = np.ones((2, 3))  # a calibration for 2 labels, not 3
    with pytest.raises(ValueError, match="leaf_learn"):
        kernels._kernels.leaf_learn(*args)


@compiled
def test_scaler_flush_matches_the_numpy_reference_bit_for_bit():
    rng = np.random.default_rng(19)
    for _ in range(200):
        F = int(rng.integers(1, 40))
        start = rng.integers(0, 5, F).astype(float)
        state = (start, start * rng.random(F) * 3, rng.random(F))  # cnt, sq, inv (stale)
        rows = []
        for _ in range(int(rng.integers(0, 33))):
            if rng.random() < 0.3:
                n = int(rng.integers(0, F + 1))
                rows.append((None, rng.normal(size=n) * (rng.random(n) < 0.8)))
            else:
                n = int(rng.integers(0, F + 1))
                rows.append((rng.choice(F, n, replace=False).astype(np.int64), rng.normal(size=n)))
        a, b = [x.copy() for x in state], [x.copy() for x in state]
        kernels.scaler_flush_numpy(*a, rows)
        kernels._kernels.scaler_flush(*b, rows)
        touched = np.zeros(F, dtype=bool)
        for idx, val in rows:
            touched[np.arange(val.size) if idx is None else idx] = True
        for x, y in zip(a[:2], b[:2]):
            assert np.array_equal(x, y)
        assert np.array_equal(a[2][touched], b[2][touched])  # untouched scales are left alone
    with pytest.raises(ValueError, match="scaler_flush"):
        beyond = [(np.array([2]), np.ones(1))]
        kernels._kernels.scaler_flush(np.zeros(2), np.zeros(2), np.zeros(2), beyond)
    with pytest.raises(TypeError, match="scaler_flush"):
        kernels._kernels.scaler_flush(np.zeros(2), np.zeros(2), np.zeros(2), [(None,)])


def test_set_backend_rejects_unknown_names(backend):
    with pytest.raises(ValueError, match="backend must be"):
        backend("fortran")
    backend("numpy")
    assert kernels.backend() == "numpy"


@compiled
def test_ihomer_gives_the_same_predictions_with_either_backend(backend):
    def run():
        model, out = IHOMER(), []
        for x, y in datasets.Yeast().take(800):
            out.append(model.predict_proba_one(x))
            model.learn_one(x, y)
        return out

    backend("numpy")
    reference = run()
    backend("compiled")
    fast = run()
    diffs = [
        abs(a[lab][True] - b[lab][True]) for a, b in zip(reference, fast) for lab in a
    ]
    assert len(diffs) == 800 * 14 - 14  # the first prediction is empty
    assert max(diffs) < 1e-9


def _adaptive_case(rng, per_weight: bool):
    L = int(rng.integers(1, 12))
    case = _case(rng, bool(rng.random() < 0.5), bool(rng.random() < 0.5), L=L)
    K, L = case["lr"].size, case["y"].size
    c = K * L if per_weight else K
    case["G"] = rng.random((case["W"].shape[0], c)) * 3
    case["Gb"] = rng.random(c) * 5 + 0.1
    case["ada"] = rng.random(K) < 0.7
    return case


@compiled
@pytest.mark.parametrize("per_weight", [False, True])
def test_adaptive_leaf_step_matches_the_numpy_reference(per_weight):
    rng = np.random.default_rng(13)
    for _ in range(200):
        case = _adaptive_case(rng, per_weight)
        out = []
        for fn in (kernels.leaf_step_numpy, kernels._kernels.leaf_step):
            c = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()}
            out.append((fn(*c.values()), c))
        (r1, c1), (r2, c2) = out
        assert r1[1] == r2[1] and r1[0] == pytest.approx(r2[0], abs=1e-12)
        for name in ("W", "b", "sc", "G", "Gb"):
            np.testing.assert_allclose(c2[name], c1[name], rtol=1e-11, atol=1e-12, err_msg=name)
        if case["idx"] is not None and case["idx"].size < case["W"].shape[0]:
            untouched = np.setdiff1d(np.arange(case["W"].shape[0]), case["idx"])
            assert np.array_equal(c2["G"][untouched], case["G"][untouched])


@compiled
@pytest.mark.parametrize("fn", ["numpy", "compiled"])
def test_adaptive_step_with_no_adaptive_model_or_unit_rates_is_the_plain_step(fn):
    step = kernels.leaf_step_numpy if fn == "numpy" else kernels._kernels.leaf_step
    rng = np.random.default_rng(17)
    for _ in range(50):
        case = _adaptive_case(rng, per_weight=False)
        case["x2"] = float(case["xs"] @ case["xs"])  # the normaliser the adaptive step computes
        plain = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()}
        for k in ("G", "Gb", "ada"):
            del plain[k]
        step(*plain.values())
        off = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()}
        off["ada"][:] = False
        step(*off.values())
        np.testing.assert_allclose(off["W"], plain["W"], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(off["b"], plain["b"], rtol=1e-12, atol=1e-12)
        assert np.array_equal(off["G"], case["G"]) and np.array_equal(off["Gb"], case["Gb"])
        # huge equal accumulators: every rate is 1 and the normaliser is 1 + x2
        unit = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()}
        unit["G"][:], unit["Gb"][:], unit["ada"][:] = 1e30, 1e30, True
        step(*unit.values())
        np.testing.assert_allclose(unit["W"], plain["W"], rtol=1e-9, atol=1e-12)


@compiled
def test_adaptive_leaf_step_rejects_inconsistent_accumulators():
    case = _adaptive_case(np.random.default_rng(19), per_weight=False)
    case["G"] = case["G"][:, :1].copy()  # one column for two models
    with pytest.raises(ValueError, match="leaf_step"):
        kernels._kernels.leaf_step(*case.values())


def _probabilities(rng, n: int) -> np.ndarray:
    """Random probabilities with every bin edge, the values just beside them, 0 and 1."""
    from ihomer.decision import EDGES

    special = np.concatenate([EDGES, np.nextafter(EDGES, 0.0), np.nextafter(EDGES, 1.0),
                              [0.0, 1.0, 5e-324, np.nextafter(1.0, 0.0)]])  # fmt: skip
    return np.concatenate([rng.random(n), special])


@compiled
def test_threshold_count_matches_the_numpy_reference_and_the_buffered_count(backend):
    from ihomer.decision import _BIN_OF_PERCENT, _LOWER, EDGES, ThresholdSelector

    rng = np.random.default_rng(3)
    P = _probabilities(rng, 500)
    y = rng.random(P.size) < 0.3
    nb = len(EDGES) + 1
    a, b = np.zeros(2 * P.size * nb), np.zeros(2 * P.size * nb)
    kernels._kernels.threshold_count(a, P, y, _BIN_OF_PERCENT, _LOWER)
    kernels.threshold_count_numpy(b, P, y, _BIN_OF_PERCENT, _LOWER)
    np.testing.assert_array_equal(a, b)
    # each label counted once, in the bin np.searchsorted gives
    c = a.reshape(P.size, nb, 2)
    np.testing.assert_array_equal(c.sum(axis=(1, 2)), np.ones(P.size))
    np.testing.assert_array_equal(c.sum(axis=2).argmax(axis=1),
                                  np.searchsorted(EDGES, P, side="right"))  # fmt: skip
    # the selector counts the same with the kernel (at once) and with numpy (buffered)
    pairs = [(_probabilities(rng, 20)[:24], rng.random(24) < 0.4) for _ in range(70)]
    counts = {}
    for name in ("compiled", "numpy"):
        backend(name)
        sel = ThresholdSelector(hamming_cost=2.0, warm=5, refit_every=3)
        sel.resize(24)
        for p, t in pairs:
            sel.learn(p, t)
        sel._flush()
        counts[name] = (sel._counts.copy(), sel.thresholds.copy())
    np.testing.assert_array_equal(counts["compiled"][0], counts["numpy"][0])
    np.testing.assert_array_equal(counts["compiled"][1], counts["numpy"][1])


@compiled
def test_threshold_count_rejects_bad_buffers():
    from ihomer.decision import _BIN_OF_PERCENT, _LOWER

    P, y = np.full(3, 0.5), np.zeros(3, dtype=bool)
    with pytest.raises(ValueError, match="threshold_count"):  # counts too short for 3 labels
        kernels._kernels.threshold_count(np.zeros(10), P, y, _BIN_OF_PERCENT, _LOWER)
    with pytest.raises(ValueError, match="threshold_count"):  # y of another length
        kernels._kernels.threshold_count(np.zeros(200), P, y[:2], _BIN_OF_PERCENT, _LOWER)
    with pytest.raises(TypeError):
        kernels._kernels.threshold_count(np.zeros(200), P.astype(np.float32), y,
                                         _BIN_OF_PERCENT, _LOWER)  # fmt: skip


def _margin_state(rng, rows: int, L: int) -> dict:
    return dict(
        W=rng.normal(size=(rows, L)) * 0.3,
        G=np.abs(rng.normal(size=(rows, L))),
        N=np.abs(rng.normal(size=rows)) * (rng.random(rows) < 0.8),  # some never seen (0)
        b=rng.normal(size=L) * 0.3,
        Gb=np.abs(rng.normal(size=L)) + 0.1,
        stat=np.array([3.0, 5.0]),
    )


@compiled
def test_margin_kernels_match_the_numpy_reference():
    rng = np.random.default_rng(5)
    for case in range(40):
        L, rows = int(rng.integers(1, 300 if case % 10 == 0 else 9)), int(rng.integers(4, 40))
        states = [_margin_state(np.random.default_rng(case), rows, L) for _ in range(2)]
        for _ in range(15):
            n = int(rng.integers(0, rows))
            idx = rng.choice(rows * 3, size=n, replace=False).astype(np.int64)
            idx = idx[np.unique(idx % rows, return_index=True)[1]]  # distinct rows
            val = rng.normal(size=idx.size) * rng.choice([0.1, 1.0, 50.0])
            if case % 4 == 1 and val.size:
                val[0] = 0.0  # a zero: an absent column
            y = rng.random(L) < 0.3
            eta = float(rng.choice([0.5, 1.0, 10.0]))
            given = rng.random() < 0.5  # the scores from the row's votes, or computed again
            got = []
            for fn, vf, st in zip((kernels.margin_learn_numpy, kernels._kernels.margin_learn),
                                  (kernels.margin_votes_numpy, kernels._kernels.margin_votes),
                                  states):  # fmt: skip
                q = np.empty(L)
                vf(st["W"], st["b"], idx, val, q)
                got.append(fn(*st.values(), idx, val, y, eta, q if given else None))
            assert got[0] == got[1]
            for k in states[0]:
                np.testing.assert_allclose(states[1][k], states[0][k], rtol=1e-10, atol=1e-12)
            votes = []
            for fn, st in zip((kernels.margin_votes_numpy, kernels._kernels.margin_votes), states):
                out = np.empty(L)
                fn(st["W"], st["b"], idx, val, out)
                votes.append(out)
            np.testing.assert_allclose(votes[1], votes[0], rtol=1e-10, atol=1e-12)
            assert ((votes[1] >= 0) & (votes[1] <= 1)).all()
            assert all(np.isfinite(v).all() for st in states for v in st.values())


@compiled
def test_margin_standardise_moments_and_blend_kernels_match_the_numpy_reference():
    rng = np.random.default_rng(9)
    for _ in range(30):
        R = int(rng.integers(0, 12))
        moments = np.c_[rng.integers(0, 5, R), rng.normal(size=R) * 3, rng.random(R) * 9]
        moments[: R // 3, 2] = moments[: R // 3, 1] ** 2 / np.maximum(moments[: R // 3, 0], 1)
        n = int(rng.integers(0, 15))
        idx = rng.choice(20, size=n, replace=False).astype(np.int64)  # some beyond R
        val = rng.normal(size=n)
        if n:
            val[0] = moments[idx[0], 1] / max(moments[idx[0], 0], 1) if idx[0] < R else 0.0
        outs = []
        for fn in (kernels.margin_standardise_numpy, kernels._kernels.margin_standardise):
            oi, ov = np.empty(n, dtype=np.int64), np.empty(n)
            k = fn(moments, idx, val, oi, ov)
            outs.append((oi[:k], ov[:k]))
        np.testing.assert_array_equal(outs[1][0], outs[0][0])
        np.testing.assert_allclose(outs[1][1], outs[0][1], rtol=1e-12)
        assert (outs[1][1] != 0).all()
        if R:
            got = [moments.copy(), moments.copy()]
            inside = idx[idx < R]
            kernels.margin_moments_numpy(got[0], inside, val[idx < R])
            kernels._kernels.margin_moments(got[1], inside, val[idx < R])
            np.testing.assert_allclose(got[1], got[0], rtol=1e-12)
        L, S = int(rng.integers(1, 7)), int(rng.integers(1, 4))
        P, V, y = rng.random(L), rng.random((S, L)), rng.random(L) < 0.5
        src = np.r_[-1, rng.integers(0, S, 4)].astype(np.int64)
        w = np.r_[0.0, rng.random(4)]
        loss = [rng.random(5) * 3, None]
        loss[1] = loss[0].copy()
        ks = [fn(P, V, y, src, w, lo) for fn, lo in zip(
            (kernels.margin_blend_learn_numpy, kernels._kernels.margin_blend_learn), loss)]
        np.testing.assert_allclose(loss[1], loss[0], rtol=1e-12)
        assert ks[0] == ks[1] == int(np.argmin(loss[0]))


@compiled
def test_margin_kernels_reject_bad_buffers():
    st = _margin_state(np.random.default_rng(0), 4, 3)
    y = np.zeros(3, dtype=bool)
    with pytest.raises(ValueError, match="margin_learn"):  # a negative column id
        kernels._kernels.margin_learn(*st.values(), np.array([-1]), np.ones(1), y, 1.0, None)
    with pytest.raises(ValueError, match="margin_learn"):  # y of another length
        kernels._kernels.margin_learn(*st.values(), np.array([1]), np.ones(1), y[:2], 1.0, None)
    with pytest.raises(ValueError, match="margin_learn"):  # votes of another length
        kernels._kernels.margin_learn(*st.values(), np.array([1]), np.ones(1), y, 1.0, np.ones(2))
    with pytest.raises(TypeError, match="float64"):
        kernels._kernels.margin_votes(st["W"].astype(np.float32), st["b"], np.array([1]),
                                      np.ones(1), np.empty(3))  # fmt: skip
    with pytest.raises(ValueError, match="margin_votes"):  # out too short
        kernels._kernels.margin_votes(st["W"], st["b"], np.array([1]), np.ones(1), np.empty(2))
    with pytest.raises(ValueError, match="margin_moments"):  # column 4 of 4
        kernels._kernels.margin_moments(np.zeros((4, 3)), np.array([4]), np.ones(1))
    with pytest.raises(ValueError, match="margin_standardise"):  # outputs too short
        kernels._kernels.margin_standardise(np.zeros((4, 3)), np.array([1, 2]), np.ones(2),
                                            np.empty(1, dtype=np.int64), np.empty(1))  # fmt: skip
    with pytest.raises(ValueError, match="margin_blend_learn"):  # src names scorer 2 of 1
        kernels._kernels.margin_blend_learn(np.ones(2), np.ones((1, 2)), np.ones(2, dtype=bool),
                                            np.array([2]), np.ones(1), np.zeros(1))  # fmt: skip
