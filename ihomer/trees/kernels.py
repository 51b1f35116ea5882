"""The kernels of the tree's hot path, compiled when available.

* :func:`leaf_step`: score an adaptive leaf's candidate models on one instance, choose the best
  and take the SGD step of its linear models (:meth:`ihomer.trees.leaf_models.LeafModel.learn`);
* :func:`nb_add`: add a row's naive Bayes terms to per-label log-odds
  (:meth:`ihomer.trees.observers.LeafStats.nb_logit`);
* :func:`nb_mix`: average a row's calibrated naive Bayes probabilities into a leaf's
  (:meth:`ihomer.trees.leaf_models.LeafModel.mixes`);
* :func:`linear_proba`: a leaf's linear model's probabilities on one row
  (:meth:`ihomer.trees.leaf_models.LeafModel.predict_proba`);
* :func:`stats_add`: add one instance to a leaf's split statistics
  (:meth:`ihomer.trees.observers.LeafStats.update`);
* :func:`nb_fit`: the naive Bayes coefficients of some features
  (:meth:`ihomer.trees.observers.LeafStats._nb_chunks`), O(features x labels) with two
  logarithms per cell: numpy spends about 30 temporaries on it;
* :func:`leaf_learn`: a leaf's whole learning step in one call (the naive Bayes log-odds and
  their calibration, :func:`nb_calibrate_numpy`, :func:`leaf_step`, the label priors and
  :func:`stats_add`);
* :func:`row_local`: a row in a tree's columns, scaled, for prediction
  (:meth:`ihomer.trees.tree.MultiLabelHoeffdingTree.predict_proba`);
* :func:`scaler_flush`: the feature scaler's batched update
  (:meth:`ihomer.trees.leaf_models.FeatureScaler.flush`);
* :func:`threshold_count`: the decision layer's count of one served prediction
  (:meth:`ihomer.decision.ThresholdSelector.learn`; it is not the tree's, but it is the same
  kind of loop: a few numpy calls per label per instance). Without the extension it is None and
  the selector counts its buffered pairs with numpy;
* :func:`margin_votes` and :func:`margin_learn`: the margin scorer's votes on a row and its
  hinge-loss step, :func:`margin_standardise` and :func:`margin_moments`: a standardising
  scorer's view of a row and its column moments (:class:`ihomer.margin.MarginScorer`), and
  :func:`margin_blend_learn`: the Brier scores of the blends (:class:`ihomer.margin.
  MarginBlend`); not the tree's either.

Each is a few thousand floating-point operations, which numpy spends about 25 calls on; the C
extension ``ihomer.trees._kernels`` (built by ``pip install``, optional) does the same arithmetic
in one call. The numpy versions below are the reference and the fallback; the two agree to
rounding (sums are accumulated in a different order) and tests compare them. Set the environment
variable ``IHOMER_NO_COMPILED=1`` (before import) or call :func:`set_backend` to use numpy.

Examples
--------
>>> import numpy as np
>>> out = np.zeros(1)
>>> packed = np.array([[1.0, 2.0, 3.0]])  # one feature, one label: c0, c1, c2
>>> nb_add(packed, None, np.array([2.0]), out)
>>> out.tolist()  # 1 + 2 * 2 + 3 * 4
[17.0]
"""

from __future__ import annotations

import os

import numpy as np
from scipy.special import expit

__all__ = [
    "leaf_step",
    "leaf_learn",
    "nb_add",
    "nb_calibrated",
    "nb_calibrate_numpy",
    "linear_proba",
    "stats_add",
    "nb_fit",
    "nb_mix",
    "nb_mix_numpy",
    "row_local",
    "scaler_flush",
    "threshold_count",
    "threshold_count_numpy",
    "threshold_bins",
    "margin_votes",
    "margin_votes_numpy",
    "margin_learn",
    "margin_learn_numpy",
    "margin_standardise",
    "margin_standardise_numpy",
    "margin_moments",
    "margin_moments_numpy",
    "margin_blend_learn",
    "margin_blend_learn_numpy",
    "set_backend",
    "backend",
]

#: candidate indices of an adaptive leaf (also in _kernels.c): the last K are the linear models
PRIOR, LAST, MODE, NB, LINEAR = range(5)

try:
    from ihomer.trees import _kernels
except ImportError:  # not built (no C compiler at install time): numpy fallback
    _kernels = None


