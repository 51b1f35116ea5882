"""The life of iHOMER's cluster learners: one learner per cluster of the learning partition, and
what happens to it when the partition or the stream changes.

:class:`ClusterSet` owns the clusters (labels, learner, drift monitor, background learner), the
learners of dissolved clusters that still serve during a handover (legacy learners), and the
recent-instance buffer that warm-starts new learners. It aligns the learners with a new
partition (keep, grow, restrict, or create + warm start + handover), asks them for predictions,
trains them on one instance (handover judging, cluster drift, background swap) and reports every
structural event to the model's :class:`~ihomer.events.EventLog`. It must not know about
features, the label hierarchy or routing decisions (the model passes which clusters to ask and
teach).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ihomer.drift import BackgroundCandidate, ErrorMonitor
from ihomer.events import EventLog
from ihomer.features import SparseRow
from ihomer.learner import ClusterLearner

__all__ = ["Cluster", "ClusterSet"]


class Cluster:
    """One cluster of the learning partition: its labels and its learner."""

    __slots__ = ("labels", "ids", "learner", "monitor", "background", "handover", "n")

    def __init__(self, labels: tuple, ids: np.ndarray, learner: ClusterLearner, monitor) -> None:
        self.labels = labels
        self.ids = ids
        self.learner = learner
        self.monitor = monitor
        self.background: BackgroundCandidate | None = None
        self.handover: Handover | None = None
        self.n = 0


class Legacy:
    """A learner of a dissolved cluster, kept learning its own labels during handovers."""

    __slots__ = ("learner", "ids")

    def __init__(self, learner: ClusterLearner, ids: np.ndarray) -> None:
        self.learner = learner
        self.ids = ids


class Handover:
    """A new cluster still served by the learners its labels came from.

    ``sources`` holds ``(legacy, positions in the legacy learner, positions in the cluster)``;
    ``judge`` compares the served (legacy) error with the new learner's error and ends the
    handover once the new learner is better, or after a bounded number of instances.
    """

    __slots__ = ("sources", "judge")

    def __init__(self, sources: list, judge: BackgroundCandidate) -> None:
        self.sources = sources
        self.judge = judge


def _nbytes(row: SparseRow, ids: np.ndarray) -> int:
    return row.idx.nbytes + row.val.nbytes + ids.nbytes


class ClusterSet:
    """The cluster learners of one model and their lifecycle (see the module docstring).

    Parameters
    ----------
    prototype
        Each new learner is a ``clone()`` of it.
    events
        Where structural events go.
    warm_start
        Recent instances kept to warm-start new learners (0: cold starts).
    n_min
        The model's grace period: bounds of the handover and background-swap tests.
    threshold
        Decision threshold of the learners' probabilities (for their errors).
    cluster_drift_delta
        ADWIN confidence of the per-cluster drift monitors; None: no monitors.
    handover
        Serve a new cluster from the learners its labels came from until it is better.

    Examples
    --------
    >>> from ihomer.events import EventLog
    >>> from ihomer.features import FeatureIndex
    >>> from ihomer.trees import MultiLabelHoeffdingTree
    >>> cs = ClusterSet(MultiLabelHoeffdingTree(), EventLog())
    >>> sources = cs.align([("a", "b")], {"a": 0, "b": 1}, n_labels=2, t=0)
    >>> row = FeatureIndex().encode({"x": 1.0})
    >>> cs.learn(0, row, np.array([True, False]), np.array([False, False]), None, t=0)
    >>> [c.labels for c in cs.clusters], cs.clusters[0].n
    ([('a', 'b')], 1)
    """

    def __init__(
        self,
        prototype: ClusterLearner,
        events: EventLog,
        warm_start: int = 300,
        n_min: int = 200,
        threshold: float = 0.5,
        cluster_drift_delta: float | None = 0.002,
        handover: bool = True,
    ) -> None:
        self.prototype = prototype
        self.events = events
        self.warm_start = warm_start
        self.n_min = n_min
        self.threshold = threshold
        self.cluster_drift_delta = cluster_drift_delta
        self.handover = handover
        self.clusters: list[Cluster] = []
        self.legacy: list[Legacy] = []
        self.recent: collections.deque = collections.deque(maxlen=max(warm_start, 1))
        self._recent_bytes: int | None = 0
        self.n_labels = 0
        self.frozen = False  # over the model's memory budget: see shed()
        self.routed = False  # routed learners learn (and warm-start on) their instances only
        self._handover_ended = False

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_recent_bytes", None)  # (pickled before the running sum)

    # -- memory ----------------------------------------------------------------------------------
    def memory_bytes(self) -> int:
        total = sum(c.learner.memory_bytes() for c in self.clusters)
        total += sum(c.background.learner.memory_bytes() for c in self.clusters if c.background)
        total += sum(lg.learner.memory_bytes() for lg in self.legacy)
        return total + self._recent_nbytes()

    def _recent_nbytes(self) -> int:
        """Bytes of the recent-instance buffer, kept as a running sum (the sum over the buffer
        was 2.5% of the time on 20ng, checked every n_min / 4 instances)."""
        n = self._recent_bytes
        if n is None:
            n = self._recent_bytes = sum(_nbytes(r, ids) for r, ids in self.recent)
        return n

    def shed(self, nbytes: int) -> int:
        """Free about ``nbytes``: end every handover (the legacy learners go), drop the
        background learners, keep a quarter of the warm-start buffer, then let the learners
        shed (largest first). From now on new
        learners are frozen and no handover or background learner starts. Returns the bytes
        freed."""
        before = self.memory_bytes()
        self.frozen = True
        for c in self.clusters:
            c.handover = None
            c.background = None
        self.legacy = []
        if self.recent.maxlen > 1:  # a quarter of the warm-start buffer, the newest
            self.recent = collections.deque(self.recent, maxlen=max(1, self.recent.maxlen // 4))
            self._recent_bytes = None
        freed = before - self.memory_bytes()
        for c in sorted(self.clusters, key=lambda c: c.learner.memory_bytes(), reverse=True):
            if freed >= nbytes:
                break
            freed += c.learner.shed(nbytes - freed)
        return freed

    # -- prediction ------------------------------------------------------------------------------
    def predict(self, row: SparseRow, ask: Sequence[bool] | None = None) -> tuple[list, list]:
        """Per cluster: the served probabilities (legacy learners during a handover) and the
        cluster learner's own; None for the clusters ``ask`` leaves out (None: ask all)."""
        if ask is None:
            own = [c.learner.predict_proba(row) for c in self.clusters]
        else:
            own = [c.learner.predict_proba(row) if a else None for c, a in zip(self.clusters, ask)]
        if not self.legacy:
            return own, own
        legacy: dict[int, np.ndarray] = {}
        served = []
        for c, q in zip(self.clusters, own):
            if c.handover is None or q is None:
                served.append(q)
                continue
            p = q.copy()
            for lg, src, dst in c.handover.sources:
                key = id(lg)
                if key not in legacy:
                    legacy[key] = lg.learner.predict_proba(row)
                p[dst] = legacy[key][src]
            served.append(p)
        return served, own

    # -- learning --------------------------------------------------------------------------------
    def learn_legacy(self, row: SparseRow, ytrue: np.ndarray) -> None:
        """The legacy learners learn their own labels (routed: only where one is present)."""
        for lg in self.legacy:
            y_lg = ytrue[lg.ids]
            if not self.routed or y_lg.any():
                lg.learner.learn(row, y_lg)
                lg.learner.drain_events()

    def learn(
        self,
        k: int,
        row: SparseRow,
        yc: np.ndarray,
        pc: np.ndarray,
        own: np.ndarray | None,
        t: int,
        n_wrong: int | None = None,
    ) -> None:
        """Cluster ``k`` learns one instance: ``yc`` its labels, ``pc`` what was served for
        them (bool), ``own`` its learner's probabilities (None: not asked); ``n_wrong``, when
        the caller knows it, is ``count_nonzero(pc != yc)``."""
        c = self.clusters[k]
        if c.handover is not None:
            q = own if own is not None else c.learner.predict_proba(row)
            err_served = float(np.count_nonzero(pc != yc)) / len(yc)
            err_own = float(np.count_nonzero((q > self.threshold) != yc)) / len(yc)
            verdict = c.handover.judge.score(err_served, err_own)
            if verdict is not None:
                c.handover = None
                self._handover_ended = True
                self.events.record(
                    t, "learner_swap", reason="handover", outcome=verdict,
                    cluster_size=len(c.labels),
                )  # fmt: skip
        elif c.monitor is not None:
            if n_wrong is None:
                n_wrong = int(np.count_nonzero(pc != yc))
            err = float(n_wrong) / len(yc)
            self._local_drift(c, row, yc, err, t)
        c.learner.learn(row, yc)
        c.n += 1
        for kind, detail in c.learner.drain_events():
            self.events.record(t, kind, cluster_size=len(c.labels), **detail)

    def end_instance(self, row: SparseRow, ids: np.ndarray) -> None:
        """After every learner learned: drop the legacy learners no handover needs any more,
        and remember the instance (``ids``: its labels) for warm starts."""
        if self._handover_ended:
            self._handover_ended = False
            self._collect_legacy()
        recent = self.recent
        size = self._recent_nbytes() + _nbytes(row, ids)
        if len(recent) == recent.maxlen:
            size -= _nbytes(*recent[0])  # the oldest goes
        recent.append((row, ids))
        self._recent_bytes = size

    # -- structure -------------------------------------------------------------------------------
    def align(
        self, partition: Iterable[Sequence], label_ids: dict, n_labels: int, t: int
    ) -> list[list[int]]:
        """Align the learners with ``partition`` (label tuples covering every label).

        Unchanged clusters keep their learner; a cluster that only gained brand-new labels keeps
        its learner and grows it; a cluster inside one old cluster gets that learner restricted
        to its labels (:meth:`ClusterLearner.restrict`); any other new cluster gets a fresh
        learner warm-started on the recent-instance buffer, served by the learners its labels
        came from until it is better (handover). Returns, for each new cluster, the positions
        of the old clusters its labels came from (the router re-maps its meta-labels with it).
        """
        self.n_labels = n_labels
        old = {c.labels: c for c in self.clusters}
        old_of = {lab: (c, pos) for c in self.clusters for pos, lab in enumerate(c.labels)}
        assigned = old_of.keys()
        serving = self._serving_sources()
        clusters = []
        for labels in partition:
            labels = tuple(labels)
            ids = np.fromiter((label_ids[lab] for lab in labels), dtype=np.int64)
            c = old.get(labels)
            if c is None:
                known = tuple(lab for lab in labels if lab in assigned)
                prev = old.get(known) if known else None
                if prev is not None and labels[: len(known)] == known:
                    prev.learner.add_labels(len(labels) - len(known))
                    if prev.background is not None:
                        prev.background.learner.add_labels(len(labels) - len(known))
                    prev.labels, prev.ids = labels, ids
                    c = prev
                else:
                    c = self._restricted(labels, ids, old_of, t)
                if c is None:
                    learner = self._new_learner(len(labels))
                    if self.warm_start and self.recent:
                        self._warm_start(learner, ids)
                    c = Cluster(labels, ids, learner, self._monitor())
                    if self.handover and not self.frozen:
                        c.handover = self._handover_for(labels, serving)
            else:
                c.ids = ids
            clusters.append(c)
        pos_of = {id(c): k for k, c in enumerate(self.clusters)}
        sources = []
        for c in clusters:
            k = pos_of.get(id(c))
            if k is not None:
                sources.append([k])
            else:
                sources.append(
                    sorted({pos_of[id(old_of[lab][0])] for lab in c.labels if lab in old_of})
                )
        self.clusters = clusters
        self._collect_legacy()
        return sources

    # -- internals -------------------------------------------------------------------------------
    def _new_learner(self, n_labels: int) -> ClusterLearner:
        learner = self.prototype.clone()
        learner.add_labels(n_labels)
        if self.frozen:
            learner.shed(0)
        return learner

    def _monitor(self) -> ErrorMonitor | None:
        if self.cluster_drift_delta is None:
            return None
        return ErrorMonitor(self.cluster_drift_delta)

    def _warm_start(
        self, learner: ClusterLearner, ids: np.ndarray, last: int | None = None
    ) -> None:
        recent = list(self.recent)
        if last is not None:
            recent = recent[-last:]
        mask = np.zeros(self.n_labels, dtype=bool)
        for row, present in recent:
            mask[present] = True
            yc = mask[ids]
            if not self.routed or yc.any():  # a routed learner learns its cluster's instances
                learner.learn(row, yc)
            mask[present] = False
        learner.drain_events()

    def _restricted(self, labels: tuple, ids: np.ndarray, old_of: dict, t: int) -> Cluster | None:
        """A cluster whose labels all come from one trained old cluster (not in a handover) gets
        that learner restricted to them: it predicts them as before the change, so it
        needs neither a warm start nor a handover. None when that does not apply."""
        src = [old_of.get(lab) for lab in labels]
        if any(s is None for s in src):
            return None
        parent = src[0][0]
        if any(s[0] is not parent for s in src) or parent.n == 0 or parent.handover is not None:
            return None
        learner = parent.learner.restrict(np.array([pos for _, pos in src], dtype=np.int64))
        if learner is None:
            return None
        c = Cluster(labels, ids, learner, self._monitor())
        c.n = parent.n
        self.events.record(
            t, "learner_restricted", cluster_size=len(labels), from_size=len(parent.labels)
        )
        return c

    def _serving_sources(self) -> dict[Any, tuple[Legacy, int]]:
        """Label -> (legacy learner, position) of the learner serving it now."""
        serving: dict[Any, tuple[Legacy, int]] = {}
        for c in self.clusters:
            if c.handover is not None:
                for lg, src, dst in c.handover.sources:
                    for s, d in zip(src.tolist(), dst.tolist()):
                        serving[c.labels[d]] = (lg, s)
            if c.n == 0:
                continue  # an untrained learner serves nothing worth keeping
            lg = Legacy(c.learner, c.ids)
            for pos, lab in enumerate(c.labels):
                serving.setdefault(lab, (lg, pos))
        return serving

    def _handover_for(self, labels: tuple, serving: dict) -> Handover | None:
        groups: dict[int, tuple[Legacy, list, list]] = {}
        for dst, lab in enumerate(labels):
            src = serving.get(lab)
            if src is None:
                continue
            lg, pos = src
            entry = groups.setdefault(id(lg), (lg, [], []))
            entry[1].append(pos)
            entry[2].append(dst)
        if not groups:
            return None
        sources = [
            (lg, np.asarray(s, dtype=np.int64), np.asarray(d, dtype=np.int64))
            for lg, s, d in groups.values()
        ]
        return Handover(sources, self._candidate(None))

    def _candidate(self, learner: ClusterLearner | None) -> BackgroundCandidate:
        return BackgroundCandidate(
            learner, min_instances=max(50, self.n_min // 2), max_instances=5 * self.n_min
        )

    def _collect_legacy(self) -> None:
        seen = {}
        for c in self.clusters:
            if c.handover is not None:
                for lg, _, _ in c.handover.sources:
                    seen[id(lg)] = lg
        self.legacy = list(seen.values())

    def _local_drift(
        self, c: Cluster, row: SparseRow, yc: np.ndarray, err: float, t: int
    ) -> None:
        bg = c.background
        if bg is not None:
            bg_err = float(np.count_nonzero((bg.learner.predict_proba(row) > self.threshold) != yc))
            verdict = bg.score(err, bg_err / len(yc))
            bg.learner.learn(row, yc)
            bg.learner.drain_events()
            if verdict == "swap":
                c.learner, c.background = bg.learner, None
                c.monitor = self._monitor()
                self.events.record(t, "learner_swap", reason="drift", cluster_size=len(c.labels))
            elif verdict == "drop":
                c.background = None
        if c.monitor.update(err) and c.background is None and not self.frozen:
            learner = self._new_learner(len(c.labels))
            if self.warm_start:
                last = min(c.monitor.width, len(self.recent))
                self._warm_start(learner, c.ids, last=last)
            c.background = self._candidate(learner)
            self.events.record(
                t, "cluster_drift", cluster_size=len(c.labels), error=c.monitor.mean
            )
