"""The margin scorer and its blend into the model's probabilities.

This module owns :class:`MarginScorer`, one hinge-loss linear learner per label over the whole
encoded row, trained by Vowpal Wabbit's default update (adaptive, normalised and
importance-invariant, :func:`ihomer.trees.kernels.margin_learn_numpy`), on raw or on
standardised values, and :class:`MarginBlend`, which chooses, on the stream itself, which
scorer's votes the model serves and how much of them: of the model's own probabilities and a few
fixed blends, the one with the lowest Brier score so far; a scorer that trails stops.

The scorer is what Vowpal Wabbit's ``--multilabel_oaa`` does with ``--loss_function hinge``:
on sparse text its per-label margins separate rare words better than the trees' leaf models (on
slashdot it reaches a Hamming loss of 0.040 against the tree's 0.050), while on small dense
streams with raw, uncentred features it is poor (emotions 0.33 against 0.24; 0.23 on
standardised values). The blend lets each stream take what it earns. Rows come encoded
(:class:`ihomer.features.SparseRow`, the model's global column ids, raw values); this module
owns no feature names, no tree and no decision thresholds.

Memory is bounded: the weights and their adaptive rates are ``rows x labels`` doubles, with
``rows`` growing as columns appear up to ``MAX_WEIGHTS / labels``; columns beyond it share rows
(``id % rows``, as Vowpal Wabbit's hashing does).
"""

from __future__ import annotations

import numpy as np

from ihomer.features import SparseRow
from ihomer.trees import kernels
from ihomer.trees.arrays import grow_rows

__all__ = ["MarginScorer", "MarginBlend", "MAX_LABELS", "MAX_WEIGHTS"]

#: the scorer serves streams of fewer labels than this (its cost is rows x labels per row)
MAX_LABELS = 200

#: most weights (rows x labels) the scorer holds; twice this many doubles with the rates
MAX_WEIGHTS = 1 << 21

#: the fewest rows allocated at once
_MIN_ROWS = 64


