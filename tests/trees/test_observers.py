"""Split statistics with implicit zeros and missing values against brute force."""

import numpy as np
import pytest

from ihomer.trees.criterion import split_merit
from ihomer.trees.observers import ZERO_SPLIT, LeafStats, moments

EMPTY = np.empty(0, dtype=np.int64)


def random_sparse(rng, n, f, L, density=0.3, p_missing=0.1):
    """Dense matrix X (NaN = missing, 0 = absent), weights, labels, and the sparse rows."""
    X = np.where(rng.random((n, f)) < density, rng.normal(1.0, 2.0, (n, f)), 0.0)
    X[rng.random((n, f)) < p_missing] = np.nan
    Y = rng.random((n, L)) < 0.4
    W = rng.uniform(0.5, 2.0, n)
    return X, Y, W


def feed(st, X, Y, W):
    for x, y, w in zip(X, Y, W):
        nz = np.flatnonzero((x != 0) & ~np.isnan(x))
        miss = np.flatnonzero(np.isnan(x))
        st.update(nz, moments(x[nz], w), miss, np.flatnonzero(y), w)


def test_statistics_equal_brute_force_with_implicit_zeros_and_missing():
    rng = np.random.default_rng(1)
    n, f, L = 300, 7, 4
    X, Y, W = random_sparse(rng, n, f, L)
    st = LeafStats(f, L)
    feed(st, X, Y, W)
    miss = np.isnan(X)
    nonzero = (X != 0) & ~miss
    zero = X == 0
    Xz = np.nan_to_num(X)
    assert st.w == pytest.approx(W.sum())
    np.testing.assert_allclose(st.pos, (W[:, None] * Y).sum(0))
    np.testing.assert_allclose(st.nz[:, 0], (W[:, None] * nonzero).sum(0))
    np.testing.assert_allclose(st.nz[:, 1], (W[:, None] * Xz).sum(0))
    np.testing.assert_allclose(st.nz[:, 2], (W[:, None] * Xz**2).sum(0))
    np.testing.assert_allclose(st.miss, (W[:, None] * miss).sum(0))
    for l in range(L):
        on = Y[:, l]
        np.testing.assert_allclose(st.nzp[:, l, 0], (W[on, None] * nonzero[on]).sum(0))
        np.testing.assert_allclose(st.nzp[:, l, 1], (W[on, None] * Xz[on]).sum(0))
        np.testing.assert_allclose(st.missp[:, l], (W[on, None] * miss[on]).sum(0))
    # zeros are never stored but are counted: total - missing - non-zero = brute-force zeros
    zp, zw, nzp, nzw = st.zero_split_stats(f)
    np.testing.assert_allclose(zw, (W[:, None] * zero).sum(0))
    for l in range(L):
        on = Y[:, l]
        np.testing.assert_allclose(zp[:, l], (W[on, None] * zero[on]).sum(0))


def test_zero_split_merit_is_exact():
    rng = np.random.default_rng(2)
    n, f, L = 400, 5, 3
    X, Y, W = random_sparse(rng, n, f, L, density=0.4, p_missing=0.05)
    # plant: label 0 on iff feature 3 is non-zero
    Y[:, 0] = (X[:, 3] != 0) & ~np.isnan(X[:, 3])
    st = LeafStats(f, L)
    feed(st, X, Y, W)
    best = st.best_split(f)
    assert best.feature == 3 and best.kind == ZERO_SPLIT
    # brute force merit of "x == 0 vs x != 0" over the non-missing instances
    obs = ~np.isnan(X[:, 3])
    left = obs & (X[:, 3] == 0)
    right = obs & (X[:, 3] != 0)
    pos = lambda m: (W[m, None] * Y[m]).sum(0)  # noqa: E731
    lw, rw = W[left].sum(), W[right].sum()
    expected = split_merit(pos(obs), W[obs].sum(), pos(left), np.full(L, lw),
                           pos(right), np.full(L, rw))
    assert best.merit == pytest.approx(float(expected))
    np.testing.assert_allclose(best.left_pos, pos(left))
    np.testing.assert_allclose(best.right_w, np.full(L, rw))


