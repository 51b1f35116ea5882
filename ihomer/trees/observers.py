"""Per-leaf split statistics of the multi-label Hoeffding tree, and split evaluation from them.

A :class:`LeafStats` keeps, per feature, the weight / sum / sum of squares of the **non-zero**
observations, overall and per label restricted to the instances where the label is on, plus the
weight of the explicitly **missing** observations. Zeros are never stored: a feature's zero weight
is (total weight - missing weight - non-zero weight), so an update costs O(nnz * labels on).

Split evaluation is vectorised over (features, candidate thresholds, labels):

* the exact "x == 0 vs x != 0" split for every feature;
* "x <= t" splits at thresholds placed on the Gaussian of the non-zero values (mean + z * sd),
  with per-label Gaussians (label on / label off) for the non-zero values and the exact zero counts.

This module must not know about nodes, leaf models or drift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from ihomer.trees import kernels
from ihomer.trees.arrays import grow_rows
from ihomer.trees.criterion import split_merit

__all__ = ["LeafStats", "SplitCandidate", "ZERO_SPLIT", "THRESHOLD_SPLIT"]

ZERO_SPLIT = 0  # left: x == 0, right: x != 0
THRESHOLD_SPLIT = 1  # left: x <= threshold, right: x > threshold

#: default candidate thresholds, in standard deviations of the non-zero values around their mean
DEFAULT_Z_GRID = np.array([-1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5])


def moments(val: np.ndarray, w: float) -> np.ndarray:
    """(nnz, 3) array of (w, w*x, w*x^2), the update shared by every leaf on an instance's path."""
    m = np.empty((val.size, 3))
    m[:, 0] = w
    if w == 1.0:  # val * 1.0 == val exactly: one product fewer
        m[:, 1] = val
        np.multiply(val, val, out=m[:, 2])
    else:
        np.multiply(val, w, out=m[:, 1])
        np.multiply(m[:, 1], val, out=m[:, 2])
    return m


@dataclass
class SplitCandidate:
    """The best split of a leaf and what the Hoeffding test needs."""

    feature: int
    kind: int
    threshold: float
    merit: float
    second_merit: float
    missing_left: bool
    left_pos: np.ndarray  # estimated positive weight per label in the left child
    left_w: np.ndarray  # estimated weight per label in the left child
    right_pos: np.ndarray
    right_w: np.ndarray


def splittable(nz_w: np.ndarray, wf: np.ndarray, min_branch: float) -> np.ndarray:
    """The features (indices) that :meth:`LeafStats.best_split` evaluates: those whose non-zero
    weight ``nz_w`` can fill a branch. A zero split puts the non-zeros on one side, and a
    threshold split on the non-zero values leaves one side inside them, so below
    ``min_branch`` x the observed weight ``wf`` every split of a feature is refused (-inf):
    skipping those (most words of a text stream) changes no merit. The 1e-9 keeps the
    features at the boundary, which the rounding of the branch fractions decides as before.

    >>> splittable(np.array([0.0, 1.0, 5.0]), np.array([100.0, 100.0, 100.0]), 0.01).tolist()
    [1, 2]
    """
    return np.flatnonzero(nz_w >= min_branch * (1.0 - 1e-9) * wf)