def leaf_step_numpy(
    W: np.ndarray,
    b: np.ndarray,
    idx: np.ndarray | None,
    xs: np.ndarray,
    x2: float,
    y: np.ndarray,
    pp: np.ndarray,
    pw: float,
    last: np.ndarray,
    mode: np.ndarray,
    nb: np.ndarray | None,
    sc: np.ndarray,
    mask: np.ndarray,
    chosen: int,
    a: float,
    lr: np.ndarray,
    w: float,
    G: np.ndarray | None = None,
    Gb: np.ndarray | None = None,
    ada: np.ndarray | None = None,
) -> tuple[float, int]:
    """Reference implementation of ``leaf_step`` (see :meth:`LeafModel.learn` for the meaning).

    ``W`` (features, K*L) and ``b`` (K*L,) are the K linear models side by side, ``idx`` the row's
    feature ids (None: the dense row 0..n-1), ``sc`` (K + 5, 4) the candidates' faded scores
    (exact match + Hamming accuracy, true positives, label errors, Hamming accuracy), updated in
    place like ``W`` and ``b``. Returns the error (1 - Jaccard) of the prediction of candidate
    ``chosen`` and the candidate chosen from now on.

    The plain step of model ``k`` is ``lr[k] w (p - y) x / (1 + x2)``. With accumulators ``G``
    (features, C) and ``Gb`` (C,), updated in place, the models with ``ada[k]`` take the adaptive
    step instead (see :func:`adaptive_step`): ``C = K`` keeps one accumulator per feature and
    model, ``C = K*L`` one per weight.
    """
    L = y.size
    rows = slice(0, xs.size) if idx is None else idx
    Wi = W[rows]
    z = xs @ Wi
    z += b
    p_lin = expit(z)
    nm = sc.shape[0]
    D = np.empty((nm, L))  # bool assignments: cheaper than comparisons with a float out=
    D[PRIOR] = pp >= 0.5 * pw
    D[LAST] = last
    D[MODE] = mode
    D[NB] = D[PRIOR] if nb is None else nb >= 0.0
    P = p_lin.reshape(nm - LINEAR, L)
    D[LINEAR:] = P >= 0.5
    y2 = np.ones((L, 2))
    y2[:, 0] = y
    R = (D @ y2).tolist()  # per candidate: (true positives, predicted positives)

    ny = float(np.count_nonzero(y))
    tp, npd = R[chosen]
    union = npd + ny - tp
    err = 1.0 - tp / union if union else 0.0
    a1 = 1.0 - a
    scores = sc.tolist()
    best, bi = -1.0, chosen
    for m, (tp, npd) in enumerate(R):
        S = scores[m]
        nerr = npd + ny - 2.0 * tp
        ham = 1.0 - nerr / L if L else 1.0
        sm = S[0] = S[0] * a + (nerr == 0.0) + ham
        t = S[1] = S[1] * a + tp
        f = S[2] = S[2] * a + nerr
        s = sm * a1 + (2.0 * t / (2.0 * t + f) if t + f > 0 else 1.0)
        S[3] = S[3] * a + a1 * ham
        if mask[m] and s > best + 1e-9 and (m != NB or nb is not None):
            best, bi = s, m
    sc[:] = scores

    P -= y
    if G is None:
        P *= lr[:, None] * (w / (1.0 + x2))
        Wi -= np.multiply.outer(xs, p_lin)
    else:
        Wi -= adaptive_step(G, Gb, ada, rows, xs, x2, P, lr, w)
    if idx is not None:
        W[idx] = Wi  # a gather: write back (a dense slice is a view, updated in place)
    b -= p_lin
    return err, bi


#: added to both accumulators of the adaptive step (a feature's first gradient may be tiny)
ADA_EPS = 1e-12