class MarginScorer:
    """Per-label hinge-loss linear learners on encoded rows (Vowpal Wabbit's default update).

    Parameters
    ----------
    eta
        The learning rate (Vowpal Wabbit's ``-l``), > 0.
    standardise
        Learn on standardised values, ``(x - mean) / sd`` with the mean and the standard
        deviation of the column's past non-zero values (a column whose past values did not vary,
        such as a word indicator, keeps its value; an absent column stays absent). Hinge margins
        on raw, uncentred dense features (audio or biology measurements) are poor; standardised
        they are competitive, while on sparse text and on features already in [0, 1] the raw
        values are better.

    Examples
    --------
    >>> import numpy as np
    >>> from ihomer.features import FeatureIndex
    >>> index, scorer = FeatureIndex(), MarginScorer()
    >>> scorer.resize(2)
    >>> for i in range(20):
    ...     row = index.encode({"goal": 1.0} if i % 2 else {"song": 1.0})
    ...     scorer.learn(row, np.array([i % 2 == 1, i % 2 == 0]))
    >>> scorer.votes(index.encode({"goal": 1.0})).round(2).tolist()  # 1: on, 0: off
    [1.0, 0.0]

    """

    def __init__(self, eta: float = 1.0, standardise: bool = False) -> None:
        if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not eta > 0:
            raise ValueError(f"eta must be a number > 0, got {eta!r}")
        if standardise not in (True, False):
            raise ValueError(f"standardise must be True or False, got {standardise!r}")
        self.eta = float(eta)
        self.standardise = bool(standardise)
        self._moments = np.zeros((0, 3))  # per column: count, sum, sum of squares (non-zeros)
        self._last = None  # (row, idx, values): the standardised view of the last row seen
        self._L = 0
        self._W = np.zeros((0, 0))
        self._G = np.zeros((0, 0))
        self._N = np.zeros(0)
        self._b = np.zeros(0)
        self._Gb = np.zeros(0)
        self._stat = np.zeros(2)  # updates, and their summed normalised squared norms

    @property
    def n_labels(self) -> int:
        return self._L

    @property
    def max_rows(self) -> int:
        """The most rows this scorer grows to at its number of labels."""
        return max(_MIN_ROWS, MAX_WEIGHTS // max(self._L, 1))

    def resize(self, n_labels: int) -> None:
        """Grow to ``n_labels`` labels (a new label's learner starts at zero)."""
        k = n_labels - self._L
        if k <= 0:
            return
        rows, L = self._N.size, self._L
        W, G = np.zeros((rows, n_labels)), np.zeros((rows, n_labels))
        W[:, :L], G[:, :L] = self._W, self._G
        self._W, self._G = W, G
        self._b = np.concatenate([self._b, np.zeros(k)])
        self._Gb = np.concatenate([self._Gb, np.zeros(k)])
        self._L = n_labels

    def _grow(self, top: int) -> None:
        """Rows for column ids up to ``top`` (doubling), at most :attr:`max_rows`."""
        rows = self._N.size
        cap = self.max_rows
        if top < rows or rows >= cap:
            return
        new = min(cap, max(_MIN_ROWS, 2 * rows, 1 << int(top).bit_length()))
        self._W, self._G = grow_rows(self._W, new), grow_rows(self._G, new)
        self._N = grow_rows(self._N, new)

    def _values(self, row: SparseRow) -> tuple[np.ndarray, np.ndarray]:
        """The row as the learners see it: its non-zero columns, standardised with the
        moments of the rows learned before it when ``standardise`` (the last row's view is
        kept: ``learn`` after ``votes`` on the same row reuses it)."""
        idx, val = row.idx, row.val
        if not self.standardise or not idx.size or not self._moments.shape[0]:
            return idx, val
        last = self._last
        if last is not None and last[0] is row:
            return last[1], last[2]
        oi, ov = np.empty(idx.size, dtype=np.int64), np.empty(idx.size)
        k = kernels.margin_standardise(self._moments, idx, val, oi, ov)
        if k != idx.size:
            oi, ov = oi[:k], ov[:k]
        self._last = (row, oi, ov)
        return oi, ov

    def votes(self, row: SparseRow, out: np.ndarray | None = None) -> np.ndarray:
        """Per label, ``(1 + s) / 2`` with ``s`` the learner's score clipped to [-1, 1]: 1 for a
        confident on, 0 for a confident off, 0.5 on the decision boundary (written to ``out``
        when given: a contiguous float64 array of one value per label)."""
        if out is None:
            out = np.empty(self._L)
        idx, val = self._values(row)
        if not self._N.size:
            idx, val = idx[:0], val[:0]
        kernels.margin_votes(self._W, self._b, idx, val, out)
        return out

    def learn(
        self,
        row: SparseRow,
        y: np.ndarray,
        n_columns: int | None = None,
        votes: np.ndarray | None = None,
    ) -> None:
        """One hinge-loss step of every label's learner on ``row``, targets ``y`` (bool);
        ``n_columns``, when given, bounds the row's column ids (saves finding their maximum);
        ``votes``, when given, are :meth:`votes` of this same row since the last ``learn``
        (saves computing the scores again)."""
        top = -1
        if row.idx.size:
            top = int(row.idx.max()) if n_columns is None else n_columns - 1
        idx, val = self._values(row)
        if idx.size:
            self._grow(top)
        kernels.margin_learn(
            self._W, self._G, self._N, self._b, self._Gb, self._stat, idx, val,
            np.ascontiguousarray(y, dtype=bool), self.eta, votes,
        )  # fmt: skip
        if self.standardise and row.idx.size:
            self._last = None  # (the moments move: a view of this row is stale)
            m = self._moments
            if top >= m.shape[0]:
                self._moments = m = grow_rows(m, max(_MIN_ROWS, 2 * m.shape[0], top + 1))
            kernels.margin_moments(m, row.idx, row.val)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_last"] = None  # (a reference to the caller's row)
        return state

    def nbytes(self) -> int:
        arrays = (self._W, self._G, self._N, self._b, self._Gb, self._stat, self._moments)
        return sum(a.nbytes for a in arrays)


class MarginBlend:
    """Which scorer's votes, and how much of them, the model serves, chosen on the stream.

    The candidates are the model's probabilities ``P`` alone and, for each scorer ``j`` (of
    ``n_scorers``) and each non-zero weight ``w`` of ``weights``, the blend ``(1 - w) P + w
    q_j`` (``q_j`` the scorer's votes). The one served has the lowest Brier score (squared error
    summed over labels) over the instances learned so far; the first (``P`` alone when 0 is a
    weight) while there is a tie, before any instance.

    A scorer stops (:attr:`active`; its votes are no longer needed, and the model frees it) from
    ``JUDGE_AFTER`` instances on, checked every ``JUDGE_EVERY``, when its best blend's Brier
    score trails the best candidate's by more than ``DROP_GAP`` (relative), or when its blends
    have scored exactly as another active scorer's (the same votes: a standardising scorer on
    indicator features). On the development suite every such stop at 200 instances agreed with
    the ranking at the end of the stream.

    Parameters
    ----------
    weights
        The candidate weights, each in [0, 1].
    n_scorers
        How many scorers' votes are blended (>= 1).

    Examples
    --------
    >>> import numpy as np
    >>> blend = MarginBlend((0.0, 0.5), n_scorers=2)
    >>> P, votes = np.array([0.5]), np.array([[0.0], [1.0]])
    >>> for _ in range(10):  # the second scorer's votes are right
    ...     blend.learn(P, votes, np.array([True]))
    >>> blend.choice
    (1, 0.5)
    >>> blend.mix(P, votes).tolist()
    [0.75]

    """

    def __init__(self, weights: tuple[float, ...] = (0.0, 0.3, 0.5), n_scorers: int = 1) -> None:
        w = tuple(weights) if isinstance(weights, (tuple, list)) else None
        if not w or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0
            for v in w
        ):
            raise ValueError(
                f"weights must be a non-empty tuple of numbers in [0, 1], got {weights!r}"
            )
        if isinstance(n_scorers, bool) or not isinstance(n_scorers, int) or n_scorers < 1:
            raise ValueError(f"n_scorers must be an integer >= 1, got {n_scorers!r}")
        self.weights = w
        self.n_scorers = n_scorers
        # candidates in order: (scorer, weight), scorer -1 for P alone (where 0 is a weight)
        cands = []
        for v in w:
            if v == 0.0:
                if (-1, 0.0) not in cands:
                    cands.append((-1, 0.0))
            else:
                cands.extend((j, float(v)) for j in range(n_scorers))
        self._cands = cands
        self._src = np.array([j for j, _ in cands], dtype=np.int64)
        self._w = np.array([v for _, v in cands], dtype=np.float64)
        self._loss = np.zeros(len(cands))
        self._k = 0
        self._n = 0
        self._active = [True] * n_scorers

    #: instances before a scorer may stop, and between two checks
    JUDGE_AFTER = 200
    JUDGE_EVERY = 100
    #: relative Brier score by which a scorer's best blend must trail the best to stop it
    DROP_GAP = 0.05

    @property
    def active(self) -> tuple[bool, ...]:
        """Per scorer, whether its votes still compete (a stopped one never returns)."""
        return tuple(self._active)

    @property
    def choice(self) -> tuple[int, float]:
        """The candidate served now: (scorer, weight); scorer -1 is ``P`` alone."""
        return self._cands[self._k]

    @property
    def losses(self) -> np.ndarray:
        """Per candidate (in the order of :attr:`candidates`), its Brier score summed over the
        instances learned (a copy)."""
        return self._loss.copy()

    @property
    def candidates(self) -> list[tuple[int, float]]:
        return list(self._cands)

    def mix(self, P: np.ndarray, votes: np.ndarray) -> np.ndarray:
        """The served probabilities: ``(1 - w) P + w votes[j]`` for the current candidate
        (``P`` itself for ``P`` alone, else a new array); ``votes`` is scorers x labels."""
        j, w = self._cands[self._k]
        if j < 0:
            return P
        out = votes[j] - P
        out *= w
        out += P
        return out

    def learn(self, P: np.ndarray, votes: np.ndarray, y: np.ndarray) -> None:
        """Score every candidate on the true labels ``y`` (bool; ``votes`` as in :meth:`mix`,
        any finite values in the rows of stopped scorers)."""
        self._k = kernels.margin_blend_learn(P, votes, y, self._src, self._w, self._loss)
        self._n += 1
        n = self._n
        if n >= self.JUDGE_AFTER and (n - self.JUDGE_AFTER) % self.JUDGE_EVERY == 0:
            self._judge()

    def _judge(self) -> None:
        loss, src = self._loss, self._src
        best = float(loss.min())
        has_alone = bool((src < 0).any())
        for j in range(self.n_scorers):
            if not self._active[j]:
                continue
            mine = loss[src == j]
            trails = float(mine.min()) > best * (1.0 + self.DROP_GAP)
            same = any(
                self._active[i] and np.array_equal(mine, loss[src == i]) for i in range(j)
            )
            if (trails or same) and (has_alone or sum(self._active) > 1):
                self._active[j] = False
                loss[src == j] = np.inf
        self._k = int(loss.argmin())

    def nbytes(self) -> int:
        return self._src.nbytes + self._w.nbytes + self._loss.nbytes
