"""The two drift levels of iHOMER, as small monitors the model owns.

* **Global**: :class:`ErrorMonitor` on the instance-level error (1 - example-based F1). When it
  fires,
  the model re-checks the label hierarchy now and fades label statistics faster (see
  :meth:`ihomer.labels.LabelSpace.check_now`).
* **Local, per cluster**: an :class:`ErrorMonitor` on the cluster's Hamming error. When it fires,
  a :class:`BackgroundCandidate` learner starts (warm-started on recent instances) and replaces the
  cluster's learner once it is measurably better; node-level drift lives inside the cluster trees.

Every reaction is recorded in the model's :class:`ihomer.events.EventLog`; this module only
detects and compares, it never prints.
"""

from __future__ import annotations

from river import drift

__all__ = ["ErrorMonitor", "BackgroundCandidate", "instance_error"]


def instance_error(n_true: int, n_pred: int, n_both: int) -> float:
    """1 - example-based F1 of one instance (0 when both sets are empty).

    >>> instance_error(2, 2, 2), instance_error(0, 0, 0), instance_error(1, 0, 0)
    (0.0, 0.0, 1.0)
    """
    denom = n_true + n_pred
    if denom == 0:
        return 0.0
    return 1.0 - 2.0 * n_both / denom


class ErrorMonitor:
    """ADWIN over a bounded error signal (instance or cluster error).

    Examples
    --------
    >>> m = ErrorMonitor(delta=0.002)
    >>> fired = [m.update(0.0 if i < 500 else 1.0) for i in range(1000)]
    >>> any(fired[500:]), any(fired[:500])
    (True, False)
    """

    def __init__(self, delta: float = 0.002) -> None:
        if not 0 < delta < 1:
            raise ValueError(f"delta must be in (0, 1), got {delta}")
        self.delta = delta
        self._adwin = drift.ADWIN(delta=delta)

    def update(self, error: float) -> bool:
        """Add one error value; returns True when a change is detected."""
        self._adwin.update(error)
        return bool(self._adwin.drift_detected)

    @property
    def mean(self) -> float:
        """ADWIN's current window mean (the error since the last change)."""
        return float(self._adwin.estimation)

    @property
    def width(self) -> int:
        return int(self._adwin.width)


class BackgroundCandidate:
    """Tracks a replacement learner grown after a local drift, and decides the swap.

    The candidate is trained alongside the active learner; both are scored prequentially on the
    same instances. The swap happens once the candidate has seen ``min_instances`` and its faded
    error is lower by ``margin``; after ``max_instances`` without winning it is dropped.

    >>> c = BackgroundCandidate(learner=None, min_instances=3, max_instances=10)
    >>> [c.score(active_error=0.5, candidate_error=0.1) for _ in range(4)]
    [None, None, 'swap', 'swap']
    """

    def __init__(
        self,
        learner: object,
        min_instances: int = 100,
        max_instances: int = 1000,
        margin: float = 0.01,
        fading: float = 0.98,
    ) -> None:
        self.learner = learner
        self.min_instances = min_instances
        self.max_instances = max_instances
        self.margin = margin
        self.fading = fading
        self.n = 0
        self._active = 0.0
        self._candidate = 0.0
        self._weight = 0.0

    def score(self, active_error: float, candidate_error: float) -> str | None:
        """Record one instance's errors; returns ``"swap"``, ``"drop"`` or None (keep going)."""
        self.n += 1
        self._weight = self.fading * self._weight + 1.0
        self._active += (active_error - self._active) / self._weight
        self._candidate += (candidate_error - self._candidate) / self._weight
        if self.n >= self.min_instances and self._candidate + self.margin < self._active:
            return "swap"
        if self.n >= self.max_instances:
            return "drop"
        return None