def adaptive_step(
    G: np.ndarray,
    Gb: np.ndarray,
    ada: np.ndarray,
    rows: slice | np.ndarray,
    xs: np.ndarray,
    x2: float,
    E: np.ndarray,
    lr: np.ndarray,
    w: float,
) -> np.ndarray:
    """The adaptive normalised step of ``leaf_step_numpy``: returns the (n, K*L) change of the
    row's weights and turns the errors ``E`` = p - y (K, L) into the change of the biases.

    Per accumulator column c (a model, or a model's label): ``g2 = w`` times the squared error
    (the mean over the model's labels for one column per model); ``Gb[c] += g2`` and, per
    non-zero input, ``G[f, c] += x_f^2 g2`` (AdaGrad's sums of squared gradients; ``Gb`` is the
    bias's, an input that is always 1). Feature f's rate is ``d = sqrt(Gb / G[f])``, 1 for a
    feature in every instance with the mean scale, larger for rarer (or smaller-gradient)
    features; the step is ``lr w e x_f d_f / (1 + sum_f x_f^2 d_f)``: normalised like the plain
    step, so one update moves the model's output by less than ``lr w e`` whatever the inputs'
    scale and sparsity (``d`` = 1 is the plain step)."""
    K, L = E.shape
    C = G.shape[1]
    per_weight = C == K * L
    x2v = xs * xs
    on = np.repeat(ada, L) if per_weight else ada
    E2 = E * E
    g2 = (E2.reshape(-1) if per_weight else E2.sum(1) / L) * w
    g2 = np.where(on, g2, 0.0)
    Gb += g2
    Gi = G[rows]
    Gi += np.multiply.outer(x2v, g2)
    if not isinstance(rows, slice):
        G[rows] = Gi
    d = np.sqrt((Gb + ADA_EPS) / (Gi + ADA_EPS))
    d[:, ~on] = 1.0
    S = x2v @ d  # (C,)
    S = np.where(on, S, x2)
    if not per_weight:
        S = np.repeat(S, L)
        d = np.repeat(d, L, axis=1)
    coef = E.reshape(-1)
    coef *= np.repeat(lr, L) * w / (1.0 + S)
    return (xs[:, None] * d) * coef


def nb_add_numpy(
    packed: np.ndarray, idx: np.ndarray | None, val: np.ndarray, out: np.ndarray
) -> None:
    """Reference implementation of ``nb_add``: ``out`` (L,) += per label, summed over the row's
    non-zeros, c0 + c1 x + c2 x^2 with ``packed`` (features, 3L) = [c0 | c1 | c2]."""
    L = out.size
    rows = packed[slice(0, val.size) if idx is None else idx]
    m = np.stack([np.ones_like(val), val, val * val]) @ rows  # (3, 3L)
    out += m[0, :L]
    out += m[1, L : 2 * L]
    out += m[2, 2 * L :]


def nb_mix_numpy(
    base: np.ndarray,
    packed: np.ndarray,
    idx: np.ndarray | None,
    val: np.ndarray,
    nbc: np.ndarray | None,
    p: np.ndarray,
    w: float,
) -> None:
    """Reference implementation of ``nb_mix``: ``p = (1 - w) p + w expit(z)`` in place, ``z``
    the row's naive Bayes log-odds ``base`` + :func:`nb_add_numpy` (``idx`` None: the dense row
    0..n-1), calibrated by :func:`nb_calibrated` unless ``nbc`` is None."""
    z = base.copy()
    if val.size:
        nb_add_numpy(packed, idx, val, z)
    q = expit(z if nbc is None else nb_calibrated(z, nbc))
    p *= 1.0 - w
    p += w * q


def linear_proba_numpy(
    W: np.ndarray, b: np.ndarray, idx: np.ndarray | None, xs: np.ndarray, k: int, out: np.ndarray
) -> None:
    """Reference implementation of ``linear_proba``: ``out`` = the probabilities of the ``k``-th
    linear model (columns ``k L`` to ``(k + 1) L`` of ``W`` and ``b``, ``L = out.size``)."""
    L = out.size
    cols = slice(k * L, (k + 1) * L)
    out[:] = expit(xs @ W[slice(0, xs.size) if idx is None else idx, cols] + b[cols])


def stats_add_numpy(
    nz: np.ndarray,
    nzp: np.ndarray,
    pos: np.ndarray,
    idx: np.ndarray | None,
    val: np.ndarray,
    on: np.ndarray,
    w: float,
) -> None:
    """Reference implementation of ``stats_add``: ``pos[on] += w``; per non-zero feature
    ``f = idx[i]`` (``i`` when ``idx`` is None) with value ``x``: ``nz[f] += (w, w x, w x^2)``
    and ``nzp[f, on] += `` the same."""
    if on.size:
        pos[on] += w
    if not val.size:
        return
    m = np.empty((val.size, 3))
    m[:, 0] = w
    np.multiply(val, w, out=m[:, 1])
    np.multiply(m[:, 1], val, out=m[:, 2])
    rows = np.arange(val.size) if idx is None else idx
    nz[rows] += m
    if on.size:
        nzp[rows[:, None], on] += m[:, None, :]


