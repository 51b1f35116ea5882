"""The structural-event log: one place where every split, merge, re-partition, subtree swap and
drift is recorded as data.

Metrics (the daemon's Prometheus counters), plots (the benchmark) and tests read this log; nothing
in the model prints. The log is bounded (a deque) while the per-kind counters are exact.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["StructuralEvent", "EventLog", "EVENT_KINDS"]

#: The kinds of event, and the level (global / local) each belongs to.
EVENT_KINDS: dict[str, str] = {
    "cluster_split": "global",  # ODAC split of a label cluster
    "cluster_merge": "global",  # ODAC aggregation (children dropped, parent re-activated)
    "repartition": "global",  # the refined partition used for learning changed
    "global_drift": "global",  # ADWIN on the instance-level error fired
    "label_added": "global",  # a label was seen for the first time
    "cluster_drift": "local",  # ADWIN on one cluster's error fired (background learner started)
    "learner_swap": "local",  # a cluster's background learner replaced the active one
    "learner_restricted": "global",  # a new cluster inherited its old cluster's learner, restricted
    "node_drift": "local",  # ADWIN inside a cluster tree fired (background subtree started)
    "subtree_swap": "local",  # a background subtree replaced its node
    "node_split": "local",  # a cluster tree grew (a leaf was split)
    "memory_cap": "global",  # the model reached its memory budget and shed split statistics
}


@dataclass(frozen=True)
class StructuralEvent:
    """One event: ``n`` is the number of instances learned when it happened."""

    n: int
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def level(self) -> str:
        return EVENT_KINDS.get(self.kind, "local")


class EventLog:
    """A bounded log of :class:`StructuralEvent` with exact per-kind counts.

    Examples
    --------
    >>> log = EventLog(maxlen=2)
    >>> seen = []
    >>> log.subscribe(seen.append)
    >>> for n in range(3):
    ...     _ = log.record(n, "cluster_split", size=2)
    >>> log.counts["cluster_split"], len(log.events), len(seen)
    (3, 2, 3)
    """

    def __init__(self, maxlen: int = 10_000) -> None:
        self.maxlen = maxlen
        self.events: deque[StructuralEvent] = deque(maxlen=maxlen)
        self.counts: Counter[str] = Counter()
        self._subscribers: list[Callable[[StructuralEvent], None]] = []

    def record(self, n: int, kind: str, /, **detail: Any) -> StructuralEvent:
        event = StructuralEvent(n, kind, detail)
        self.events.append(event)
        self.counts[kind] += 1
        for callback in self._subscribers:
            callback(event)
        return event

    def subscribe(self, callback: Callable[[StructuralEvent], None]) -> None:
        """Call ``callback(event)`` on every new event (not kept across pickling)."""
        self._subscribers.append(callback)

    def unsubscribe(self, callback: Callable[[StructuralEvent], None]) -> None:
        """Stop calling ``callback`` (no error if it was not subscribed)."""
        try:
            self._subscribers.remove(callback)
        except ValueError:
            pass

    def of_kind(self, *kinds: str) -> list[StructuralEvent]:
        return [e for e in self.events if e.kind in kinds]

    def __len__(self) -> int:
        return len(self.events)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_subscribers"] = []
        return state
