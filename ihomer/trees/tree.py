"""The multi-label Hoeffding adaptive tree used as iHOMER's per-cluster learner.

It owns the tree structure (growth by Hoeffding tests on the multi-label entropy, node-level drift
reaction with background subtrees, caps on nodes and depth) and wires the parts that live in the
sibling modules: :mod:`~ihomer.trees.criterion` (entropy, merit, bound),
:mod:`~ihomer.trees.observers` (split statistics), :mod:`~ihomer.trees.leaf_models` (adaptive leaf
models) and :mod:`~ihomer.trees.drift` (swap test).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
from river.drift import ADWIN
from scipy.special import expit

from ihomer.features import SparseRow
from ihomer.learner import ClusterLearner
from ihomer.trees import kernels
from ihomer.trees.criterion import hoeffding_bound, label_set_range
from ihomer.trees.drift import DISCARD, SWAP, error_increased, swap_decision
from ihomer.trees.leaf_models import (
    CANDIDATES,
    LINEAR,
    NB,
    FeatureScaler,
    LeafConfig,
    LeafModel,
    new_calibration,
)
from ihomer.trees.nodes import Leaf, Split, count_nodes, iter_nodes
from ihomer.trees.observers import DEFAULT_Z_GRID, LeafStats

__all__ = ["MultiLabelHoeffdingTree"]

_MAX_KEYS = 4096
#: a restricted tree drops the features its labels never met when they are fewer than this share
COMPACT_BELOW = 0.5
_EMPTY = frozenset()
_ARANGE = np.arange(1024, dtype=np.int64).tobytes()  # grown on demand by _dense_rows
_LAST_ROWS: tuple = (None, None)  # (idx, its _dense_rows answer) of the last call


def _normalise(row: SparseRow) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The row's arrays as contiguous int64 / float64 (what the compiled kernels take; rows from
    :class:`~ihomer.features.FeatureIndex` already are, so this copies nothing for them)."""
    idx, val, missing = row
    if idx.dtype != np.int64 or not idx.flags.c_contiguous:
        idx = np.ascontiguousarray(idx, dtype=np.int64)
    if val.dtype != np.float64 or not val.flags.c_contiguous:
        val = np.ascontiguousarray(val, dtype=np.float64)
    return idx, val, missing