def nb_fit_numpy(
    nz: np.ndarray,
    nzp: np.ndarray,
    pos: np.ndarray,
    w: float,
    rows: np.ndarray,
    alpha: float,
    k: float,
    coef: np.ndarray,
    terms: np.ndarray,
) -> None:
    """Reference implementation of ``nb_fit``: the naive Bayes coefficients ``coef`` (R, 3L)
    = [c0 | c1 | c2] and zero terms ``terms`` (R, L) of the features ``rows`` (see
    :meth:`ihomer.trees.observers.LeafStats.nb_logit` for the model)."""
    nz, nzp = nz[rows], nzp[rows]
    p1 = pos[None, :]
    p0 = w - p1
    w1 = nzp[:, :, 0]
    w0 = nz[:, 0:1] - w1
    n = np.maximum(nz[:, 0:1], 1e-12)
    mean = nz[:, 1:2] / n
    m2 = nz[:, 2:3] / n
    floor = 1e-2 * np.maximum(m2 - mean * mean, 0.0) + 1e-9
    s1, q1 = nzp[:, :, 1], nzp[:, :, 2]
    mu1 = (s1 + k * mean) / (w1 + k)
    var1 = np.maximum((q1 + k * m2) / (w1 + k) - mu1 * mu1, 0.0) + floor
    mu0 = (nz[:, 1:2] - s1 + k * mean) / (w0 + k)
    var0 = np.maximum((nz[:, 2:3] - q1 + k * m2) / (w0 + k) - mu0 * mu0, 0.0) + floor
    # P(non-zero | label): an m-estimate, 2 alpha prior rows at the feature's pooled non-zero
    # rate r (at 1/2, Laplace's rule, each rare feature's presence is strong evidence for every
    # rare label: the motif stream of benchmarks/motif_arff.py). An indicator (one non-zero
    # value) takes r whatever its rate; a valued feature in most rows keeps 1/2, whose presence
    # term measured better there (emotions Hamming 0.2386 against 0.2437 at r, yeast 0.2151
    # against 0.2166)
    m = 2.0 * alpha
    r = (nz[:, 0:1] + alpha) / (w + m)
    valued = (m2 - mean * mean) > 1e-9 * m2
    mr = m * np.where(valued, np.minimum(r, 0.5), r)
    nz1 = (w1 + mr) / (p1 + m)
    nz0 = (w0 + mr) / (p0 + m)
    q1, q0 = 1.0 - nz1, 1.0 - nz0
    t = np.log(q1 / q0)  # log P(zero | on) - log P(zero | off)
    t[nz[:, 0] <= 0] = 0.0  # features never non-zero here add nothing
    # logit(nz1) - logit(nz0) + 0.5 log(var0 / var1), as the log of one ratio (two logarithms
    # per cell instead of six)
    A = np.log((nz1 * q0) / (q1 * nz0) * np.sqrt(var0 / var1))
    b1, b0 = 0.5 / var1, 0.5 / var0
    # A - b1 (x - mu1)^2 + b0 (x - mu0)^2 = c0 + c1 x + c2 x^2
    L = pos.size
    coef[:, :L] = A - b1 * mu1 * mu1 + b0 * mu0 * mu0
    coef[:, L : 2 * L] = 2.0 * (b1 * mu1 - b0 * mu0)
    coef[:, 2 * L :] = b0 - b1
    terms[:] = t


leaf_step = leaf_step_numpy
nb_add = nb_add_numpy
stats_add = stats_add_numpy
nb_fit = nb_fit_numpy
linear_proba = linear_proba_numpy


def leaf_learn_numpy(
    W: np.ndarray,
    b: np.ndarray,
    idx: np.ndarray | None,
    xs: np.ndarray,
    x2: float,
    y: np.ndarray,
    pp: np.ndarray,
    pw: float,
    last: np.ndarray,
    mode: np.ndarray,
    nb_base: np.ndarray | None,
    nb_packed: np.ndarray | None,
    val: np.ndarray | None,
    sc: np.ndarray,
    mask: np.ndarray,
    chosen: int,
    a: float,
    lr: np.ndarray,
    w: float,
    G: np.ndarray | None,
    Gb: np.ndarray | None,
    ada: np.ndarray | None,
    on: np.ndarray,
    wg: float,
    nz: np.ndarray | None,
    nzp: np.ndarray | None,
    pos: np.ndarray | None,
    nbc: np.ndarray | None = None,
    nbc_rate: float = 0.0,
) -> tuple[float, int]:
    """Reference implementation of ``leaf_learn``: one leaf's learning step. The naive Bayes
    log-odds are ``nb_base`` plus :func:`nb_add_numpy` of the row's raw values ``val`` (no
    naive Bayes when ``nb_base`` is None), calibrated by :func:`nb_calibrate_numpy` with
    ``nbc`` and ``nbc_rate`` unless ``nbc`` is None; then :func:`leaf_step_numpy` with them; the
    label priors ``pp[on] += wg``; and, unless ``nz`` is None, :func:`stats_add_numpy` of the row
    (``nz``, ``nzp``, ``pos``: the leaf's split statistics)."""
    nb = None
    if nb_base is not None:
        nb = nb_base.copy()
        if xs.size:
            nb_add_numpy(nb_packed, idx, val, nb)
        if nbc is not None:
            nb_calibrate_numpy(nb, nbc, y, nbc_rate, w)
    err, chosen = leaf_step_numpy(
        W, b, idx, xs, x2, y, pp, pw, last, mode, nb, sc, mask, chosen, a, lr, w, G, Gb, ada
    )
    if on.size:
        pp[on] += wg
    if nz is not None:
        stats_add_numpy(nz, nzp, pos, idx, val, on, w)
    return err, chosen


