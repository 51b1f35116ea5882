"""What the network may make the model hold: limits on features and labels, per record and overall.

This module owns :class:`Limits`, the admission check run on every decoded record before the model
sees it: features per record, labels per record, and *new* features and labels per time window
and in total (a feature is its name for numbers and nulls, ``name=value`` for strings: the model
one-hot encodes those). A record over a limit is refused with a :class:`LimitExceeded` naming the
limit (a bounded category for the dead-letter topic and the metrics); an admitted record's new
names are remembered. The remembered names travel in the checkpoint, so the totals survive
restarts. It must not know about Kafka, the model or metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Limits", "LimitSettings", "LimitExceeded", "LIMIT_CATEGORIES"]

#: Dead-letter categories of the limits (bounded: usable as a metric label).
LIMIT_CATEGORIES = ("too_many_features", "too_many_labels", "feature_budget", "label_budget")


class LimitExceeded(Exception):
    """A record over a limit: ``category`` (one of :data:`LIMIT_CATEGORIES`) and ``reason``."""

    def __init__(self, category: str, reason: str) -> None:
        super().__init__(reason)
        self.category, self.reason = category, reason


@dataclass(frozen=True)
class LimitSettings:
    """The limits (0 means no limit for that one).

    Parameters
    ----------
    features_per_record, labels_per_record
        Keys of ``features`` / ``labels`` in one record.
    new_features_per_window, new_labels_per_window
        Features / labels never seen before, admitted per ``window_s`` seconds.
    features_total, labels_total
        Distinct features / labels admitted over the model's life.
    window_s
        Length of the rate window in seconds.
    """

    features_per_record: int = 1000
    labels_per_record: int = 100
    new_features_per_window: int = 1000
    new_labels_per_window: int = 100
    features_total: int = 10000
    labels_total: int = 1000
    window_s: float = 60.0


class Limits:
    """Admission of records against :class:`LimitSettings`; remembers admitted names.

    Examples
    --------
    >>> lim = Limits(LimitSettings(features_per_record=2, features_total=3))
    >>> lim.admit({"a": 1.0, "c": "red"}, {"l1": True})
    >>> sorted(lim.features), sorted(lim.labels)
    (['a', 'c=red'], ['l1'])
    >>> lim.admit({"a": 1, "b": 2, "d": 3}, None)
    Traceback (most recent call last):
    ...
    ihomer.serve.limits.LimitExceeded: 3 features, over the limit of 2 per record
    >>> lim.admit({"b": 1.0, "d": 2.0}, {})
    Traceback (most recent call last):
    ...
    ihomer.serve.limits.LimitExceeded: 2 new features would make 4 distinct, over the total of 3
    """

    def __init__(
        self, settings: LimitSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.features: set[str] = set()
        self.labels: set[str] = set()
        self._window_start = clock()
        self._window_features = 0
        self._window_labels = 0

    # ------------------------------------------------------------------ checks
    def check_request(self, x: dict) -> None:
        """A request teaches nothing: only its size in features is limited."""
        cap = self.settings.features_per_record
        if cap and len(x) > cap:
            raise LimitExceeded(
                "too_many_features", f"{len(x)} features, over the limit of {cap} per record"
            )

    def admit(self, x: dict, y: dict | None) -> None:
        """Check a labelled record (``y``) or a request (``y`` None); remember its new names.

        Raises :class:`LimitExceeded` and remembers nothing when a limit is passed.
        """
        self.check_request(x)
        if y is not None:
            self._admit(y, self._new_features(x))

    def admit_known(self, n_features: int, y: dict) -> None:
        """:meth:`admit` for a labelled record of ``n_features`` features that are all admitted
        already (the learner's fetch process encoded it, and every name was found here): the
        same checks, with no feature to remember.

        >>> lim = Limits(LimitSettings(features_per_record=2, labels_total=1))
        >>> lim.admit({"a": 1.0}, {"l": True})
        >>> lim.admit_known(1, {"l": False})
        >>> lim.admit_known(3, {"l": True})
        Traceback (most recent call last):
        ...
        ihomer.serve.limits.LimitExceeded: 3 features, over the limit of 2 per record
        >>> lim.admit_known(1, {"m": True})
        Traceback (most recent call last):
        ...
        ihomer.serve.limits.LimitExceeded: 1 new labels would make 2 distinct, over the total of 1
        """
        cap = self.settings.features_per_record
        if cap and n_features > cap:
            raise LimitExceeded(
                "too_many_features", f"{n_features} features, over the limit of {cap} per record"
            )
        self._admit(y, [])

    def _admit(self, y: dict, new_f: list[str]) -> None:
        s = self.settings
        if s.labels_per_record and len(y) > s.labels_per_record:
            raise LimitExceeded(
                "too_many_labels",
                f"{len(y)} labels, over the limit of {s.labels_per_record} per record",
            )
        new_l = [lab for lab in y if lab not in self.labels] if len(y) else []
        if not new_f and not new_l:
            return
        now = self.clock()
        if now - self._window_start >= s.window_s:
            self._window_start, self._window_features, self._window_labels = now, 0, 0
        self._budget("feature", len(new_f), len(self.features), self._window_features,
                     s.new_features_per_window, s.features_total)  # fmt: skip
        self._budget("label", len(new_l), len(self.labels), self._window_labels,
                     s.new_labels_per_window, s.labels_total)  # fmt: skip
        self.features.update(new_f)
        self.labels.update(new_l)
        self._window_features += len(new_f)
        self._window_labels += len(new_l)

    def _new_features(self, x: dict) -> list[str]:
        known = self.features
        for v in x.values():  # stops at the first nominal value (faster than a set of types)
            if type(v) is str:
                break
        else:  # no nominal values: names only
            return [] if known.issuperset(x) else list(x.keys() - known)
        new = [k for k in x.keys() - known if type(x[k]) is not str]
        for k, v in x.items():
            if type(v) is str:
                name = f"{k}={v}"
                if name not in known:
                    new.append(name)
        return new

    def _budget(self, what: str, n_new: int, n_known: int, in_window: int, per_window: int,
                total: int) -> None:  # fmt: skip
        if not n_new:
            return
        if per_window and in_window + n_new > per_window:
            raise LimitExceeded(
                f"{what}_budget",
                f"{n_new} new {what}s would make {in_window + n_new} in this "
                f"{self.settings.window_s:g} s window, over the limit of {per_window}",
            )
        if total and n_known + n_new > total:
            raise LimitExceeded(
                f"{what}_budget",
                f"{n_new} new {what}s would make {n_known + n_new} distinct, over the total "
                f"of {total}",
            )

    # ------------------------------------------------------------------ state
    def state(self) -> dict:
        """Plain data for the checkpoint (the remembered names)."""
        return {"features": sorted(self.features), "labels": sorted(self.labels)}

    def restore(self, state: dict | None) -> None:
        if state:
            self.features = set(state.get("features", ()))
            self.labels = set(state.get("labels", ()))