def _dense_rows(idx: np.ndarray) -> slice | None:
    """``slice(0, n)`` when ``idx`` is exactly ``arange(n)`` (int64, in order: a dense row), so
    per-feature arrays can be read and updated through views instead of gathers; else ``None``."""
    global _ARANGE, _LAST_ROWS
    last = _LAST_ROWS  # one tuple read: safe across threads
    if idx is last[0] and not idx.flags.writeable:
        return last[1]  # the same read-only array (FeatureIndex shares them across rows)
    n = idx.size
    if not n:
        return None
    b = 8 * n
    if b > len(_ARANGE):
        _ARANGE = np.arange(max(n, 2 * len(_ARANGE) // 8), dtype=np.int64).tobytes()
    rows = slice(0, n) if idx.tobytes() == _ARANGE[:b] else None
    _LAST_ROWS = (idx, rows)
    return rows


class MultiLabelHoeffdingTree(ClusterLearner):
    """Multi-label Hoeffding adaptive tree (MLHAT-style) over one cluster's labels.

    Parameters
    ----------
    grace_period
        Weight a leaf must see between two split attempts. After a failed attempt the leaf
        waits longer when the bound cannot pass soon: half the weight at which it would pass
        with the merit gap seen (``n (eps / gap)^2``), at most the weight it has seen, so a
        leaf that never splits costs O(log n) attempts instead of n / grace_period (each is
        O(features x labels x thresholds)).
    delta
        Split confidence of the Hoeffding bound.
    tau
        Tie threshold: split when the bound falls below it.
    max_depth
        Leaves at this depth never split.
    max_nodes
        Cap on the number of nodes (main tree and background subtrees together).
    leaf_model
        ``"adaptive"`` (run all candidates, predict with the best; a leaf drops naive Bayes
        and, with 200 labels or more, a trailing linear model once they trail: see
        :class:`~ihomer.trees.leaf_models.LeafModel`), one candidate of
        ``("prior", "last_set", "mode_set", "naive_bayes", "linear")``, or a tuple of them
        (adaptive over that subset, e.g. without the label-set models).
    lr
        Step size(s) of the normalised SGD of the per-label linear models: one linear candidate
        per step size (a small and a large step; the leaf picks the better one).
    adaptive_step
        ``"off"``, ``"feature"`` or ``"weight"``: the linear models' adaptive normalised step
        (:class:`ihomer.trees.leaf_models.LeafConfig`; off by default, by measurement).
    nb_calibration
        AdaGrad rate of the naive Bayes candidate's online calibration (log-odds ``A z + C``:
        one shrinkage ``A`` for every label, one bias ``C`` per label, fitted on the log-loss of
        each instance at the leaf before it is learned, :func:`ihomer.trees.kernels.
        nb_calibrate_numpy`); 0 serves raw naive Bayes. Naive Bayes
        counts correlated features as independent evidence, so its probabilities crowd at 0
        and 1 and its 0.5 cut, by which the leaf compares it with the other candidates, is
        wrong. 0.1 by measurement (stop 20): development-suite Hamming loss 0.1053 (0.05:
        0.1058, 0.15: 0.1065, 0.2: 0.1082, raw: 0.1083) and macro-F1 0.4728 (raw: 0.4704); see
        the README.
    nb_mix
        Weight of naive Bayes in what a leaf serves: its calibrated probabilities times
        ``nb_mix`` plus the chosen candidate's times ``1 - nb_mix``, at leaves of fewer than
        200 labels (naive Bayes dropped as a candidate stays computed for the mixture there;
        :meth:`~ihomer.trees.leaf_models.LeafModel.mixes`); 0 serves the chosen candidate
        alone. The two err differently: naive Bayes counts every feature as independent
        evidence, the logistic models fit the features jointly and the label-set models the
        labels jointly. 0.4 by measurement (see the README).
    prior_fading, set_fading
        Per-instance fading of the label priors and of the label-set counts at a leaf.
    select_fading
        Fading of the candidates' prequential scores (smaller adapts faster). 0.97 by
        measurement: 0.995 (a steadier choice) gives development-suite means (subset / ex-F1 /
        micro-F1 / macro-F1 / Hamming) 0.380 / 0.619 / 0.640 / 0.471 / 0.1032 against 0.384 /
        0.619 / 0.642 / 0.474 / 0.1025 (stop 21's ablation). (Before naive Bayes was
        calibrated it raised them, 0.3728 / 0.6130 / 0.6360 / 0.4703 / 0.1078 against 0.3698 /
        0.6122 / 0.6353 / 0.4704 / 0.1094, but not the held-out streams: cal500 micro-F1 0.391
        against 0.398, macro-F1 0.109 against 0.126; synthetic text with 1,000 labels micro-F1
        0.106 against 0.117.)
    adwin_delta
        Confidence of the per-node ADWIN; ``None`` disables drift handling.
    drift_window
        Both ADWIN windows must hold this many instances before a swap test.
    min_branch_fraction
        A split must send at least this fraction of the weight to each child.
    max_features
        Memory budget in features: the tree keeps statistics and weights only for the features
        it has seen (its own compact column ids, so a tree that sees a few hundred of a
        100,000-word vocabulary holds arrays of a few hundred rows), and for at most this many;
        features first seen after the cap is reached are ignored by this tree (they still
        reach the other trees of the model). The tree's arrays then take at most about
        ``(#leaves) x max_features x n_labels x 64`` bytes.
    memory_budget_mb
        Budget of the tree's arrays, checked whenever they must grow for new features (their
        capacity doubles). When the grown tree would exceed it, the tree first sheds its split
        statistics and stops growing (:meth:`shed`); when even its leaf models would exceed
        it, features first seen from then on are ignored by this tree. None: no budget.
        iHOMER gives each tree its own ``memory_budget_mb``.
    seed
        Kept for API symmetry (the tree is deterministic).

    Examples
    --------
    >>> from ihomer.features import FeatureIndex
    >>> fi, tree = FeatureIndex(), MultiLabelHoeffdingTree(grace_period=50)
    >>> tree.add_labels(2)
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(400):
    ...     x = {"a": float(rng.random()), "b": float(rng.random())}
    ...     tree.learn(fi.encode(x), np.array([x["a"] > 0.5, x["b"] > 0.5]))
    >>> p = tree.predict_proba(fi.encode({"a": 0.9, "b": 0.1}))
    >>> bool(p[0] > 0.5), bool(p[1] < 0.5)
    (True, True)
    """

    def __init__(
        self,
        grace_period: int = 200,
        delta: float = 1e-7,
        tau: float = 0.05,
        max_depth: int = 20,
        max_nodes: int = 127,
        leaf_model: str | tuple[str, ...] = "adaptive",
        lr: float | tuple[float, ...] = (0.5, 4.0),
        adaptive_step: str = "off",
        nb_calibration: float = 0.1,
        nb_mix: float = 0.4,
        prior_fading: float = 0.995,
        set_fading: float = 0.99,
        select_fading: float = 0.97,
        adwin_delta: float | None = 0.002,
        drift_window: int = 300,
        min_branch_fraction: float = 0.01,
        max_features: int = 20_000,
        memory_budget_mb: float | None = None,
        seed: int = 0,
    ) -> None:
        self.grace_period = grace_period
        self.delta = delta
        self.tau = tau
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.leaf_model = leaf_model
        self.lr = lr
        self.adaptive_step = adaptive_step
        self.nb_calibration = nb_calibration
        self.nb_mix = nb_mix
        self.prior_fading = prior_fading
        self.set_fading = set_fading
        self.select_fading = select_fading
        self.adwin_delta = adwin_delta
        self.drift_window = drift_window
        self.min_branch_fraction = min_branch_fraction
        self.max_features = max_features
        self.memory_budget_mb = memory_budget_mb
        self.seed = seed
        self._validate()
        self._reset()

    # -- state ----------------------------------------------------------------------------------
    def _reset(self) -> None:
        self._L = 0
        self._cap = 0  # feature capacity of every array
        self._nf = 0  # features seen (1 + largest local column id)
        # global column id -> local id: the identity while the features seen are exactly
        # 0..n-1 (dense streams), else ``_gmap`` (-1: unseen) and its inverse ``_gof``
        self._gmap: np.ndarray | None = None
        self._gof = np.zeros(0, dtype=np.int64)
        self._last_loc: tuple | None = None  # (row arrays, their local form) of the last predict
        self._frozen = False  # shed(): no split statistics, no growth, no background subtrees
        self._feature_cap = self.max_features  # lowered when the budget stops the arrays growing
        self._root: Leaf | Split | None = None
        self._scaler: FeatureScaler | None = None
        self._cfg: LeafConfig | None = None
        self._events: list[tuple[str, dict[str, Any]]] = []
        self._n = 0
        self._nnz = 0
        self._n_nodes = 0

    def _validate(self) -> None:
        if self.grace_period < 1:
            raise ValueError(f"grace_period must be >= 1, got {self.grace_period}")
        if not 0.0 < self.delta < 1.0:
            raise ValueError(f"delta must be in (0, 1), got {self.delta}")
        if self.tau < 0:
            raise ValueError(f"tau must be >= 0, got {self.tau}")
        if isinstance(self.max_features, bool) or not isinstance(self.max_features, int) or (
            self.max_features < 1
        ):
            raise ValueError(f"max_features must be an integer >= 1, got {self.max_features!r}")
        mb = self.memory_budget_mb
        if mb is not None and (isinstance(mb, bool) or not isinstance(mb, (int, float)) or mb <= 0):
            raise ValueError(f"memory_budget_mb must be None or > 0, got {mb!r}")
        if self.max_depth < 0 or self.max_nodes < 1:
            raise ValueError("max_depth must be >= 0 and max_nodes >= 1")
        lm = self.leaf_model
        if isinstance(lm, (tuple, list)):
            if not lm or any(c not in CANDIDATES for c in lm):
                raise ValueError(f"leaf_model: a tuple must hold some of {CANDIDATES}")
        elif lm != "adaptive" and lm not in CANDIDATES:
            raise ValueError(f"leaf_model must be 'adaptive', one of {CANDIDATES} or a tuple")
        if getattr(self, "adaptive_step", "off") not in LeafConfig.ADAPTIVE:
            raise ValueError(f"adaptive_step must be one of {LeafConfig.ADAPTIVE}")
        nbc = getattr(self, "nb_calibration", 0.0)  # absent from older pickles
        if isinstance(nbc, bool) or not isinstance(nbc, (int, float)) or not 0.0 <= nbc < math.inf:
            raise ValueError(f"nb_calibration must be a finite number >= 0, got {nbc!r}")
        mix = getattr(self, "nb_mix", 0.0)  # absent from older pickles
        if isinstance(mix, bool) or not isinstance(mix, (int, float)) or not 0.0 <= mix <= 1.0:
            raise ValueError(f"nb_mix must be a number in [0, 1], got {mix!r}")
        if self.adwin_delta is not None and not 0.0 < self.adwin_delta < 1.0:
            raise ValueError(f"adwin_delta must be in (0, 1) or None, got {self.adwin_delta}")
        for name in ("prior_fading", "set_fading", "select_fading"):
            v = getattr(self, name)
            if not 0.0 < v <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {v}")

    def _init_state(self) -> None:
        self._validate()
        lm = self.leaf_model
        if lm == "adaptive":
            cands = CANDIDATES
        else:
            cands = tuple(lm) if isinstance(lm, (tuple, list)) else (lm,)
        self._cfg = LeafConfig(
            prior_fading=self.prior_fading,
            set_fading=self.set_fading,
            select_fading=self.select_fading,
            lr=(self.lr,) if isinstance(self.lr, (int, float)) else tuple(self.lr),
            candidates=cands,
            adaptive=getattr(self, "adaptive_step", "off"),  # absent from older pickles
            nb_calibration=getattr(self, "nb_calibration", 0.0),
            nb_mix=getattr(self, "nb_mix", 0.0),
        )
        self._cap = max(self._cap, 16)
        self._scaler = FeatureScaler(self._cap)
        self._root = self._new_leaf(0)
        self._n_nodes = 1

    def _new_adwin(self) -> ADWIN | None:
        return None if self.adwin_delta is None else ADWIN(delta=self.adwin_delta)

    def _new_leaf(self, depth: int, model: LeafModel | None = None) -> Leaf:
        if model is None:
            model = LeafModel(self._cap, self._L, self._cfg)
            if self.leaf_model != "adaptive":
                model.chosen = CANDIDATES.index(self._cfg.candidates[0])
        grows = depth < self.max_depth and not self._frozen
        stats = LeafStats(self._cap, self._L) if grows else None
        return Leaf(depth, stats, model, self._new_adwin())

    def _ensure_cap(self, needed: int) -> None:
        if needed > self._nf:
            self._nf = needed
        if needed <= self._cap:
            return
        cap = max(needed, 2 * self._cap)
        self._cap = cap
        self._scaler.grow(cap)
        for node in iter_nodes(self._root):
            if isinstance(node, Leaf):
                node.model.grow_features(cap)
                if node.stats is not None:
                    node.stats.grow_features(cap)

    # -- ClusterLearner contract ------------------------------------------------------------------
    @property
    def n_labels(self) -> int:
        return self._L

    def add_labels(self, k: int) -> None:
        if k < 0:
            raise ValueError(f"add_labels: k must be >= 0, got {k}")
        if k == 0:
            return
        self._L += k
        if self._root is None:
            return
        for node in iter_nodes(self._root):
            if isinstance(node, Leaf):
                node.model.add_labels(k)
                if node.stats is not None:
                    node.stats.add_labels(k)

    def learn(self, row: SparseRow, y: np.ndarray, w: float = 1.0) -> None:
        if self._root is None:
            self._init_state()
        y = np.array(y, dtype=bool)  # a private copy: leaves keep it as their last label set
        if y.shape != (self._L,):
            raise ValueError(
                f"learn: y has shape {y.shape}, expected ({self._L},) (call add_labels first)"
            )
        cached, self._last_loc = self._last_loc, None
        if cached is not None and cached[0] is row.idx and cached[1] is row.missing:
            # predict_proba localised and scaled this row: every feature known, no growth
            gidx, gval, gmissing = row
            idx, val, missing, xs, x2, rows, _ = cached[2]
        else:
            gidx, gval, gmissing = _normalise(row)
            idx, val, missing = self._localise(gidx, gval, gmissing, grow=True)
            rows = _dense_rows(idx)
            self._ensure_cap(self._gof.size)  # local ids are < the number of features seen
            xs = self._scaler.transform(idx, val, rows)
            x2 = float(xs @ xs)
        w = float(w)
        self._scaler.learn(idx, val, rows is not None)
        self._nnz += idx.size
        self._n += 1
        on = y.nonzero()[0]
        # batched statistics pay off on dense inputs (density >= 1/4)
        batch = 4 * self._nnz >= self._n * self._nf
        ctx = _Ctx(idx, val, missing, xs, x2, y, on, w, on.tobytes(), batch, rows)
        ctx.gidx, ctx.gval, ctx.gmissing = gidx, gval, gmissing
        self._learn_subtree(self._root, None, "root", ctx, False)

    def _localise(
        self, idx: np.ndarray, val: np.ndarray, missing: np.ndarray, grow: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The row in this tree's column ids; with ``grow``, unseen features get the next ids
        (up to ``max_features``); features without an id are dropped."""
        gmap = self._gmap
        top = int(idx.max()) if idx.size else -1
        if missing.size:
            top = max(top, int(missing.max()))
        if gmap is None:  # identity so far: ids 0..n-1 are known, local = global
            n = self._gof.size
            if top < n:
                return idx, val, missing
            if grow:
                ids = np.union1d(idx, missing) if missing.size else idx
                new = ids[ids >= n]
                if new.size == top - n + 1 and top < self._room(new.size):  # n..top, no gap
                    self._gof = np.arange(top + 1, dtype=np.int64)
                    return idx, val, missing
            # the identity ends here: build the map
            gmap = self._gmap = np.full(max(2 * (top + 1), 16), -1, dtype=np.int64)
            gmap[:n] = self._gof
        if top >= gmap.size:
            grown = np.full(max(2 * gmap.size, top + 1), -1, dtype=np.int64)
            grown[: gmap.size] = gmap
            gmap = self._gmap = grown
        loc = gmap[idx]
        mloc = gmap[missing] if missing.size else missing
        if grow and (loc.min(initial=0) < 0 or mloc.min(initial=0) < 0):
            ids = idx[loc < 0]
            if missing.size:
                ids = np.concatenate([ids, missing[mloc < 0]])
            ids = np.unique(ids)
            ids = ids[: max(self._room(ids.size) - self._gof.size, 0)]
            if ids.size:
                gmap[ids] = np.arange(self._gof.size, self._gof.size + ids.size)
                self._gof = np.concatenate([self._gof, ids])
                loc = gmap[idx]
                mloc = gmap[missing] if missing.size else missing
        keep = loc >= 0
        if not keep.all():
            loc, val = loc[keep], val[keep]
        if missing.size and (mloc < 0).any():
            mloc = mloc[mloc >= 0]
        return loc, val, mloc

    def _room(self, k: int) -> int:
        """How many features the tree may hold once ``k`` more arrive: ``max_features``, or
        less when growing the arrays to hold them would break the memory budget."""
        n = self._gof.size
        limit = min(self.max_features, self._feature_cap)
        if self.memory_budget_mb is None or self._root is None or n + k <= self._cap:
            return limit
        budget = self.memory_budget_mb * 2**20
        grow = max(n + k, 2 * self._cap) / self._cap
        if self.memory_bytes() * grow <= budget:
            return limit
        if not self._frozen:
            self.shed(1 << 62)  # every leaf's split statistics
            self._record("memory_cap", bytes=self.memory_bytes(), budget=int(budget))
        if self.memory_bytes() * grow > budget:
            self._feature_cap = min(limit, self._cap)  # no more room: new features ignored
        return min(limit, self._feature_cap)

    def global_feature(self, local: int) -> int:
        """The global column id of this tree's column ``local``."""
        return int(self._gof[local])

    def restrict(self, positions: np.ndarray) -> MultiLabelHoeffdingTree:
        """A copy over the labels at ``positions`` (in that order): same structure, node drift
        detectors, scaler and per-leaf state, restricted to those labels, so it predicts them as
        this tree does now (to rounding: the products run over other column layouts). Used by
        iHOMER when a new label cluster is a subset of an old one (no warm start, no handover).

        >>> from ihomer.features import FeatureIndex
        >>> fi, tree = FeatureIndex(), MultiLabelHoeffdingTree()
        >>> tree.add_labels(3)
        >>> for i in range(50):
        ...     tree.learn(fi.encode({"a": float(i % 2)}), np.array([i % 2 == 0, True, i % 3 == 0]))
        >>> row = fi.encode({"a": 1.0})
        >>> sub = tree.restrict(np.array([2, 0]))
        >>> sub.n_labels, bool(np.allclose(sub.predict_proba(row), tree.predict_proba(row)[[2, 0]]))
        (2, True)
        """
        pos = np.asarray(positions, dtype=np.int64)
        if (
            pos.ndim != 1
            or pos.size == 0
            or pos.min() < 0
            or pos.max() >= self._L
            or np.unique(pos).size < pos.size
        ):
            raise ValueError(
                f"restrict: positions must be distinct label positions in [0, {self._L}), "
                f"got {pos.tolist()}"
            )
        new = copy.deepcopy(self)
        new._last_loc = None
        new._L = int(pos.size)
        new._events = []
        if new._root is None:
            return new
        keep = np.zeros(self._L, dtype=bool)

        def remap(key: bytes) -> bytes:
            on = np.frombuffer(key, dtype=np.int64)
            keep[on] = True
            out = np.flatnonzero(keep[pos]).tobytes()
            keep[on] = False
            return out

        seen = np.zeros(new._cap, dtype=bool)
        n_stats = 0
        for node in iter_nodes(new._root):
            if isinstance(node, Leaf):
                node.model.restrict(pos, remap)
                if node.stats is not None:
                    node.stats.restrict(pos)
                    seen |= node.stats.nzp[:, :, 0].max(axis=1, initial=0.0) > 0
                    n_stats += 1
                node.keys = {remap(k) for k in node.keys}
        if n_stats and np.count_nonzero(seen[: new._nf]) < COMPACT_BELOW * new._nf:
            new._keep_features(np.flatnonzero(seen[: new._nf]))
        return new

    def _keep_features(self, rows: np.ndarray) -> None:
        """Keep only the columns ``rows`` (local ids, sorted) in every array of the tree."""
        n = int(rows.size)
        cap = max(16, n)
        self._scaler.take(rows, cap)
        for node in iter_nodes(self._root):
            if isinstance(node, Leaf):
                node.model.take_features(rows, cap)
                if node.stats is not None:
                    node.stats.take_features(rows, cap)
        self._last_loc = None
        gof = self._gof[rows]
        top = int(gof.max()) + 1 if n else 1
        gmap = np.full(max(2 * top, 16), -1, dtype=np.int64)
        gmap[gof] = np.arange(n)
        self._gof, self._gmap = gof, gmap
        self._cap, self._nf = cap, n

    def predict_proba(self, row: SparseRow) -> np.ndarray:
        if self._root is None:
            return np.zeros(self._L)
        loc = self._locate(row)
        idx, val, missing, xs, _, rows, complete = loc
        if complete:
            self._last_loc = (row.idx, row.missing, loc)  # learn may reuse it
        gidx, gval, gmissing = row
        node = self._root
        if node.__class__ is Split:
            lookup = dict(zip(gidx.tolist(), gval.tolist()))
            miss = set(gmissing.tolist()) if gmissing.size else _EMPTY
            while node.__class__ is Split:
                node = node.left if node.goes_left(lookup, miss) else node.right
        model = node.model
        c = model.chosen
        if c == NB and node.stats is not None:
            return self._nb_proba(node, idx, val, rows)
        p = model.predict_proba(idx, xs, rows) if c >= LINEAR else model.predict_proba(idx, val)
        w = self._cfg.nb_mix
        if node.stats is not None and model.mixes(w):
            base, packed = node.stats.nb_params()
            kernels.nb_mix(base, packed, None if rows is not None else idx, val, model.nbc, p, w)
        return p

    @staticmethod
    def _nb_proba(node: Leaf, idx: np.ndarray, val: np.ndarray, rows: slice | None) -> np.ndarray:
        """The (calibrated) naive Bayes probabilities of the leaf ``node`` for the row."""
        z = node.stats.nb_logit(idx, val, rows)
        nbc = node.model.nbc
        return expit(z if nbc is None else kernels.nb_calibrated(z, nbc))

    def _locate(self, row: SparseRow) -> tuple:
        """The row in this tree's columns for prediction, without growing: ``(idx, val,
        missing, xs, x2, rows, complete)`` with unseen features (and ids beyond the arrays)
        dropped, ``xs`` the scaled values, ``x2`` their squared norm, ``rows`` as
        :func:`_dense_rows`, ``complete``: nothing was dropped (learning may reuse it). One
        :func:`ihomer.trees.kernels.row_local` call for rows without missing values."""
        gidx, gval, gmissing = row
        if not gmissing.size:
            n = gidx.size
            loc, val, xs = np.empty(n, dtype=np.int64), np.empty(n), np.empty(n)
            try:
                k, _, dense, _ = kernels.row_local(
                    gidx, gval, self._gmap, self._gof.size, self._cap, self._scaler.inv,
                    loc, val, xs,
                )  # fmt: skip
            except (TypeError, ValueError, BufferError):
                pass  # not int64 / float64 contiguous: the general path below
            else:
                if k < n:
                    loc, val, xs = loc[:k], val[:k], xs[:k]
                # (x2 as the general path computes it, so both give the same bits)
                rows = slice(0, k) if dense else None
                return loc, val, gmissing, xs, float(xs @ xs), rows, k == n
        gidx, gval, gmissing = _normalise(row)
        idx, val, missing = self._localise(gidx, gval, gmissing, grow=False)
        complete = idx.size == gidx.size and missing.size == gmissing.size
        rows = _dense_rows(idx)
        cap = self._cap
        if rows is not None:
            if idx.size > cap:  # arange(n): the columns below cap are the first cap ones
                idx, val, rows, complete = idx[:cap], val[:cap], slice(0, cap), False
        elif idx.size and int(idx.max()) >= cap:
            keep = idx < cap
            idx, val, complete = idx[keep], val[keep], False
        xs = self._scaler.transform(idx, val, rows)
        return idx, val, missing, xs, float(xs @ xs), rows, complete

    def drain_events(self) -> list[tuple[str, dict[str, Any]]]:
        out, self._events = self._events, []
        return out

    def memory_bytes(self) -> int:
        if self._root is None:
            return 0
        total = self._scaler.nbytes()
        for node in iter_nodes(self._root):
            if isinstance(node, Leaf):
                total += node.model.nbytes() + 64 * len(node.keys)
                if node.stats is not None:
                    total += node.stats.nbytes()
            else:
                total += 128
        return total

    def shed(self, nbytes: int) -> int:
        """Drop the split statistics of the leaves (largest first) until about ``nbytes`` are
        freed, and stop growing: no new statistics, splits or background subtrees. The leaves
        keep predicting (the naive Bayes candidate, which lives on the statistics, gives way
        to the others)."""
        self._frozen = True
        if self._root is None:
            return 0
        leaves = [n for n in iter_nodes(self._root) if isinstance(n, Leaf) and n.stats is not None]
        leaves.sort(key=lambda n: n.stats.nbytes(), reverse=True)
        freed = 0
        for leaf in leaves:
            if freed >= nbytes:
                break
            freed += leaf.stats.nbytes()
            leaf.stats = None
        return freed

    # -- introspection --------------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        """Nodes in the tree and its background subtrees."""
        return self._n_nodes

    @property
    def root(self) -> Leaf | Split | None:
        return self._root

    def leaf_of(self, row: SparseRow) -> Leaf | None:
        """The leaf ``row`` reaches in the main tree."""
        node = self._root
        if node is None:
            return None
        lookup = dict(zip(row.idx.tolist(), row.val.tolist()))
        miss = set(row.missing.tolist())
        while isinstance(node, Split):
            node = node.left if node.goes_left(lookup, miss) else node.right
        return node

    # -- learning internals ---------------------------------------------------------------------
    def _learn_subtree(self, top: Any, owner: Any, side: str, ctx: _Ctx, is_alt: bool) -> None:
        # route, remembering (node, owner, side) so nodes can be replaced
        path = [(top, owner, side)]
        node = top
        while node.__class__ is Split:
            if ctx.lookup is None:
                ctx.lookup = dict(zip(ctx.gidx.tolist(), ctx.gval.tolist()))
                ctx.miss = set(ctx.gmissing.tolist()) if ctx.gmissing.size else _EMPTY
            if node.goes_left(ctx.lookup, ctx.miss):
                path.append((node.left, node, "left"))
                node = node.left
            else:
                path.append((node.right, node, "right"))
                node = node.right
        leaf = node
        stats = leaf.stats
        model = leaf.model
        rows = ctx.rows
        if stats is not None and model.nb_on:
            nb = stats.nb_params()  # the log-odds are computed with the step
        else:
            nb = None
            if stats is not None and stats.nb is not None:  # the leaf dropped naive Bayes
                stats.nb = stats.nb_terms = stats.nb_nzw = None
        # the statistics get the row with the step, unless batched (dense inputs)
        direct = None if stats is None or ctx.batch else stats
        err = model.learn(
            ctx.idx, ctx.xs, ctx.x2, ctx.y, ctx.on, ctx.key, ctx.w, self._cfg, nb, rows,
            ctx.val, direct,
        )  # fmt: skip
        if stats is not None:
            if ctx.batch:
                stats.push(ctx.idx, ctx.val, ctx.y, ctx.w, rows is not None)
            if ctx.missing.size:
                stats.add_missing(ctx.missing, ctx.on, ctx.w)
            if len(leaf.keys) < _MAX_KEYS:
                leaf.keys.add(ctx.key)
            leaf.since += ctx.w

        if self.adwin_delta is not None:
            for node, own, sd in path:
                if node.alt is not None and not is_alt:
                    self._learn_subtree(node.alt, node, "alt", ctx, True)
                adw = node.adwin
                before = adw.estimation
                adw.update(err)
                if is_alt:
                    break  # inside a background subtree only its root's error matters
                if adw.drift_detected and node.alt is None:
                    if (
                        error_increased(before, adw.estimation)
                        and self._n_nodes < self.max_nodes
                        and not self._frozen
                    ):
                        node.alt = self._new_leaf(node.depth)
                        self._n_nodes += 1
                        self._record("node_drift", depth=node.depth, error=adw.estimation)
                elif node.alt is not None:
                    decision = swap_decision(adw, node.alt.adwin, self.drift_window)
                    if decision == SWAP:
                        alt = node.alt
                        node.alt = None
                        self._replace(own, sd, alt)
                        self._n_nodes = count_nodes(self._root)
                        self._record(
                            "subtree_swap",
                            depth=node.depth,
                            old_error=adw.estimation,
                            new_error=alt.adwin.estimation,
                        )
                        return  # the rest of the path belongs to the replaced subtree
                    if decision == DISCARD:
                        node.alt = None
                        self._n_nodes = count_nodes(self._root)

        if leaf.stats is not None and leaf.since >= (leaf.wait or self.grace_period):
            leaf.since = 0.0
            self._attempt_split(leaf, path[-1][1], path[-1][2], is_alt)

    def _replace(self, owner: Any, side: str, new: Any) -> None:
        if owner is None:
            self._root = new
        else:
            setattr(owner, side, new)

    def _attempt_split(self, leaf: Leaf, owner: Any, side: str, is_alt: bool) -> None:
        if leaf.depth >= self.max_depth:
            leaf.stats = None
            return
        if self._n_nodes + 2 > self.max_nodes:
            return
        stats = leaf.stats
        cand = stats.best_split(self._nf, DEFAULT_Z_GRID, self.min_branch_fraction)
        grace, n = float(self.grace_period), stats.w
        if cand is None or not cand.merit > 0.0:
            leaf.wait = max(grace, min(n, 0.5 * n))
            return
        eps = hoeffding_bound(label_set_range(len(leaf.keys)), self.delta, n)
        gap = cand.merit - cand.second_merit
        if not (gap > eps or eps < self.tau):
            # eps shrinks as 1 / sqrt(weight): the test cannot pass before the weight reaches
            # n (eps / gap)^2 (or n (eps / tau)^2) unless the gap grows, so wait half of that
            # distance, at least a grace period and at most the weight seen (an attempt is
            # O(features x labels x thresholds); the leaf still learns meanwhile)
            target = math.inf
            if gap > 0.0:
                target = n * (eps / gap) ** 2
            if self.tau > 0.0:
                target = min(target, n * (eps / self.tau) ** 2)
            leaf.wait = max(grace, min(n, 0.5 * (target - n)))
            return
        depth = leaf.depth + 1
        left = self._new_leaf(depth, leaf.model.spawn(cand.left_pos, cand.left_w))
        right = self._new_leaf(depth, leaf.model.spawn(cand.right_pos, cand.right_w))
        # the children judge naive Bayes again (their statistics start afresh)
        left.model.mask = right.model.mask = leaf.model.mask.copy()
        left.model.mask[NB] = right.model.mask[NB] = "naive_bayes" in self._cfg.candidates
        left.model.nb_on = right.model.nb_on = bool(left.model.mask[NB])
        if left.model.mask[NB] and self._cfg.nb_calibration > 0:  # and calibrate it afresh
            left.model.nbc, right.model.nbc = new_calibration(self._L), new_calibration(self._L)
        feature = int(self._gof[cand.feature])  # nodes route on global column ids
        split = Split(
            leaf.depth,
            feature,
            cand.kind,
            cand.threshold,
            cand.missing_left,
            left,
            right,
            leaf.adwin,
        )
        split.alt = leaf.alt
        self._replace(owner, side, split)
        self._n_nodes += 2
        self._record(
            "node_split",
            depth=leaf.depth,
            feature=feature,
            test="x == 0" if cand.kind == 0 else "x <= threshold",
            threshold=cand.threshold,
            merit=cand.merit,
            epsilon=eps if math.isfinite(eps) else None,
            background=is_alt,
        )

    def _record(self, event: str, **detail: Any) -> None:
        detail["n"] = self._n
        self._events.append((event, detail))


class _Ctx:
    """What every node on an instance's path needs (computed once per instance)."""

    __slots__ = (
        "idx", "val", "missing", "xs", "x2", "mom", "y", "on", "w", "key", "lookup", "miss",
        "batch", "rows", "gidx", "gval", "gmissing",
    )  # fmt: skip

    def __init__(
        self,
        idx: np.ndarray,
        val: np.ndarray,
        missing: np.ndarray,
        xs: np.ndarray,
        x2: float,
        y: np.ndarray,
        on: np.ndarray,
        w: float,
        key: bytes,
        batch: bool,
        rows: slice | None,
    ) -> None:
        self.idx = idx
        self.val = val
        self.missing = missing
        self.xs = xs
        self.x2 = x2
        self.y = y
        self.on = on
        self.w = w
        self.key = key
        self.batch = batch
        self.rows = rows  # slice(0, n) when idx is arange(n) (see _dense_rows)
        self.mom = None
        self.lookup = None
        self.miss = _EMPTY