#: naive Bayes log-odds are clipped to this magnitude before they are calibrated
NB_CLIP = 30.0


def nb_calibrated(z: np.ndarray, nbc: np.ndarray) -> np.ndarray:
    """Calibrated naive Bayes log-odds ``A clip(z) + C`` (``nbc`` as in
    :func:`nb_calibrate_numpy`; a NaN in ``z`` counts as 0): what a leaf serves when naive Bayes
    is its candidate.

    >>> cal = np.array([[0.5, 1.0, 0.0], [1.0, 1.0, 1.0]])  # A = 0.5, C = (1, 0)
    >>> nb_calibrated(np.array([40.0, -2.0]), cal).tolist()  # 40 is clipped to 30 first
    [16.0, -1.0]
    """
    return nbc[0, 0] * _clipped(z) + nbc[0, 1:]


def _clipped(z: np.ndarray) -> np.ndarray:
    """``z`` clipped to +-``NB_CLIP``, NaN as 0 (no evidence: one NaN must not poison the
    shrinkage that every label shares). Two ufuncs and a sum: a leaf serving naive Bayes calls
    it per prediction, where ``np.clip(np.nan_to_num(...))`` cost ~30 us."""
    c = np.minimum(np.maximum(z, -NB_CLIP), NB_CLIP)  # (a NaN stays NaN, infinities are clipped)
    if np.isnan(c.sum()):
        c[np.isnan(c)] = 0.0
    return c


def nb_calibrate_numpy(
    z: np.ndarray, nbc: np.ndarray, y: np.ndarray, rate: float, w: float
) -> None:
    """Calibrate the naive Bayes log-odds ``z`` in place (``z <- A clip(z) + C``) and take one
    AdaGrad step of ``(A, C)`` on the log-loss of that calibrated ``z`` against the labels ``y``
    (weight ``w``, step ``rate / sqrt(sum of squared gradients)``). ``A``, one for every label,
    shrinks the log-odds: naive Bayes multiplies evidence as if features were independent, so
    where they are not its log-odds are too large and its 0.5 cut is not the Hamming-optimal one
    (the shrinkage is the features' redundancy, shared by the labels); ``C``, one per label,
    corrects the label's bias. ``nbc`` (2 x (L + 1), float64, updated in place) is
    ``[[A, C_1 .. C_L], [GA, GC_1 .. GC_L]]`` with the accumulators in the second row; a leaf
    starts at ``A = 1``, ``C = 0``, accumulators 1 (no calibration yet). The gradient of ``A``
    is the mean over labels.

    >>> nbc = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> z = np.array([8.0])
    >>> for i in range(200):  # a confident log-odds that is right half the time
    ...     z[0] = 8.0
    ...     nb_calibrate_numpy(z, nbc, np.array([i % 2 == 0]), 0.1, 1.0)
    >>> bool(abs(nbc[0, 0] * 8.0 + nbc[0, 1]) < 1.0)  # shrunk towards log-odds 0
    True
    """
    A = nbc[0, 0]
    C, GC = nbc[0, 1:], nbc[1, 1:]
    zc = _clipped(z)
    zz = A * zc + C
    g = (expit(zz) - y) * w
    GC += g * g
    C -= rate * g / np.sqrt(GC)
    if z.size:
        ga = float(np.dot(g, zc)) / z.size
        nbc[1, 0] += ga * ga
        nbc[0, 0] -= rate * ga / np.sqrt(nbc[1, 0])
    z[:] = zz


