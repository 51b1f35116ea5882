"""Adaptive leaf models of the multi-label Hoeffding tree.

Every leaf runs a few candidate multi-label predictors side by side, scores each of them
prequentially on the instances reaching the leaf (faded exact match + Hamming accuracy + the
micro-F1 of a faded window: label-wise counts, so the choice does not depend on how labels are
grouped into clusters) and predicts with the best one:

* ``prior``: recency-weighted per-label frequencies (the young leaf's label priors);
* ``last_set``: the last label set seen at the leaf (streams sorted by label set);
* ``mode_set``: the most frequent recency-weighted label set (pruned-sets style);
* ``naive_bayes``: per-label naive Bayes from the leaf's split statistics (computed by the tree,
  :meth:`ihomer.trees.observers.LeafStats.nb_logit`), calibrated online (log-odds ``A z + C``:
  one shrinkage for every label, one bias per label, :func:`ihomer.trees.kernels.
  nb_calibrate_numpy`) unless ``LeafConfig.nb_calibration`` is 0;
* ``linear``: per-label logistic regressions, vectorised over the labels, trained by normalised
  SGD on the non-zero inputs only (inputs scaled by the tree's :class:`FeatureScaler`); with
  ``LeafConfig.adaptive``, by an adaptive normalised step (per-feature AdaGrad-like rates,
  :func:`ihomer.trees.kernels.adaptive_step`).

The label-set models output ``acc`` for the labels of their set and ``1 - acc`` for the others,
where ``acc`` (>= 0.5) is that model's recent Hamming accuracy at the leaf, so that 0.5 stays the
decision threshold. This module owns no tree structure and no split statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ihomer.trees import kernels
from ihomer.trees.arrays import grow_rows
from ihomer.trees.kernels import LAST, LINEAR, NB, PRIOR  # candidate indices, one definition

__all__ = ["LeafModel", "FeatureScaler", "CANDIDATES", "LeafConfig"]

CANDIDATES = ("prior", "last_set", "mode_set", "naive_bayes", "linear")


class LeafConfig:
    """Hyper-parameters shared by every leaf model of one tree (plain data, picklable).

    Examples
    --------
    >>> LeafConfig(lr=(0.5, 4.0)).lr.tolist()
    [0.5, 4.0]
    """

    __slots__ = (
        "prior_fading", "set_fading", "select_fading", "lr", "max_sets", "candidates", "adaptive",
        "ada", "nb_calibration", "nb_mix",
    )  # fmt: skip
    #: ``adaptive``: the linear models' step (see :func:`ihomer.trees.kernels.adaptive_step`):
    #: "off" (plain normalised SGD), "feature" (AdaGrad-like rates, one accumulator per feature
    #: and model: + K doubles per feature, 1/L of the weights' memory) or "weight" (one per
    #: weight: doubles the weights' memory); ``ada`` says which of the K models take it (all
    #: by default). Off by default, by measurement (dev-suite means subset / ex-F1 / micro-F1 /
    #: macro-F1 / Hamming: off 0.3791 / 0.6030 / 0.6257 / 0.4580 / 0.1101, "feature" 0.3835 /
    #: 0.6056 / 0.6271 / 0.4647 / 0.1104, "weight" 0.3779 / 0.5999 / 0.6207 / 0.4601 / 0.1115;
    #: "feature" lowers Hamming on the text streams but raises it on corel5k and delicious)
    #: ``nb_calibration``: the AdaGrad rate of the naive Bayes calibration (0: raw naive Bayes,
    #: see :func:`ihomer.trees.kernels.nb_calibrate_numpy`)
    #: ``nb_mix``: the weight of naive Bayes in what a leaf of fewer than
    #: ``LeafModel.PRUNE_LINEAR_LABELS`` labels serves, averaged with its chosen candidate
    #: (0: the chosen candidate alone; see :meth:`LeafModel.mixes`)
    ADAPTIVE = ("off", "feature", "weight")

    def __init__(
        self,
        prior_fading: float = 0.995,
        set_fading: float = 0.99,
        select_fading: float = 0.97,
        lr: tuple[float, ...] = (0.5, 4.0),
        max_sets: int = 64,
        candidates: tuple[str, ...] = CANDIDATES,
        adaptive: str = "off",
        ada: tuple[bool, ...] | None = None,
        nb_calibration: float = 0.1,
        nb_mix: float = 0.4,
    ) -> None:
        if adaptive not in self.ADAPTIVE:
            raise ValueError(f"adaptive must be one of {self.ADAPTIVE}, got {adaptive!r}")
        self.prior_fading = prior_fading
        self.set_fading = set_fading
        self.select_fading = select_fading
        self.lr = np.ascontiguousarray(lr, dtype=np.float64).reshape(-1)  # (K,)
        self.max_sets = max_sets
        self.candidates = candidates
        self.adaptive = adaptive
        if not 0.0 <= nb_calibration < float("inf"):
            raise ValueError(f"nb_calibration must be a finite number >= 0, got {nb_calibration!r}")
        self.nb_calibration = float(nb_calibration)
        if not 0.0 <= nb_mix <= 1.0:
            raise ValueError(f"nb_mix must be in [0, 1], got {nb_mix!r}")
        self.nb_mix = float(nb_mix)
        k = self.lr.shape[0]
        self.ada = np.ones(k, dtype=bool) if ada is None else np.array(ada, dtype=bool)
        if self.ada.shape != (k,):
            raise ValueError(f"ada must hold one flag per step size ({k}), got {ada!r}")

    def __getstate__(self) -> tuple:  # slots: pickle as a tuple
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, state: tuple) -> None:
        for s, v in zip(self.__slots__, state):
            setattr(self, s, v)
        if len(state) < 8:  # pickled before the adaptive step
            self.adaptive = "off"
            self.ada = np.ones(self.lr.shape[0], dtype=bool)
        if len(state) < 9:  # pickled before the naive Bayes calibration: raw naive Bayes
            self.nb_calibration = 0.0
        if len(state) < 10:  # pickled before the naive Bayes mixture: the chosen candidate alone
            self.nb_mix = 0.0


class FeatureScaler:
    """Running RMS of each feature's non-zero values; inputs are multiplied by its inverse (no
    centring, so sparse rows stay sparse and binary features stay 1). Rows are buffered and the
    scale refreshed every ``BATCH`` rows (every row during the first ``BATCH``).

    Examples
    --------
    >>> sc = FeatureScaler(3)
    >>> sc.learn(np.array([0, 2]), np.array([3.0, -0.5]))
    >>> sc.transform(np.array([0, 2]), np.array([6.0, 0.5])).tolist()
    [2.0, 1.0]
    """

    __slots__ = ("cnt", "sq", "inv", "buf", "n")
    BATCH = 32

    def __init__(self, n_features: int) -> None:
        self.cnt = np.zeros(n_features)
        self.sq = np.zeros(n_features)
        self.inv = np.zeros(n_features)
        self.buf: list = []
        self.n = 0

    def grow(self, cap: int) -> None:
        n = self.cnt.shape[0]
        if cap > n:
            z = np.zeros(cap - n)
            self.cnt = np.concatenate([self.cnt, z])
            self.sq = np.concatenate([self.sq, z])
            self.inv = np.concatenate([self.inv, z])

    def take(self, rows: np.ndarray, cap: int) -> None:
        """Keep the features ``rows`` only (renumbered 0..), with room for ``cap``."""
        self.flush()
        for name in ("cnt", "sq", "inv"):
            a = np.zeros(cap)
            a[: rows.size] = getattr(self, name)[rows]
            setattr(self, name, a)

    def transform(self, idx: np.ndarray, val: np.ndarray, rows: slice | None = None) -> np.ndarray:
        return val * self.inv[idx if rows is None else rows]

    def learn(self, idx: np.ndarray, val: np.ndarray, dense: bool = False) -> None:
        """Buffer one row; ``dense`` says that ``idx`` is ``arange(idx.size)``."""
        self.buf.append((idx, val, dense))
        self.n += 1
        if len(self.buf) >= self.BATCH or self.n <= self.BATCH:
            self.flush()

    def flush(self) -> None:
        """Add the buffered rows to the counts and refresh the scales
        (:func:`ihomer.trees.kernels.scaler_flush`)."""
        if not self.buf:
            return
        rows = [(None if dense else idx, val) for idx, val, dense in self.buf]
        self.buf = []
        kernels.scaler_flush(self.cnt, self.sq, self.inv, rows)

    def nbytes(self) -> int:
        return self.cnt.nbytes + self.sq.nbytes + self.inv.nbytes


def candidate_mask(cfg: LeafConfig) -> np.ndarray:
    """Which candidate slots (PRIOR, LAST, MODE, NB, then one per linear step size) ``cfg``
    runs: a new array each call (a leaf may turn its own entries off, see
    :func:`selection_scores`).

    >>> candidate_mask(LeafConfig(candidates=("prior", "linear"))).tolist()
    [True, False, False, False, True, True]
    """
    m = LINEAR + cfg.lr.shape[0]
    return np.array([CANDIDATES[min(i, LINEAR)] in cfg.candidates for i in range(m)])


def selection_scores(sc: np.ndarray, a: float) -> np.ndarray:
    """The score each candidate is chosen by (the kernel's rule, see
    :func:`ihomer.trees.kernels.leaf_step_numpy`): faded mean of exact match + Hamming accuracy,
    plus the micro-F1 of the faded window.

    >>> selection_scores(np.array([[10.0, 3.0, 1.0, 0.8]]), 0.9).round(3).tolist()
    [1.857]
    """
    t, f = sc[:, 1], sc[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(t + f > 0, 2.0 * t / (2.0 * t + f), 1.0)
    return sc[:, 0] * (1.0 - a) + f1


#: the adaptive step's accumulators start at this (a prior of rate 1, see
#: :func:`ihomer.trees.kernels.adaptive_step`): a feature's rate departs from 1 once its squared
#: gradients outweigh it
ADA_PRIOR = 1.0


def new_calibration(n_labels: int) -> np.ndarray:
    """A naive Bayes calibration that changes nothing yet: ``A = 1``, ``C = 0``, accumulators 1
    (2 x (``n_labels`` + 1), see :func:`ihomer.trees.kernels.nb_calibrate_numpy`).

    >>> new_calibration(2).tolist()
    [[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]]
    """
    cal = np.ones((2, n_labels + 1))
    cal[0, 1:] = 0.0
    return cal


class LeafModel:
    """The candidate models of one leaf and the choice between them (see module docstring).

    Examples
    --------
    >>> cfg = LeafConfig()
    >>> m = LeafModel(n_features=2, n_labels=2, cfg=cfg)
    >>> idx, xs, y = np.array([0]), np.array([1.0]), np.array([True, False])
    >>> for _ in range(30):
    ...     err = m.learn(idx, xs, 1.0, y, y.nonzero()[0], b"\\x00", 1.0, cfg)
    >>> err, CANDIDATES[min(m.chosen, LINEAR)], (m.predict_proba(idx, xs) > 0.5).tolist()
    (0.0, 'prior', [True, False])
    """

    __slots__ = (
        "pp", "pw", "pg", "last", "sets", "g", "mode_key", "mode_vec", "W", "b", "sc", "chosen",
        "mask", "lr", "seen", "judge_at", "G", "Gb", "ada", "nbc", "nb_on",
    )  # fmt: skip

    #: a candidate that costs O(features x labels) (naive Bayes, a linear model) is judged after
    #: this much weight at the leaf, then every ``JUDGE_EVERY``: dropped for good when it trails
    #: the best of its kind (naive Bayes: the chosen candidate) by ``PRUNE_MARGIN`` in
    #: selection score (:func:`selection_scores`)
    PRUNE_WEIGHT = 500.0
    JUDGE_EVERY = 200.0
    PRUNE_MARGIN = 0.02
    #: linear models are judged only at leaves with this many labels or more: below it the
    #: second model costs little, and the step size that leads at first is not the one that
    #: leads later (tmc2007-500, 22 labels: micro-F1 0.659 with the judging vs 0.674 without)
    PRUNE_LINEAR_LABELS = 200

    def __init__(self, n_features: int, n_labels: int, cfg: LeafConfig) -> None:
        self.pp = np.zeros(n_labels)  # positive weight per label, scaled by the growth pg
        self.pw = 0.0
        self.pg = 1.0
        self.last = np.zeros(n_labels, dtype=bool)
        self.sets: dict[bytes, list] = {}  # label-set key -> [count scaled by g, bool vector]
        self.g = 1.0
        self.mode_key = b""
        self.mode_vec = self.last
        k = cfg.lr.shape[0]
        self.W = np.zeros((n_features, k * n_labels))  # K linear models side by side
        self.b = np.zeros(k * n_labels)
        m = LINEAR + k
        # per candidate, faded: exact match + Hamming accuracy; true positives and label errors
        # (false positives + false negatives: micro-F1 over the window); Hamming accuracy (for
        # the label-set outputs)
        self.sc = np.zeros((m, 4))
        self.sc[:, 3] = 0.75
        self.chosen = PRIOR
        self.mask = candidate_mask(cfg)
        self.lr = cfg.lr  # the step sizes of the linear models this leaf still runs (K,)
        self.seen = 0.0
        self.judge_at = self.PRUNE_WEIGHT
        # the adaptive step's accumulators (None: the plain step), see LeafConfig.adaptive
        self.G = self.Gb = self.ada = None
        if cfg.adaptive != "off" and cfg.ada.any():
            c = k if cfg.adaptive == "feature" else k * n_labels
            self.G = np.full((n_features, c), ADA_PRIOR)
            self.Gb = np.full(c, ADA_PRIOR)
            self.ada = cfg.ada
        # the naive Bayes calibration (A, C and their AdaGrad accumulators; None: raw)
        self.nbc = new_calibration(n_labels) if cfg.nb_calibration > 0 and self.mask[NB] else None
        # naive Bayes is computed (and calibrated) at this leaf: as a candidate (mask[NB]) or,
        # once it trails as one, for the mixture only (see mixes)
        self.nb_on = bool(self.mask[NB])

    def __setstate__(self, state: tuple) -> None:
        # models pickled before the per-leaf step sizes and candidate judging: defaults
        _, slots = state
        for name, value in slots.items():
            setattr(self, name, value)
        if "lr" not in slots:  # the tree's step sizes, taken from its config at the next learn
            self.lr = None
            self.seen, self.judge_at = 0.0, self.PRUNE_WEIGHT
        if "G" not in slots:  # pickled before the adaptive step: the plain one
            self.G = self.Gb = self.ada = None
        if "nbc" not in slots:  # pickled before the naive Bayes calibration: raw naive Bayes
            self.nbc = None
        if "nb_on" not in slots:  # pickled before the naive Bayes mixture
            self.nb_on = bool(self.mask[NB])

    @property
    def n_linear(self) -> int:
        """Linear models this leaf still runs."""
        return int(self.sc.shape[0] - LINEAR)

    @property
    def _per_weight(self) -> bool:
        """The adaptive step keeps one accumulator per weight (else one per feature and model)."""
        return self.G is not None and self.G.shape[1] == self.W.shape[1]

    # -- growth -------------------------------------------------------------------------------
    def grow_features(self, cap: int) -> None:
        n = self.W.shape[0]
        if cap > n:
            self.W = grow_rows(self.W, cap)  # in place: no second copy of the weights
            if self.G is not None:
                self.G = np.concatenate([self.G, np.full((cap - n, self.G.shape[1]), ADA_PRIOR)])

    def take_features(self, rows: np.ndarray, cap: int) -> None:
        """Keep the feature rows ``rows`` only (renumbered 0..), with room for ``cap``."""
        W = np.zeros((cap, self.W.shape[1]))
        W[: rows.size] = self.W[rows]
        self.W = W
        if self.G is not None:
            G = np.full((cap, self.G.shape[1]), ADA_PRIOR)
            G[: rows.size] = self.G[rows]
            self.G = G

    def add_labels(self, k: int) -> None:
        z = np.zeros(k)
        zb = np.zeros(k, dtype=bool)
        self.pp = np.concatenate([self.pp, z])
        if self.nbc is not None:  # new labels: no bias yet (the shrinkage is shared)
            self.nbc = np.concatenate([self.nbc, new_calibration(k)[:, 1:]], axis=1)
        self.last = np.concatenate([self.last, zb])
        for e in self.sets.values():
            e[1] = np.concatenate([e[1], zb])
        if self.mode_key in self.sets:
            self.mode_vec = self.sets[self.mode_key][1]
        else:
            self.mode_vec = np.concatenate([self.mode_vec, zb])
        f, kl = self.W.shape
        nk = self.sc.shape[0] - LINEAR
        L = kl // nk
        per_weight = self._per_weight
        pad = np.zeros((f, nk, k))
        self.W = np.concatenate([self.W.reshape(f, nk, L), pad], axis=2).reshape(f, -1)
        self.b = np.concatenate([self.b.reshape(nk, L), pad[0]], axis=1).reshape(-1)
        if per_weight:  # new labels' accumulators start at the prior (rate 1)
            pad += ADA_PRIOR
            self.G = np.concatenate([self.G.reshape(f, nk, L), pad], axis=2).reshape(f, -1)
            self.Gb = np.concatenate([self.Gb.reshape(nk, L), pad[0]], axis=1).reshape(-1)

    def spawn(self, pos: np.ndarray, w: np.ndarray) -> LeafModel:
        """A child leaf's model: the parent's linear model, label sets and scores, with the
        child's label priors estimated by the split (``pos`` / ``w`` per label)."""
        child = LeafModel.__new__(LeafModel)
        wm = float(np.mean(w)) if w.size else 0.0
        child.pw = wm
        child.pg = 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            child.pp = np.where(w > 0, pos / np.where(w > 0, w, 1.0), 0.0) * wm
        child.last = self.last
        child.sets = {k: [c, v] for k, (c, v) in self.sets.items()}
        child.g = self.g
        child.mode_key = self.mode_key
        child.mode_vec = self.mode_vec
        child.W = self.W.copy()
        child.b = self.b.copy()
        child.sc = self.sc.copy()
        child.chosen = self.chosen
        child.mask = self.mask
        child.lr = self.lr
        child.seen = 0.0
        child.judge_at = self.PRUNE_WEIGHT
        child.G = None if self.G is None else self.G.copy()
        child.Gb = None if self.Gb is None else self.Gb.copy()
        child.ada = self.ada
        child.nbc = None if self.nbc is None else self.nbc.copy()  # the parent's calibration
        child.nb_on = self.nb_on
        return child

    def restrict(self, pos: np.ndarray, remap: Callable[[bytes], bytes]) -> None:
        """Keep only the labels at ``pos`` (in that order), in place; ``remap`` maps a label-set
        key of the old label order to the key of its restriction."""
        L = self.pp.size
        self.pp = self.pp[pos]
        if self.nbc is not None:
            self.nbc = np.ascontiguousarray(self.nbc[:, np.concatenate([[0], pos + 1])])
        self.last = self.last[pos]
        sets: dict[bytes, list] = {}
        for key, (count, vec) in self.sets.items():
            new = remap(key)
            e = sets.get(new)
            if e is None:
                sets[new] = [count, vec[pos]]
            else:  # sets that differ only outside ``pos`` become one
                e[0] += count
        self.sets = sets
        if sets:
            self.mode_key = max(sets, key=lambda k: sets[k][0])
            self.mode_vec = sets[self.mode_key][1]
        else:
            self.mode_vec = self.mode_vec[pos]
        f = self.W.shape[0]
        k = self.sc.shape[0] - LINEAR
        if self._per_weight:
            self.G = np.ascontiguousarray(self.G.reshape(f, k, L)[:, :, pos].reshape(f, -1))
            self.Gb = np.ascontiguousarray(self.Gb.reshape(k, L)[:, pos].reshape(-1))
        self.W = np.ascontiguousarray(self.W.reshape(f, k, L)[:, :, pos].reshape(f, -1))
        self.b = np.ascontiguousarray(self.b.reshape(k, L)[:, pos].reshape(-1))

    # -- prediction ---------------------------------------------------------------------------
    def predict_proba(
        self, idx: np.ndarray, xs: np.ndarray, rows: slice | None = None
    ) -> np.ndarray:
        c = self.chosen
        if c >= LINEAR:
            out = np.empty(self.pp.size)
            kernels.linear_proba(
                self.W, self.b, None if rows is not None else idx, xs, c - LINEAR, out
            )
            return out
        if c == PRIOR or c == NB:  # NB is computed by the caller from the split statistics
            return self.pp / self.pw if self.pw > 0 else np.zeros(self.pp.size)
        a = float(self.sc[c, 3])
        a = 0.51 if a < 0.51 else (0.99 if a > 0.99 else a)
        return np.where(self.last if c == LAST else self.mode_vec, a, 1.0 - a)

    # -- learning -----------------------------------------------------------------------------
    def learn(
        self,
        idx: np.ndarray,
        xs: np.ndarray,
        x2: float,
        y: np.ndarray,
        on: np.ndarray,
        key: bytes,
        w: float,
        cfg: LeafConfig,
        nb_params: tuple[np.ndarray, np.ndarray] | None = None,
        rows: slice | None = None,
        val: np.ndarray | None = None,
        stats: Any = None,
    ) -> float:
        """Score the candidates on (x, y), update them, and return the error (1 - Jaccard) of
        what the leaf predicted before this update. ``y`` is never modified (it is kept);
        ``on`` = ``y.nonzero()[0]`` (int64); ``key`` = ``on.tobytes()``; ``x2`` = squared norm
        of ``xs``. ``rows``, when given, is ``slice(0, idx.size)`` and says that ``idx`` is
        ``arange(idx.size)`` (dense rows: the weights are read and updated in place).

        ``nb_params`` are the naive Bayes parameters ``(base, packed)`` of
        :meth:`~ihomer.trees.observers.LeafStats.nb_params` (None: no naive Bayes candidate),
        from which the row's log-odds are computed with its raw values ``val``; ``stats`` (a
        :class:`~ihomer.trees.observers.LeafStats`, optional) also gets the row added (its
        non-zeros; missing values are the caller's).

        Scoring, selection, the linear models' normalised SGD step on the log-loss (non-zero
        inputs only), the label priors and the statistics are one
        :func:`ihomer.trees.kernels.leaf_learn` call; the label sets are updated here."""
        if self.lr is None:  # (a leaf pickled before leaves kept their own step sizes)
            self.lr = cfg.lr
        wg = w * self.pg
        base, packed = (None, None) if nb_params is None else nb_params
        st = stats
        err, self.chosen = kernels.leaf_learn(
            self.W, self.b, None if rows is not None else idx, xs, x2, y, self.pp, self.pw,
            self.last, self.mode_vec, base, packed, val, self.sc, self.mask, self.chosen,
            cfg.select_fading, self.lr, w, self.G, self.Gb, self.ada, on, wg,
            None if st is None else st.nz, None if st is None else st.nzp,
            None if st is None else st.pos, self.nbc, cfg.nb_calibration,
        )  # fmt: skip
        if st is not None:
            st.w += w  # (the kernel added the row to its arrays)
        self.seen += w
        if self.seen >= self.judge_at:
            self.judge_at = self.seen + self.JUDGE_EVERY
            self._judge(cfg.select_fading, cfg.nb_mix)

        # prior (faded by a growing weight instead of decaying every count): pp[on] += wg
        # was done with the step
        self.pw += wg
        self.pg /= cfg.prior_fading
        if self.pg > 1e100:
            self.pp /= self.pg
            self.pw /= self.pg
            self.pg = 1.0
        # label sets
        self.last = y
        self.g /= cfg.set_fading
        e = self.sets.get(key)
        if e is None:
            if len(self.sets) >= cfg.max_sets:
                self._prune(max(cfg.max_sets // 2, 1))
            e = self.sets[key] = [0.0, y]
        e[0] += w * self.g
        best_set = self.sets.get(self.mode_key)
        if best_set is None or e[0] > best_set[0]:
            self.mode_key = key
            self.mode_vec = e[1]
        if self.g > 1e100:
            for v in self.sets.values():
                v[0] /= self.g
            self.g = 1.0
        return err

    def _mixing(self, nb_mix: float) -> bool:
        """Whether naive Bayes is averaged in at a leaf of this size: ``nb_mix`` > 0 and fewer
        than ``PRUNE_LINEAR_LABELS`` labels (at more, naive Bayes costs what it did on
        delicious, and averaging it in lowered corel5k's micro-F1 from 0.472 to 0.456)."""
        return nb_mix > 0.0 and self.pp.size < self.PRUNE_LINEAR_LABELS

    def mixes(self, nb_mix: float) -> bool:
        """Whether the leaf serves naive Bayes averaged with its chosen candidate, ``nb_mix``
        times naive Bayes' probabilities plus ``1 - nb_mix`` times the candidate's: when
        :meth:`_mixing` and naive Bayes is computed here but is not the chosen candidate.

        Naive Bayes that trails as a candidate stays computed for the mixture
        (:meth:`_judge`); the mixture itself is never judged. Judged by its log-loss or Brier
        score after ``PRUNE_WEIGHT``, or by its decisions at 0.5, it trailed on yeast and the
        sparse text streams, where over the whole stream it lowers the Hamming loss most (see
        the README)."""
        return self.nb_on and self.chosen != NB and self._mixing(nb_mix)

    def _judge(self, a: float, nb_mix: float = 0.0) -> None:
        """Drop the expensive candidates that trail (see ``PRUNE_WEIGHT``): naive Bayes when
        it trails the chosen candidate (a leaf that mixes it in, :meth:`mixes`, keeps computing
        it for the mixture), a linear model when it trails the best linear one. What is dropped
        is freed (the linear model's weights) and never comes back at this leaf; the tree frees
        the naive Bayes parameters."""
        s = selection_scores(self.sc, a)
        chosen, margin = self.chosen, self.PRUNE_MARGIN
        mixing = self._mixing(nb_mix)
        if self.mask[NB] and chosen != NB and s[NB] < s[chosen] - margin:
            self.mask = self.mask.copy()
            self.mask[NB] = False
        if self.nb_on and not self.mask[NB] and not mixing:
            self.nb_on = False
            self.nbc = None
        K = self.lr.shape[0]
        if K < 2 or self.pp.size < self.PRUNE_LINEAR_LABELS:
            return
        lin = s[LINEAR:]
        best = int(np.argmax(np.where(self.mask[LINEAR:], lin, -np.inf)))
        keep = [
            k
            for k in range(K)
            if k == best
            or LINEAR + k == chosen
            or (self.mask[LINEAR + k] and lin[k] >= lin[best] - margin)
        ]
        if len(keep) == K:
            return
        f, L = self.W.shape[0], self.pp.size
        if self.G is not None:
            G = self.G.reshape(f, K, -1)[:, keep]
            self.G = np.ascontiguousarray(G.reshape(f, -1))
            self.Gb = np.ascontiguousarray(self.Gb.reshape(K, -1)[keep].reshape(-1))
            self.ada = np.ascontiguousarray(self.ada[keep])
            if not self.ada.any():  # the adaptive models are gone: the plain step
                self.G = self.Gb = self.ada = None
        self.W = np.ascontiguousarray(self.W.reshape(f, K, L)[:, keep].reshape(f, -1))
        self.b = np.ascontiguousarray(self.b.reshape(K, L)[keep].reshape(-1))
        rows = list(range(LINEAR)) + [LINEAR + k for k in keep]
        self.sc = np.ascontiguousarray(self.sc[rows])
        self.mask = np.ascontiguousarray(self.mask[rows])
        self.lr = np.ascontiguousarray(self.lr[keep])
        if chosen >= LINEAR:
            self.chosen = LINEAR + keep.index(chosen - LINEAR)

    def _prune(self, keep: int) -> None:
        items = sorted(self.sets.items(), key=lambda kv: kv[1][0], reverse=True)[:keep]
        self.sets = dict(items)
        self.mode_key, self.mode_vec = items[0][0], items[0][1][1]

    def nbytes(self) -> int:
        n = self.pp.nbytes + self.last.nbytes + self.W.nbytes + self.b.nbytes
        if self.nbc is not None:
            n += self.nbc.nbytes
        if self.G is not None:
            n += self.G.nbytes + self.Gb.nbytes
        return n + sum(v[1].nbytes + 48 for v in self.sets.values())