def test_threshold_split_found_on_dense_feature():
    rng = np.random.default_rng(3)
    n = 600
    X = np.column_stack([rng.uniform(1, 2, n), rng.uniform(1, 2, n)])  # never zero
    Y = (X[:, 1] > 1.5)[:, None]
    st = LeafStats(2, 1)
    feed(st, X, Y, np.ones(n))
    best = st.best_split(2)
    assert best.feature == 1 and best.kind != ZERO_SPLIT
    assert 1.3 < best.threshold < 1.7
    assert best.merit > 0.5


def test_growth_keeps_statistics():
    st = LeafStats(2, 1)
    st.update(np.array([1]), moments(np.array([2.0]), 1.0), EMPTY, np.array([0]), 1.0)
    st.grow_features(8)
    st.add_labels(2)
    assert st.nz.shape == (8, 3) and st.nzp.shape == (8, 3, 3)
    assert st.nz[1, 1] == 2.0 and st.nzp[1, 0, 0] == 1.0 and st.nzp[1, 1:, 0].sum() == 0


def test_naive_bayes_partial_refit_matches_full_refit_on_touched_features():
    import copy

    rng = np.random.default_rng(5)
    st = LeafStats(n_features=50, n_labels=3)
    none = np.array([], dtype=np.int64)

    def feed(n, cols):
        for _ in range(n):
            idx = np.sort(rng.choice(cols, size=4, replace=False)).astype(np.int64)
            val = rng.random(4) + 0.1
            on = np.flatnonzero(rng.random(3) < 0.4)
            st.update(idx, moments(val, 1.0), none, on, 1.0)

    feed(200, np.arange(50))
    st._fit_nb()  # full
    full_w = st.nb_full_w
    feed(40, np.arange(10))  # only features 0..9 change
    st._fit_nb()  # partial: weight has not doubled
    assert st.nb_full_w == full_w
    ref = copy.deepcopy(st)
    ref.nb_nzw = None
    ref._fit_nb()  # full refit of the same statistics
    assert ref.nb_full_w > full_w
    assert np.allclose(st.nb[1][:10], ref.nb[1][:10])  # touched features: exact
    assert np.allclose(st.nb_terms[:10], ref.nb_terms[:10])
    assert np.allclose(st.nb[1][10:], ref.nb[1][10:], atol=0.2)  # untouched: close


def test_best_split_skips_only_features_that_cannot_split(monkeypatch):
    """Skipping the features whose non-zero weight cannot fill a branch (observers.splittable)
    gives the split that evaluating every feature gives, on text-like statistics where most
    features are rare."""
    from ihomer.trees import observers

    rng = np.random.default_rng(11)
    n, f, L = 500, 300, 6
    rare = rng.random((n, f)) < np.geomspace(0.3, 0.0005, f)  # Zipf-like: most are rare
    X = np.where(rare, rng.integers(1, 4, (n, f)).astype(float), 0.0)
    Y = rng.random((n, L)) < 0.3
    Y[:, 0] |= X[:, 2] > 1  # a threshold split worth finding
    everything = lambda nz_w, wf, mb: np.arange(nz_w.size)  # noqa: E731
    n_cases = n_skipped = 0
    for seed in range(8):
        w = np.random.default_rng(seed).uniform(0.5, 2.0, n)
        st = LeafStats(f, L)
        feed(st, X, Y, w)
        for mb in (0.01, 0.05):
            fast = st.best_split(f, min_branch=mb)
            wf, _ = st.observed(f)
            n_skipped += f - observers.splittable(st.nz[:f, 0], wf, mb).size
            with monkeypatch.context() as m:
                m.setattr(observers, "splittable", everything)
                slow = st.best_split(f, min_branch=mb)
            assert (fast is None) == (slow is None)
            if fast is None:
                continue
            n_cases += 1
            assert (fast.feature, fast.kind) == (slow.feature, slow.kind)
            assert (fast.threshold, fast.merit, fast.second_merit) == (
                slow.threshold, slow.merit, slow.second_merit
            )
            for a, b in ((fast.left_pos, slow.left_pos), (fast.right_w, slow.right_w)):
                assert np.array_equal(a, b)
    assert n_cases >= 8 and n_skipped > 8 * 100  # splits were found, most features skipped