def row_local_numpy(
    gidx: np.ndarray,
    gval: np.ndarray,
    gmap: np.ndarray | None,
    n_known: int,
    cap: int,
    inv: np.ndarray,
    loc: np.ndarray,
    val: np.ndarray,
    xs: np.ndarray,
) -> tuple[int, int, bool, float]:
    """Reference implementation of ``row_local``: the local id of each non-zero is
    ``gmap[gidx[i]]`` (``gidx[i]`` when ``gmap`` is None and ``gidx[i] < n_known``; -1 is
    unknown); the ids below ``cap`` go to ``loc[:k]``, their values to ``val[:k]`` and the
    scaled values ``val * inv[loc]`` to ``xs[:k]``. Returns ``k``, the number of unknown ids,
    whether ``loc[:k]`` is ``0..k-1`` (k > 0) and the squared norm of ``xs[:k]``."""
    gidx = np.asarray(gidx, dtype=np.int64)
    if gmap is None:
        local = np.where((gidx >= 0) & (gidx < n_known), gidx, -1)
    else:
        inside = (gidx >= 0) & (gidx < gmap.size)
        local = np.full(gidx.size, -1, dtype=np.int64)
        local[inside] = gmap[gidx[inside]]
    unknown = int(np.count_nonzero(local < 0))
    keep = (local >= 0) & (local < cap)
    k = int(np.count_nonzero(keep))
    loc[:k] = local[keep]
    val[:k] = gval[keep]
    np.multiply(val[:k], inv[loc[:k]], out=xs[:k])
    dense = k > 0 and bool(np.array_equal(loc[:k], np.arange(k)))
    return k, unknown, dense, float(np.sum(xs[:k] * xs[:k]))


def scaler_flush_numpy(
    cnt: np.ndarray,
    sq: np.ndarray,
    inv: np.ndarray,
    rows: list[tuple[np.ndarray | None, np.ndarray]],
) -> None:
    """Reference implementation of ``scaler_flush``: add the rows ``(idx, val)`` (``idx`` None
    for the dense row ``0..n-1``) to a :class:`~ihomer.trees.leaf_models.FeatureScaler`'s
    counts ``cnt`` and squared sums ``sq`` (each feature's batch sum from 0, in row order, then
    added), and set ``inv`` = ``sqrt(cnt / sq)`` where ``sq > 0``, else 0, in place."""
    if not rows:
        return
    cap = cnt.size
    cols = np.concatenate(
        [np.arange(v.size, dtype=np.int64) if i is None else i for i, v in rows]
    )
    vals = np.concatenate([v for _, v in rows])
    cnt += np.bincount(cols, minlength=cap)
    sq += np.bincount(cols, weights=vals * vals, minlength=cap)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv[:] = np.where(sq > 0, np.sqrt(cnt / sq), 0.0)