class LeafStats:
    """Split statistics of one leaf (see the module docstring).

    Examples
    --------
    >>> st = LeafStats(n_features=2, n_labels=1)
    >>> for x0, yy in [(0.0, 0), (0.0, 0), (2.0, 1), (3.0, 1)]:
    ...     idx = np.array([0]) if x0 else np.array([], dtype=np.int64)
    ...     val = np.array([x0]) if x0 else np.array([])
    ...     none = np.array([], dtype=np.int64)
    ...     st.update(idx, moments(val, 1.0), none, np.flatnonzero([yy]), 1.0)
    >>> best = st.best_split(2)
    >>> best.feature, best.kind, round(best.merit, 3)
    (0, 0, 1.0)
    """

    __slots__ = (
        "w", "pos", "nz", "nzp", "miss", "missp", "buf", "nb", "nb_w", "nb_full_w", "nb_nzw",
        "nb_terms", "nb_prior",
    )  # fmt: skip

    #: rows buffered before a batched update (dense inputs, see :meth:`push`)
    BATCH = 32

    def __init__(self, n_features: int, n_labels: int) -> None:
        self.w = 0.0
        self.pos = np.zeros(n_labels)
        self.nz = np.zeros((n_features, 3))  # per feature: (weight, sum, sum sq) of non-zeros
        self.nzp = np.zeros((n_features, n_labels, 3))  # same, where label on
        self.miss: np.ndarray | None = None  # (features,) missing weight, lazily
        self.missp: np.ndarray | None = None  # (features, labels) missing positive weight
        self.buf: list = []  # (idx, val, y, w, dense) rows not yet added
        self.nb: tuple | None = None  # cached naive Bayes parameters (see nb_logit)
        self.nb_w = 0.0
        self.nb_full_w = 0.0  # weight at the last full refit
        self.nb_nzw: np.ndarray | None = None  # per feature: non-zero weight at the last refit
        self.nb_terms: np.ndarray | None = None  # per feature and label: zero-term log-odds
        self.nb_prior: np.ndarray | None = None  # the label-prior log-odds inside nb's base

    # -- growth -------------------------------------------------------------------------------
    def grow_features(self, cap: int) -> None:
        n = self.nz.shape[0]
        if cap <= n:
            return
        if self.nb is not None:  # new features contribute nothing until the next refresh
            base, packed = self.nb
            self.nb = (base, grow_rows(packed, cap))
            self.nb_nzw = None  # next refresh: a full refit
        self.nz = grow_rows(self.nz, cap)
        self.nzp = grow_rows(self.nzp, cap)
        if self.miss is not None:
            self.miss = grow_rows(self.miss, cap)
            self.missp = grow_rows(self.missp, cap)

    def take_features(self, rows: np.ndarray, cap: int) -> None:
        """Keep the feature rows ``rows`` only (renumbered 0..), with room for ``cap``."""
        self.flush()
        n = rows.size

        def take(a: np.ndarray | None) -> np.ndarray | None:
            if a is None:
                return None
            out = np.zeros((cap,) + a.shape[1:])
            out[:n] = a[rows]
            return out

        self.nz, self.nzp = take(self.nz), take(self.nzp)
        self.miss, self.missp = take(self.miss), take(self.missp)
        if self.nb is not None:
            self.nb = (self.nb[0], take(self.nb[1]))
        self.nb_nzw = None  # next refresh: a full refit

    def add_labels(self, k: int) -> None:
        self.flush()
        self.nb_nzw = None  # next refresh: a full refit
        if self.nb is not None:  # new labels: predicted off until the next refresh
            base, packed = self.nb
            f = packed.shape[0]
            L = base.size
            blocks = packed.reshape(f, 3, L)
            self.nb = (
                np.concatenate([base, np.full(k, -30.0)]),
                np.concatenate([blocks, np.zeros((f, 3, k))], axis=2).reshape(f, -1),
            )
        self.pos = np.concatenate([self.pos, np.zeros(k)])
        f = self.nzp.shape[0]
        self.nzp = np.concatenate([self.nzp, np.zeros((f, k, 3))], axis=1)
        if self.missp is not None:
            self.missp = np.concatenate([self.missp, np.zeros((f, k))], axis=1)

    def restrict(self, pos: np.ndarray) -> None:
        """Keep only the labels at ``pos`` (in that order), in place."""
        self.flush()
        L = self.pos.size
        self.pos = self.pos[pos]
        self.nzp = np.ascontiguousarray(self.nzp[:, pos, :])
        if self.missp is not None:
            self.missp = np.ascontiguousarray(self.missp[:, pos])
        self.nb_nzw = None  # next refresh: a full refit
        if self.nb is not None:
            base, packed = self.nb
            f = packed.shape[0]
            packed = np.ascontiguousarray(packed.reshape(f, 3, L)[:, :, pos].reshape(f, -1))
            self.nb = (base[pos], packed)

    # -- learning -----------------------------------------------------------------------------
    def update(
        self, idx: np.ndarray, mom: np.ndarray, missing: np.ndarray, on: np.ndarray, w: float
    ) -> None:
        """Add one instance: ``mom`` = :func:`moments` of its non-zeros, ``on`` = labels on."""
        self.w += w
        if on.size:
            self.pos[on] += w
        if idx.size:
            self.nz[idx] += mom
            if on.size:
                self.nzp[idx[:, None], on] += mom[:, None, :]
        if missing.size:
            self.add_missing(missing, on, w)

    def add(
        self,
        idx: np.ndarray,
        val: np.ndarray,
        missing: np.ndarray,
        on: np.ndarray,
        w: float,
        dense: bool = False,
    ) -> None:
        """:meth:`update` from the row itself, in one :func:`ihomer.trees.kernels.stats_add`
        call (int64 ``idx`` and ``on``; ``dense``: ``idx`` is ``arange(idx.size)``)."""
        self.w += w
        kernels.stats_add(self.nz, self.nzp, self.pos, None if dense else idx, val, on, w)
        if missing.size:
            self.add_missing(missing, on, w)

    def add_missing(self, missing: np.ndarray, on: np.ndarray, w: float) -> None:
        """Count the explicitly missing features of one instance (never zeros, never non-zeros)."""
        if self.miss is None:
            self.miss = np.zeros(self.nz.shape[0])
            self.missp = np.zeros(self.nzp.shape[:2])
        self.miss[missing] += w
        if on.size:
            self.missp[missing[:, None], on] += w

    def push(
        self, idx: np.ndarray, val: np.ndarray, y: np.ndarray, w: float, dense: bool = False
    ) -> None:
        """Buffer one instance's non-zeros (batched path, cheaper on dense inputs); missing values
        go through :meth:`add_missing`. Call :meth:`flush` before reading the statistics.
        ``dense`` says that ``idx`` is ``arange(idx.size)`` (a shortcut for :meth:`flush`)."""
        self.buf.append((idx, val, y, w, dense))
        if len(self.buf) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        """Add the buffered rows with one matrix product over the features they touch."""
        rows = self.buf
        if not rows:
            return
        self.buf = []
        nb = len(rows)
        L = self.pos.size
        rhs = np.empty((nb, L + 1))
        rhs[:, :L] = [r[2] for r in rows]
        rhs[:, L] = [r[3] for r in rows]
        rhs[:, :L] *= rhs[:, L:]
        self.w += float(rhs[:, L].sum())
        self.pos += rhs[:, :L].sum(0)
        lens = [r[0].size for r in rows]
        if not sum(lens):
            return
        n0 = lens[0]
        if n0 and all(r[-1] is True for r in rows) and lens.count(n0) == nb:
            # every row is arange(n0): the unique columns are 0..n0-1, in row order
            X = np.empty((3, nb, n0))
            X[0] = 1.0
            X[1] = [r[1] for r in rows]
            np.multiply(X[1], X[1], out=X[2])
            out = np.matmul(X.transpose(0, 2, 1), rhs)  # (3, n0, L + 1)
            self.nzp[:n0] += out[:, :, :L].transpose(1, 2, 0)
            self.nz[:n0] += out[:, :, L].T
            return
        cols = np.concatenate([r[0] for r in rows])
        vals = np.concatenate([r[1] for r in rows])
        which = np.repeat(np.arange(nb), lens)
        u, inv = np.unique(cols, return_inverse=True)
        X = np.zeros((3, nb, u.size))
        X[0, which, inv] = 1.0
        X[1, which, inv] = vals
        X[2, which, inv] = vals * vals
        out = np.matmul(X.transpose(0, 2, 1), rhs)  # (3, U, L + 1)
        self.nzp[u] += out[:, :, :L].transpose(1, 2, 0)
        self.nz[u] += out[:, :, L].T

    # -- evaluation ---------------------------------------------------------------------------
    def observed(self, nf: int) -> tuple[np.ndarray, np.ndarray]:
        """Per feature: observed (non-missing) weight (nf,), positive weight (nf, L)."""
        self.flush()
        if self.miss is None:
            return np.full(nf, self.w), np.broadcast_to(self.pos, (nf, self.pos.size))
        return self.w - self.miss[:nf], self.pos[None, :] - self.missp[:nf]

    def zero_split_stats(self, nf: int) -> tuple[np.ndarray, ...]:
        """Exact children of the zero splits: (zero_pos (nf,L), zero_w (nf,), nz_pos, nz_w)."""
        wf, pf = self.observed(nf)
        nz_w = self.nz[:nf, 0]
        nz_pos = self.nzp[:nf, :, 0]
        return pf - nz_pos, wf - nz_w, nz_pos, nz_w

    #: floats per temporary of the threshold-split evaluation (features x thresholds x labels)
    SPLIT_BLOCK = 1 << 20

    def _threshold_merits(
        self,
        d: np.ndarray,
        mean: np.ndarray,
        sd: np.ndarray,
        z_grid: np.ndarray,
        wf: np.ndarray,
        pf: np.ndarray,
        zp: np.ndarray,
        zw: np.ndarray,
        min_branch: float,
        rows: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, tuple]:
        """Merits (D, K) of the "x <= t" splits of features ``d`` at thresholds ``t`` (D, K),
        and the children's (left_on, left_w, right_on, right_w) (D, K, L). ``rows`` (optional)
        are the features' rows in the statistics when ``d`` indexes a subset of them (the
        other arrays are that subset's)."""
        nz, nzp = self.nz, self.nzp
        g = d if rows is None else rows[d]
        t = mean[d, None] + sd[d, None] * z_grid[None, :]  # (D, K)
        won = nzp[g, :, 0]
        woff = nz[g, 0][:, None] - won
        son = nzp[g, :, 1]
        soff = nz[g, 1][:, None] - son
        qon = nzp[g, :, 2]
        qoff = nz[g, 2][:, None] - qon
        left_on = _gauss_left(won, son, qon, t)  # (D, K, L)
        left_off = _gauss_left(woff, soff, qoff, t)
        zl = (t >= 0.0)[:, :, None]
        zpd = zp[d][:, None, :]
        left_on = left_on + zl * zpd
        left_off = left_off + zl * (zw[d][:, None, None] - zpd)
        left_w = left_on + left_off
        pfd = pf[d][:, None, :]
        wfd = wf[d][:, None, None]
        right_on = pfd - left_on
        right_w = wfd - left_w
        m = split_merit(pfd, wfd, left_on, left_w, right_on, right_w)  # (D, K)
        lf = left_w.mean(-1) / wf[d][:, None]
        m = np.where((lf >= min_branch) & (lf <= 1.0 - min_branch), m, -np.inf)
        m = np.nan_to_num(m, nan=-np.inf)
        return m, t, (left_on, left_w, right_on, right_w)

    def best_split(
        self, nf: int, z_grid: np.ndarray = DEFAULT_Z_GRID, min_branch: float = 0.01
    ) -> SplitCandidate | None:
        """Best split over the first ``nf`` features, with the best merit of another feature."""
        self.flush()
        nf = min(nf, self.nz.shape[0])
        if nf == 0 or self.w <= 0:
            return None
        wf, pf = self.observed(nf)
        rows = splittable(self.nz[:nf, 0], wf, min_branch)
        if rows.size == 0:
            return None
        wf, pf = wf[rows], pf[rows]
        nz = self.nz[rows]
        nzw = nz[:, 0]
        nzpos = self.nzp[rows, :, 0]
        zp, zw = pf - nzpos, wf - nzw
        wcol = wf[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            # exact zero split
            m_zero = split_merit(pf, wcol, zp, zw[:, None], nzpos, nzw[:, None])
            frac = zw / wf
            ok = (frac >= min_branch) & (frac <= 1.0 - min_branch)
            m_zero = np.where(ok, m_zero, -np.inf)

            # threshold splits on the non-zero values
            mean = nz[:, 1] / nz[:, 0]
            sd = np.sqrt(np.maximum(nz[:, 2] / nz[:, 0] - mean * mean, 0.0))
            dense = np.flatnonzero((sd > 1e-12 * (np.abs(mean) + 1.0)) & (nz[:, 0] > 0))
            nr = rows.size
            m_thr = np.full(nr, -np.inf)
            t_best = np.zeros(nr)
            k_best = np.zeros(nr, dtype=np.int64)
            # in blocks of features: the temporaries are (block, thresholds, labels) arrays
            L = pf.shape[1]
            block = max(1, self.SPLIT_BLOCK // max(1, z_grid.size * L))
            for i in range(0, dense.size, block):
                d = dense[i : i + block]
                m, t, _ = self._threshold_merits(
                    d, mean, sd, z_grid, wf, pf, zp, zw, min_branch, rows
                )
                k = m.argmax(1)
                at = np.arange(d.size)
                m_thr[d] = m[at, k]
                t_best[d] = t[at, k]
                k_best[d] = k
            m_zero = np.nan_to_num(m_zero, nan=-np.inf)
        per_feature = np.full(nf, -np.inf)  # the skipped features' -inf, so ties between
        per_feature[rows] = np.maximum(m_zero, m_thr)  # equal merits fall as before
        if not np.isfinite(per_feature).any():
            return None
        order = np.argsort(-per_feature)
        f = int(order[0])
        i = int(np.searchsorted(rows, f))
        second = float(per_feature[order[1]]) if nf > 1 else 0.0
        if not np.isfinite(second):
            second = 0.0
        if m_zero[i] >= m_thr[i]:
            lp, lw = zp[i].copy(), np.full(L, zw[i])
            rp, rw = nzpos[i].copy(), np.full(L, nzw[i])
            kind, thr, merit = ZERO_SPLIT, 0.0, float(m_zero[i])
        else:
            d = np.array([i])
            with np.errstate(divide="ignore", invalid="ignore"):
                _, _, (lo, lwa, ro, rwa) = self._threshold_merits(
                    d, mean, sd, z_grid, wf, pf, zp, zw, min_branch, rows
                )
            kk = k_best[i]
            lp, lw = lo[0, kk].copy(), lwa[0, kk].copy()
            rp, rw = ro[0, kk].copy(), rwa[0, kk].copy()
            kind, thr, merit = THRESHOLD_SPLIT, float(t_best[i]), float(m_thr[i])
        return SplitCandidate(
            feature=f,
            kind=kind,
            threshold=thr,
            merit=merit,
            second_merit=second,
            missing_left=bool(lw.mean() >= rw.mean()),
            left_pos=lp,
            left_w=lw,
            right_pos=rp,
            right_w=rw,
        )

    # -- naive Bayes from the same statistics ----------------------------------------------------
    #: refresh the naive Bayes parameters after this much new weight, or this fraction of the
    #: weight seen at the last refresh if larger (estimates settle as the leaf grows)
    NB_REFRESH = 32.0
    NB_REFRESH_FRACTION = 1.0 / 16.0
    #: and at most this many (feature, label) cells of refit work per instance on average: a
    #: leaf of 3,000 features x 1,000 labels refreshes every 150 instances, not every 32
    NB_CELLS_PER_INSTANCE = 20_000

    def nb_logit(
        self, idx: np.ndarray, val: np.ndarray, rows: slice | None = None
    ) -> np.ndarray:
        """Per-label log-odds of a naive Bayes over the features: per feature, P(non-zero | label)
        (an m-estimate: two prior rows at the feature's pooled non-zero rate, at most 1/2 for a
        feature of several values) times a Gaussian of the non-zero value (shrunk towards the
        feature's pooled moments), or P(zero | label) for the features absent from the row.
        Parameters are refreshed every ``NB_REFRESH`` weight (or more, see
        ``NB_REFRESH_FRACTION``), so a call costs O(nnz * labels). ``rows`` (optional) is
        ``slice(0, idx.size)`` when ``idx`` is ``arange(idx.size)``."""
        base, packed = self.nb_params()
        out = base.copy()
        if idx.size:  # per feature: c0 + c1 x + c2 x^2, summed over the row's non-zeros
            kernels.nb_add(packed, None if rows is not None else idx, val, out)
        return out

    def nb_params(self) -> tuple[np.ndarray, np.ndarray]:
        """The naive Bayes parameters ``(base, packed)`` of :meth:`nb_logit`, refreshed first
        when due: the log-odds of a row are ``base`` plus, per non-zero, ``c0 + c1 x + c2 x^2``
        from the feature's row of ``packed`` = [c0 | c1 | c2] (see :func:`kernels.nb_add`)."""
        if self.nb is None or self.w + len(self.buf) - self.nb_w >= max(
            self.NB_REFRESH,
            self.NB_REFRESH_FRACTION * self.nb_w,
            self.nzp.shape[0] * self.nzp.shape[1] / self.NB_CELLS_PER_INSTANCE,
        ):
            self._fit_nb()
        return self.nb

    def _fit_nb(self, alpha: float = 1.0, k: float = 1.0) -> None:
        """Refit the naive Bayes parameters: in full when the leaf's weight has doubled since
        the last full refit (or after growth), else only the features whose statistics changed
        since the last refit (the others keep terms computed with the label priors of then),
        so a refresh costs O(features touched x labels) instead of O(features x labels)."""
        self.flush()
        self.nb_w = self.w
        nzw = self.nz[:, 0]
        partial = (
            self.nb_nzw is not None
            and self.nb is not None
            and self.w < 2.0 * self.nb_full_w
            and self.nb_nzw.size == nzw.size
        )
        p1 = self.pos[None, :]
        prior = np.log((p1[0] + alpha) / (self.w - p1[0] + alpha))
        if partial:
            rows = np.flatnonzero(nzw != self.nb_nzw)
            base, packed = self.nb
            if rows.size:
                coef, terms = self._nb_chunks(rows, alpha, k)
                S = base - self.nb_prior + terms.sum(0) - self.nb_terms[rows].sum(0)
                packed[rows] = coef
                self.nb_terms[rows] = terms
            else:
                S = base - self.nb_prior
            self.nb_nzw[rows] = nzw[rows]
            self.nb = (prior + S, packed)
        else:
            # the old parameters go first: with thousands of features x labels they are the
            # largest arrays of the leaf, and holding both doubled the peak
            self.nb = self.nb_terms = self.nb_nzw = None
            coef, terms = self._nb_chunks(np.arange(self.nz.shape[0]), alpha, k)
            self.nb_terms = terms
            self.nb_nzw = nzw.copy()
            self.nb_full_w = self.w
            self.nb = (prior + terms.sum(0), coef)  # coef: (features, 3L)
        self.nb_prior = prior

    #: features per block of a naive Bayes refit: bounds its temporaries (about 20 arrays of
    #: block x labels floats) whatever the number of features
    NB_BLOCK = 256

    def _nb_chunks(self, rows: np.ndarray, alpha: float, k: float) -> tuple:
        """Naive Bayes coefficients (rows, 3L) and zero terms (rows, L) of the features
        ``rows`` (:func:`ihomer.trees.kernels.nb_fit`), written in place block by block: the
        compiled kernel has no temporaries and takes every row at once, the numpy one blocks
        of ``NB_BLOCK`` features."""
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        L = self.pos.size
        coef = np.empty((rows.size, 3 * L))
        terms = np.empty((rows.size, L))
        B = rows.size if kernels.backend() == "compiled" else self.NB_BLOCK
        w = float(self.w)
        for i in range(0, rows.size, max(B, 1)):
            j = i + B
            kernels.nb_fit(
                self.nz, self.nzp, self.pos, w, rows[i:j], alpha, k, coef[i:j], terms[i:j]
            )
        return coef, terms

    def nbytes(self) -> int:
        n = self.pos.nbytes + self.nz.nbytes + self.nzp.nbytes
        if self.miss is not None:
            n += self.miss.nbytes + self.missp.nbytes
        if self.nb is not None:
            n += self.nb[1].nbytes
        if self.nb_terms is not None:
            n += self.nb_terms.nbytes
        if self.nb_nzw is not None:
            n += self.nb_nzw.nbytes
        return n


def _gauss_left(w: np.ndarray, s: np.ndarray, q: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Weight at or below each threshold ``t`` (D, K) of a Gaussian fitted to (w, s, q) (D, L)."""
    mu = np.where(w > 0, s / np.where(w > 0, w, 1.0), 0.0)
    var = np.where(w > 0, q / np.where(w > 0, w, 1.0), 0.0) - mu * mu
    sd = np.sqrt(np.maximum(var, 0.0))
    tiny = 1e-9 * (np.abs(mu) + 1.0)
    diff = t[:, :, None] - mu[:, None, :]  # (D, K, L)
    sdb = sd[:, None, :]
    frac = np.where(
        sdb > tiny[:, None, :], ndtr(diff / np.maximum(sdb, 1e-300)), (diff >= 0).astype(float)
    )
    return w[:, None, :] * frac
