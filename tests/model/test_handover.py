"""After a re-partition, a new cluster is served by the learners its labels came from until its
own learner is better (or a bounded number of instances has passed)."""

from __future__ import annotations

import numpy as np

from ihomer import IHOMER
from streams.synth import Drift, LabelClusterStream


def _stream():
    return LabelClusterStream(
        n_features=20,
        n_labels=12,
        n_clusters=3,
        drifts=(Drift(at=3000, kind="labels"),),
        n_instances=6000,
        seed=3,
    )


def test_new_clusters_are_served_by_the_learners_their_labels_came_from():
    # (no margin blend: what is served is then the learners' probabilities themselves)
    model = IHOMER(seed=0, n_min=100, partitioning="hierarchy", margin_blend=None)
    checked = 0
    data = list(_stream())
    for i, (x, y) in enumerate(data[:-1]):
        version = model._version if model.n_learned else None
        model.learn_one(x, y)
        if version is None or model._version == version or model.n_learned < 500:
            continue
        nxt = data[i + 1][0]
        proba = model.predict_proba_one(nxt)
        row = model._features.encode(nxt, grow=False)
        for c in model._clusters:
            if c.handover is None:
                continue
            for lg, src, dst in c.handover.sources:
                expected = lg.learner.predict_proba(row)[src]
                served = np.array([proba[c.labels[d]][True] for d in dst])
                np.testing.assert_allclose(served, expected)
                checked += 1
    assert checked > 0, "the stream must cause at least one re-partition after training"


def test_handovers_end_within_their_bound():
    model = IHOMER(seed=0, n_min=100, partitioning="hierarchy")
    last_change, version = 0, None
    for i, (x, y) in enumerate(_stream()):
        model.predict_one(x)
        model.learn_one(x, y)
        if model._version != version:
            last_change, version = i, model._version
    assert model.n_learned - last_change > 5 * model.n_min, "stream too short for this check"
    assert all(c.handover is None for c in model._clusters)
    assert model._legacy == []
    swaps = [
        e for e in model.events.of_kind("learner_swap") if e.detail.get("reason") == "handover"
    ]
    assert swaps, "handovers must have happened and ended"


def test_a_cluster_inside_an_old_one_inherits_its_learner_restricted(monkeypatch):
    """A new cluster whose labels all come from one trained old cluster (not itself in a handover)
    gets that learner restricted: its labels are predicted as before the change, with neither
    warm start nor handover."""
    probe = next(iter(_stream()))[0]
    checked = []
    rebuild = IHOMER._rebuild

    def spy(self):
        olds = {c.labels: c for c in self._clusters}
        if not olds or not self._labels or self._n == 0:
            return rebuild(self)
        before = self._proba(probe)
        n_events = self._events.counts.get("learner_restricted", 0)
        rebuild(self)
        after = self._proba(probe)
        new = [c for c in self._clusters if c.labels not in olds]
        inherited = [c for c in new if c.handover is None and c.n > 0]
        assert len(inherited) == self._events.counts.get("learner_restricted", 0) - n_events
        for c in inherited:
            assert any(set(c.labels) <= set(o) for o in olds)
            np.testing.assert_allclose(after[c.ids], before[c.ids], rtol=1e-12, atol=1e-15)
            checked.append(c.labels)

    monkeypatch.setattr(IHOMER, "_rebuild", spy)
    model = IHOMER(seed=0, n_min=100, partitioning="hierarchy")
    for x, y in _stream():
        model.predict_one(x)
        model.learn_one(x, y)
    assert checked, "the stream must split a trained cluster at least once"
