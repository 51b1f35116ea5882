"""The two per-instance kernels of the tree's hot path, compiled when available.

* :func:`leaf_step`: score an adaptive leaf's candidate models on one instance, choose the best
  and take the SGD step of its linear models (:meth:`ihomer.trees.leaf_models.LeafModel.learn`);
* :func:`nb_add`: add a row's naive Bayes terms to per-label log-odds
  (:meth:`ihomer.trees.observers.LeafStats.nb_logit`).

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

__all__ = ["leaf_step", "nb_add", "set_backend", "backend"]

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
) -> tuple[float, int]:
    """Reference implementation of ``leaf_step`` (see :meth:`LeafModel.learn` for the meaning).

    ``W`` (features, K*L) and ``b`` (K*L,) are the K linear models side by side, ``idx`` the row's
    feature ids (None: the dense row 0..n-1), ``sc`` (K + 5, 4) the candidates' faded scores
    (exact match + Hamming accuracy, true positives, label errors, Hamming accuracy), updated in
    place like ``W`` and ``b``. Returns the error (1 - Jaccard) of the prediction of candidate
    ``chosen`` and the candidate chosen from now on.
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
    P *= lr[:, None] * (w / (1.0 + x2))
    Wi -= np.multiply.outer(xs, p_lin)
    if idx is not None:
        W[idx] = Wi  # a gather: write back (a dense slice is a view, updated in place)
    b -= p_lin
    return err, bi


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


leaf_step = leaf_step_numpy
nb_add = nb_add_numpy


def set_backend(name: str) -> None:
    """Use ``"compiled"`` (raises ``ValueError`` when the extension is not built) or ``"numpy"``."""
    global leaf_step, nb_add
    if name == "compiled":
        if _kernels is None:
            raise ValueError("the compiled kernels (ihomer.trees._kernels) are not built")
        leaf_step, nb_add = _kernels.leaf_step, _kernels.nb_add
    elif name == "numpy":
        leaf_step, nb_add = leaf_step_numpy, nb_add_numpy
    else:
        raise ValueError(f"backend must be 'compiled' or 'numpy', got {name!r}")


def backend() -> str:
    """The backend in use: ``"compiled"`` or ``"numpy"``."""
    return "numpy" if leaf_step is leaf_step_numpy else "compiled"


if _kernels is not None and os.environ.get("IHOMER_NO_COMPILED", "") in ("", "0"):
    set_backend("compiled")