def threshold_bins(P: np.ndarray, bin_of_percent: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """The bin of each probability in ``P`` (any shape), as ``threshold_count`` bins them:
    ``bin_of_percent[floor(100 P)]`` (100 P clipped to [0, 100], NaN as 100), less one where
    ``P`` is below that bin's lower edge ``lower[b]`` (within rounding of the product)."""
    q = P * 100.0
    q = np.maximum(np.where(q < 100.0, q, 100.0), 0.0)
    b = bin_of_percent[q.astype(np.intp)]
    b -= (b > 0) & (P < lower[b])
    return b


def threshold_count_numpy(
    counts: np.ndarray,
    P: np.ndarray,
    y: np.ndarray,
    bin_of_percent: np.ndarray,
    lower: np.ndarray,
) -> None:
    """Reference implementation of ``threshold_count``: per label ``j``, add 1 to
    ``counts[2 (j nb + b) + y[j]]``, with ``nb = lower.size`` bins and ``b`` the bin of ``P[j]``
    (:func:`threshold_bins`)."""
    b = threshold_bins(P, bin_of_percent, lower)
    counts[2 * (np.arange(P.size) * lower.size + b) + y] += 1.0


def margin_votes_numpy(
    W: np.ndarray, b: np.ndarray, idx: np.ndarray, val: np.ndarray, out: np.ndarray
) -> None:
    """Reference implementation of ``margin_votes``: ``out = (1 + s) / 2`` with ``s = b + val @
    W[idx % rows]`` clipped to [-1, 1] (``W`` is rows x L): the hinge learners' scores as votes
    in [0, 1], 0.5 where a score is 0."""
    s = b + val @ W[idx % W.shape[0]] if val.size else b.copy()
    np.clip(s, -1.0, 1.0, out=s)
    out[:] = 0.5 * (1.0 + s)


def margin_learn_numpy(
    W: np.ndarray,
    G: np.ndarray,
    N: np.ndarray,
    b: np.ndarray,
    Gb: np.ndarray,
    stat: np.ndarray,
    idx: np.ndarray,
    val: np.ndarray,
    y: np.ndarray,
    eta: float,
    votes: np.ndarray | None = None,
) -> int:
    """Reference implementation of ``margin_learn``: one hinge-loss step of every label's linear
    learner on the row ``(idx, val)`` (rows ``idx % rows`` of ``W``, distinct; a zero value is
    an absent column), with targets ``y`` (bool, as +-1), in place; returns the number of
    labels with a loss. ``votes``, when given, are the row's :func:`margin_votes` with these
    weights: the scores are then ``2 votes - 1`` instead of being computed again.

    The update is Vowpal Wabbit's default one (``gd.cc``: adaptive, normalised, invariant):

    * the score ``s = b + val @ W[rows]``, clipped to [-1, 1]; a label has a loss when ``y s < 1``;
    * normalised: ``N[r]`` is the largest ``|x|`` seen for the feature; a larger one rescales
      the feature's weights by ``N_old / N_new`` first. ``stat`` = (updates, their summed
      ``sum (x / N)^2``) gives the global multiplier ``m = sqrt(stat[0] / stat[1])``;
    * adaptive: per weight, ``G += x^2`` for the labels with a loss, and the weight's rate is
      ``x / (sqrt(G) N^2)``; the constant feature (``b``, ``Gb``) has ``x = N = 1``;
    * invariant: the step ``u = y min(eta, (1 - y s) / p) m``, with ``p = m sum x^2 rate`` the
      score's change per unit step, never moves a score past the margin.

    One deviation: ``N`` is kept per feature (shared by the labels, updated on every row)
    instead of per weight, which saves ``rows x L`` doubles."""
    L = b.size
    if val.size and not val.all():  # a zero is an absent column
        idx, val = idx[val != 0.0], val[val != 0.0]
    rows = idx % N.size
    yl = np.where(y, 1.0, -1.0)
    if votes is not None:
        s = np.clip(2.0 * votes - 1.0, -1.0, 1.0)
    else:
        s = np.clip(b + val @ W[rows], -1.0, 1.0) if val.size else np.clip(b, -1.0, 1.0)
    ax = np.abs(val)
    n_old = N[rows]
    grow = ax > n_old
    k = np.where(grow & (n_old > 0), n_old / np.where(grow, ax, 1.0), 1.0)
    W[rows] *= k[:, None]
    Nr = np.maximum(n_old, ax)
    N[rows] = Nr
    x2 = val * val
    n2 = Nr * Nr
    nx = 1.0 + float((x2 / n2).sum()) if val.size else 1.0
    act = yl * s < 1.0
    n_act = int(np.count_nonzero(act))
    if not n_act:
        return 0
    Gr = G[rows]
    Gr[:, act] += x2[:, None]
    G[rows] = Gr
    Gb[act] += 1.0
    stat[0] += n_act
    stat[1] += n_act * nx
    mult = np.sqrt(stat[0] / stat[1])
    with np.errstate(divide="ignore"):
        rate = np.where(act, 1.0 / np.sqrt(Gr), 0.0) / n2[:, None] if val.size else np.zeros((0, L))
        rb = np.where(act, 1.0 / np.sqrt(Gb), 0.0)
    p = mult * ((x2[:, None] * rate).sum(axis=0) + rb)
    err = 1.0 - yl * s
    step = np.where(eta * p < err, eta, err / np.where(act, p, 1.0))
    u = np.where(act, yl * step * mult, 0.0)
    b += rb * u
    if val.size:
        W[rows] += val[:, None] * rate * u[None, :]
    return n_act


def margin_standardise_numpy(
    moments: np.ndarray, idx: np.ndarray, val: np.ndarray, out_idx: np.ndarray,
    out_val: np.ndarray,
) -> int:  # fmt: skip
    """Reference implementation of ``margin_standardise``: the row ``(idx, val)`` with each
    value standardised, ``z = (x - mean) / sd`` by its column's ``moments`` (rows of count,
    sum, sum of squares of past non-zero values) where those values varied (``var > 1e-12``
    times their mean square), else unchanged (also for a column beyond ``moments``); the
    non-zero pairs are written to ``out_idx`` / ``out_val``, and their number returned."""
    R = moments.shape[0]
    inside = idx < R
    mo = moments[np.where(inside, idx, 0)] if R else np.zeros((idx.size, 3))
    mo[~inside] = 0.0
    c = np.maximum(mo[:, 0], 1.0)
    mean, sq = mo[:, 1] / c, mo[:, 2] / c
    var = sq - mean * mean
    varies = var > 1e-12 * sq
    z = np.where(varies, (val - mean) / np.sqrt(np.where(varies, var, 1.0)), val)
    nz = z != 0.0
    k = int(np.count_nonzero(nz))
    out_idx[:k], out_val[:k] = idx[nz], z[nz]
    return k


def margin_moments_numpy(moments: np.ndarray, idx: np.ndarray, val: np.ndarray) -> None:
    """Reference implementation of ``margin_moments``: ``moments[idx] += (1, val, val^2)``
    (unique ``idx``)."""
    moments[idx, 0] += 1.0
    moments[idx, 1] += val
    moments[idx, 2] += val * val


def margin_blend_learn_numpy(
    P: np.ndarray, V: np.ndarray, y: np.ndarray, src: np.ndarray, w: np.ndarray,
    loss: np.ndarray,
) -> int:  # fmt: skip
    """Reference implementation of ``margin_blend_learn``: ``loss[c] += sum((1 - w[c]) P +
    w[c] V[src[c]] - y)^2`` (``P`` alone where ``src[c] < 0``; ``V`` is scorers x labels), and
    the index of the smallest loss (the first on a tie)."""
    B = P[None, :] + w[:, None] * (V[np.maximum(src, 0)] - P[None, :])
    B[src < 0] = P
    loss += ((B - y) ** 2).sum(axis=1)
    return int(np.argmin(loss))


leaf_learn = leaf_learn_numpy
nb_mix = nb_mix_numpy
margin_votes = margin_votes_numpy
margin_learn = margin_learn_numpy
margin_standardise = margin_standardise_numpy
margin_moments = margin_moments_numpy
margin_blend_learn = margin_blend_learn_numpy
scaler_flush = scaler_flush_numpy
row_local = row_local_numpy
threshold_count = None


def set_backend(name: str) -> None:
    """Use ``"compiled"`` (raises ``ValueError`` when the extension is not built) or ``"numpy"``."""
    global leaf_step, nb_add, stats_add, nb_fit, linear_proba, leaf_learn, row_local, scaler_flush
    global threshold_count, nb_mix, margin_votes, margin_learn, margin_standardise, margin_moments
    global margin_blend_learn
    if name == "compiled":
        if _kernels is None:
            raise ValueError("the compiled kernels (ihomer.trees._kernels) are not built")
        leaf_step, nb_add = _kernels.leaf_step, _kernels.nb_add
        stats_add, nb_fit = _kernels.stats_add, _kernels.nb_fit
        linear_proba = _kernels.linear_proba
        leaf_learn, row_local = _kernels.leaf_learn, _kernels.row_local
        scaler_flush = _kernels.scaler_flush
        threshold_count = _kernels.threshold_count
        nb_mix = _kernels.nb_mix
        margin_votes, margin_learn = _kernels.margin_votes, _kernels.margin_learn
        margin_standardise, margin_moments = _kernels.margin_standardise, _kernels.margin_moments
        margin_blend_learn = _kernels.margin_blend_learn
    elif name == "numpy":
        leaf_step, nb_add = leaf_step_numpy, nb_add_numpy
        stats_add, nb_fit = stats_add_numpy, nb_fit_numpy
        linear_proba = linear_proba_numpy
        leaf_learn, row_local = leaf_learn_numpy, row_local_numpy
        scaler_flush = scaler_flush_numpy
        threshold_count = None  # the selector's buffered numpy count
        nb_mix = nb_mix_numpy
        margin_votes, margin_learn = margin_votes_numpy, margin_learn_numpy
        margin_standardise, margin_moments = margin_standardise_numpy, margin_moments_numpy
        margin_blend_learn = margin_blend_learn_numpy
    else:
        raise ValueError(f"backend must be 'compiled' or 'numpy', got {name!r}")


def backend() -> str:
    """The backend in use: ``"compiled"`` or ``"numpy"``."""
    return "numpy" if leaf_step is leaf_step_numpy else "compiled"


if _kernels is not None and os.environ.get("IHOMER_NO_COMPILED", "") in ("", "0"):
    set_backend("compiled")
