"""The decision layer: from per-label probabilities to the predicted label set.

This module owns :class:`ThresholdSelector`, which learns one decision threshold per label,
prequentially, from the pairs ``(P, y)`` that the model sees in ``learn_one`` (``P`` being the
probabilities the model served for that instance before learning it, ``y`` its true labels). It
owns nothing else: the probabilities come from the cluster learners, and the empty-set fallback
(predict the most probable frequent label set when nothing is predicted) stays in
:class:`ihomer.IHOMER`, which applies it after this layer.

How a threshold is chosen. Per label, the probabilities seen so far are counted in fixed bins
(``EDGES``), positives and negatives apart. A threshold is a bin edge ``t``: the label is predicted
when its probability falls in a bin at or above ``t``. With ``tp(t)`` and ``fp(t)`` the past
true and false positives that threshold would have made, the selector keeps the edge that
maximises ``tp(t) - beta * fp(t) - evidence`` (0 for "never predict the label"), where

* ``beta = 1`` minimises the Hamming loss (predict a bin when it held more positives than
  negatives: the per-label Bayes rule on binned, i.e. calibrated, probabilities);
* ``beta = F / (2 - F)``, with ``F`` the best F1 the label's counts allow, is the F1-optimal rule
  (predict when the calibrated probability exceeds ``F / 2``);
* ``hamming_weight`` mixes the two: ``beta = w + (1 - w) F / (2 - F)``;
* ``evidence`` is the number of net true positives a label must have earned before it is
  predicted at all (it keeps a stream of sparse label sets from guessing rare labels).

With ``hamming_cost`` = ``c`` the selector instead keeps, per label, the edge (or "never") that
maximises ``F1(t) - c * errors(t) / n``: the label's F1 less ``c`` times its share of the Hamming
loss, so that over all labels it maximises macro-F1 - ``c`` x Hamming loss (both sum over labels).
A rare label, whose errors are few, is then cut near its F1-optimal threshold; a frequent one,
where each point of F1 costs as many errors, near the Hamming-optimal one.

A label with fewer than ``min_positives`` positives so far gets the threshold chosen the same
way on the counts pooled over all labels (with ``hamming_cost``: the fixed threshold). Until
``warm`` instances have been learned, the selector predicts ``P > threshold`` (the fixed rule).
Thresholds are re-chosen every ``refit_every`` instances, or every 5% of the instances learned so
far when that is more (so the cost of re-choosing them vanishes on long streams); a prediction
costs one comparison.
"""

from __future__ import annotations

import numpy as np

from ihomer.trees import kernels

__all__ = ["EDGES", "ThresholdSelector"]

#: inner bin edges of the probability counts (bin ``k`` holds ``EDGES[k-1] <= P < EDGES[k]``)
EDGES = np.array(
    [0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]
    + [0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98]
)


