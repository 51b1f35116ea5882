"""Recovery of planted label clusters, before and after an abrupt change of the label structure.

Defaults only (``LabelSpace()``): the partition must match the planted one with adjusted Rand
index >= 0.9 within 2,000 instances, and match the new structure within 3,000 instances after the
change, with no drift signal from outside (no ``check_now`` / ``speed_up_fading``).
"""

from __future__ import annotations

import numpy as np
import pytest

from ihomer.labels import LabelSpace
from streams.partition_metrics import adjusted_rand_index

DRIFT = 4000
END = DRIFT + 4000


def planted(n_labels: int, n_clusters: int, seed: int, within: float = 0.9, between: float = 0.05):
    """Label sets (lists of "l<i>") with planted clusters, and the two partitions (before/after)."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(2):
        assign = np.arange(n_labels) % n_clusters
        rng.shuffle(assign)
        parts.append(assign)
    sets = []
    for t in range(END):
        assign = parts[t >= DRIFT]
        active = {int(rng.integers(n_clusters))}
        if rng.random() < between:
            active.add(int(rng.integers(n_clusters)))
        on = np.isin(assign, list(active)) & (rng.random(n_labels) < within)
        if not on.any():
            on[rng.choice(np.flatnonzero(assign == next(iter(active))))] = True
        sets.append([f"l{i}" for i in np.flatnonzero(on)])
    truth = [
        [[f"l{i}" for i in np.flatnonzero(a == c)] for c in range(n_clusters)] for a in parts
    ]
    return sets, truth


def run(sets, truth_at) -> tuple[list[float], list[float]]:
    space = LabelSpace()
    before, after = [], []
    for t, y in enumerate(sets):
        space.learn(y)
        if (t + 1) % 250 == 0:
            ari = adjusted_rand_index(truth_at(t), space.partition)
            if 2000 <= t + 1 <= DRIFT:
                before.append(ari)
            elif t + 1 >= DRIFT + 3000:
                after.append(ari)
    space.check_invariant()
    return before, after


@pytest.mark.parametrize("n_labels, n_clusters", [(12, 3), (20, 4)])
@pytest.mark.parametrize("seed", range(5))
def test_planted_clusters_recovered_and_re_recovered(n_labels, n_clusters, seed):
    sets, truth = planted(n_labels, n_clusters, seed)
    assert adjusted_rand_index(truth[0], truth[1]) < 0.5  # the change is real
    before, after = run(sets, lambda t: truth[t >= DRIFT])
    assert min(before) >= 0.9, before
    assert min(after) >= 0.9, after


@pytest.mark.parametrize("n_labels, n_clusters", [(12, 3), (20, 4)])
@pytest.mark.parametrize("seed", range(5))
def test_label_cluster_stream(n_labels, n_clusters, seed):
    synth = pytest.importorskip("streams.synth")
    stream = synth.LabelClusterStream(
        n_features=20, n_labels=n_labels, n_clusters=n_clusters, n_instances=END,
        drifts=(synth.Drift(at=DRIFT, kind="labels"),), seed=seed,
    )
    sets = [[lab for lab, on in y.items() if on] for _, y in stream]
    assert adjusted_rand_index(stream.partition_at(0), stream.partition_at(DRIFT)) < 0.5
    before, after = run(sets, stream.partition_at)
    assert min(before) >= 0.9, before
    assert min(after) >= 0.9, after


@pytest.mark.parametrize("seed", range(2))
def test_drift_reaction_without_fading(seed):
    # Without fading the statistics since activation remember the old structure for long: ODAC
    # alone has not recovered 3,000 instances after the change. The model's reaction to a global
    # drift (forget most of the past, re-check now) does.
    sets, truth = planted(20, 4, seed)
    scores = {}
    for react in (False, True):
        space = LabelSpace(fading=1.0)
        for t, y in enumerate(sets[: DRIFT + 3000]):
            space.learn(y)
            if react and t == DRIFT + 300:  # as if a drift detector fired 300 instances late
                space.speed_up_fading(0.05)
                space.check_now()
        scores[react] = adjusted_rand_index(truth[1], space.partition)
    assert scores[True] >= 0.9 and scores[False] < 0.9, scores