class ThresholdSelector:
    """Per-label decision thresholds learned online from past ``(P, y)`` pairs.

    Parameters
    ----------
    hamming_weight
        In [0, 1]: 1 chooses the thresholds that minimise the Hamming loss, 0 those that
        maximise each label's F1, in between a mix (see the module docstring).
    hamming_cost
        None, or ``c >= 0``: choose the thresholds that maximise each label's
        ``F1 - c * errors / n`` instead (``hamming_weight`` and ``evidence`` are then unused).
    evidence
        Net true positives (``tp - beta * fp``) a label must have earned before it is predicted.
    min_positives
        Labels with fewer past positives use the threshold chosen on the pooled counts.
    warm
        Instances learned before the learned thresholds replace ``P > threshold``.
    refit_every
        Fewest instances between two choices of the thresholds (see the module docstring).
    threshold
        The fixed threshold used while warming up.

    Examples
    --------
    >>> import numpy as np
    >>> sel = ThresholdSelector(hamming_weight=1.0, evidence=0.0, warm=10, refit_every=10)
    >>> sel.resize(1)
    >>> for i in range(100):  # P = 0.7 is right only one time in five
    ...     sel.learn(np.array([0.7]), np.array([i % 5 == 0]))
    >>> bool(sel.decide(np.array([0.7]))[0])  # the fixed rule would say True
    False

    """

    def __init__(
        self,
        hamming_weight: float = 0.5,
        evidence: float = 1.0,
        hamming_cost: float | None = None,
        min_positives: int = 5,
        warm: int = 20,
        refit_every: int = 10,
        threshold: float = 0.5,
    ) -> None:
        self.hamming_weight = hamming_weight
        self.evidence = evidence
        self.hamming_cost = hamming_cost
        self.min_positives = min_positives
        self.warm = warm
        self.refit_every = refit_every
        self.threshold = threshold
        self._validate()

    def _init_state(self) -> None:
        self._n = 0
        self._next_refit = self.warm
        # flat counts: index 2 * (label * bins + bin) + positive
        self._counts = np.zeros(0)
        self._cut = np.zeros(0, dtype=np.int64)  # label on when its bin >= _cut
        self._on_from = np.zeros(0)  # label on when P >= _on_from (the edge of _cut)
        self._base = np.zeros(0, dtype=np.int64)  # label * bins
        self._buf_p = np.zeros((_BUFFER, 0))  # pairs learned but not yet counted
        self._buf_y = np.zeros((_BUFFER, 0), dtype=bool)
        self._k = 0

    def _validate(self) -> None:
        def number(name: str) -> float:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
                raise ValueError(f"{name} must be a number, got {v!r}")
            return v

        if not 0 <= number("hamming_weight") <= 1:
            raise ValueError(f"hamming_weight must be in [0, 1], got {self.hamming_weight!r}")
        if self.hamming_cost is not None and not number("hamming_cost") >= 0:
            raise ValueError(f"hamming_cost must be None or >= 0, got {self.hamming_cost!r}")
        if not number("evidence") >= 0:
            raise ValueError(f"evidence must be >= 0, got {self.evidence!r}")
        if not 0 < number("threshold") < 1:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold!r}")
        for name, low in (("min_positives", 0), ("warm", 0), ("refit_every", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")

    # ----------------------------------------------------------------- state
    @property
    def n_learned(self) -> int:
        """Pairs learned so far."""
        return self.__dict__.get("_n", 0)

    @property
    def thresholds(self) -> np.ndarray:
        """Per label, the smallest probability predicted as on (1.0: never; the fixed threshold
        while warming up)."""
        if self.n_learned < self.warm:
            return np.full(len(self._cut), self.threshold)
        return np.minimum(self._on_from, 1.0)

    def resize(self, n_labels: int) -> None:
        """Grow to ``n_labels`` labels (new labels start with no counts); call it before the
        first ``decide`` or ``learn``."""
        if "_n" not in self.__dict__:
            self._init_state()
        k = n_labels - len(self._cut)
        if k <= 0:
            return
        self._flush()
        self._buf_p = np.zeros((_BUFFER, n_labels))
        self._buf_y = np.zeros((_BUFFER, n_labels), dtype=bool)
        n_bins = len(EDGES) + 1
        self._counts = np.concatenate([self._counts, np.zeros(2 * k * n_bins)])
        self._cut = np.concatenate([self._cut, np.full(k, n_bins, dtype=np.int64)])
        self._base = np.arange(n_labels, dtype=np.int64) * n_bins
        self._on_from = _ON_FROM[self._cut]
        if self._n >= self.warm:
            self._refit()

    def nbytes(self) -> int:
        if "_n" not in self.__dict__:
            return 0
        arrays = (self._counts, self._cut, self._on_from, self._base, self._buf_p, self._buf_y)
        return sum(a.nbytes for a in arrays)

    # ------------------------------------------------------------ decisions
    def decide(self, P: np.ndarray) -> np.ndarray:
        """The labels to predict (boolean array) for the probabilities ``P``."""
        if self._n < self.warm:
            return P > self.threshold
        return P >= self._on_from

    def learn(self, P: np.ndarray, y: np.ndarray) -> None:
        """Count one served prediction ``P`` with its true labels ``y`` (boolean array)."""
        count = kernels.threshold_count
        if count is not None:  # compiled: counted at once (the same counts as _flush)
            try:
                count(self._counts, P, y, _BIN_OF_PERCENT, _LOWER)
            except (TypeError, BufferError):  # not contiguous float64 / bool arrays
                P = np.ascontiguousarray(P, dtype=np.float64)
                count(self._counts, P, np.ascontiguousarray(y, dtype=bool), _BIN_OF_PERCENT,
                      _LOWER)  # fmt: skip
            self._n += 1
            if self._n >= self._next_refit:
                self._refit()
            return
        k = self._k
        self._buf_p[k] = P
        self._buf_y[k] = y
        self._k = k = k + 1
        self._n += 1
        if self._n >= self._next_refit:
            self._refit()
        elif k == _BUFFER:
            self._flush()

    def _flush(self) -> None:
        """Count the buffered pairs (one vectorised pass per ``_BUFFER`` instances)."""
        k = self._k
        if not k:
            return
        # the bin of each probability: a table lookup on floor(100 p) (every edge is a multiple
        # of 0.01), corrected at the edges; the same bins as np.searchsorted(EDGES, p,
        # side="right"), at a tenth of its cost, and the same as the compiled count's
        idx = kernels.threshold_bins(self._buf_p[:k], _BIN_OF_PERCENT, _LOWER)
        idx += self._base
        idx += idx
        idx += self._buf_y[:k]
        self._counts += np.bincount(idx.ravel(), minlength=len(self._counts))
        self._k = 0

    def _refit(self) -> None:
        # next: after refit_every instances, or 5% of those learned so far if that is more
        self._next_refit = self._n + max(self.refit_every, self._n // 20)
        self._flush()
        n_bins = len(EDGES) + 1
        c = self._counts.reshape(-1, n_bins, 2)
        n_labels = c.shape[0]
        # [..., 1], [..., 0]: past true / false positives when the label is on for bins >= j;
        # the last row pools the labels
        cum = np.cumsum(c[:, ::-1], axis=1)[:, ::-1]
        cum = np.concatenate([cum, cum.sum(axis=0, keepdims=True)])
        tp, fp = cum[..., 1], cum[..., 0]
        pos = tp[:, :1]
        f1 = 2.0 * tp / np.maximum(pos + tp + fp, 1.0)  # 0 where the label was never on
        if self.hamming_cost is not None:
            # bins >= j on (j = 0..n_bins-1: 0 is always), or never (n_bins): F1 less the
            # errors' cost
            f1 = np.concatenate([f1, np.zeros((n_labels + 1, 1))], axis=1)
            errors = np.concatenate([fp + (pos - tp), pos], axis=1)
            score = f1 - (self.hamming_cost / max(self._n, 1)) * errors
            cut = np.argmax(score, axis=1)[:n_labels]
            on_from = _ON_FROM[cut]
            # a label with too few positives to judge keeps the fixed threshold
            few = pos[:n_labels, 0] < self.min_positives
            self._cut = cut
            self._on_from = np.where(few, np.nextafter(self.threshold, 1.0), on_from)
            return
        best = f1.max(axis=1, keepdims=True)
        w = self.hamming_weight
        beta = w + (1.0 - w) * best / (2.0 - best)
        score = tp[:, 1:] - beta * fp[:, 1:]  # never predict the lowest bin
        j = np.argmax(score, axis=1)
        # on from the best bin when it earned the evidence, else never
        cut = np.where(score[np.arange(n_labels + 1), j] >= self.evidence, j + 1, n_bins)
        few = pos[:n_labels, 0] < self.min_positives
        self._cut = np.where(few, cut[n_labels], cut[:n_labels])
        self._on_from = _ON_FROM[self._cut]


#: pairs buffered before they are counted
_BUFFER = 32

#: per cut (bin index): the smallest probability in that bin; the last cut (no bin) is never on
_ON_FROM = np.concatenate([[0.0], EDGES, [2.0]])

#: the bin of the probability k / 100 (k = 0..100), and the lower edge of each bin
_BIN_OF_PERCENT = np.searchsorted(EDGES, np.arange(101) / 100.0, side="right")
_LOWER = np.ascontiguousarray(_ON_FROM[:-1])
