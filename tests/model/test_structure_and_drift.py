"""iHOMER on the planted-cluster generator: the label partition is recovered, re-learned after a
change of label structure, and the error recovers faster after concept drift with drift detection
than without it."""

from __future__ import annotations

import numpy as np
import pytest

from ihomer import IHOMER
from ihomer.drift import instance_error
from streams.partition_metrics import adjusted_rand_index
from streams.synth import Drift, LabelClusterStream

SEEDS = [0, 1, 2, 3, 4]


def _run_partitions(model, stream, checkpoints):
    """Learn the stream prequentially; the model's partition at each checkpoint position."""
    out = {}
    for i, (x, y) in enumerate(stream, start=1):
        model.predict_one(x)
        model.learn_one(x, y)
        if i in checkpoints:
            out[i] = model.partition
    return out


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_planted_partition_recovered_and_relearned_after_structure_change(seed):
    change = 2500
    stream = LabelClusterStream(
        n_features=20,
        n_labels=12,
        n_clusters=3,
        drifts=(Drift(at=change, kind="labels"),),
        n_instances=change + 3000,
        seed=seed,
    )
    parts = _run_partitions(IHOMER(seed=seed), stream, {2000, change + 3000})
    before = adjusted_rand_index(parts[2000], stream.partition_at(1999))
    after = adjusted_rand_index(parts[change + 3000], stream.partition_at(change + 2999))
    old_vs_new = adjusted_rand_index(stream.partition_at(0), stream.partition_at(change + 10))
    assert old_vs_new < 0.5, "the generator's structure change must be a real change"
    assert before >= 0.9, f"seed {seed}: ARI {before:.3f} after 2,000 instances"
    assert after >= 0.9, f"seed {seed}: ARI {after:.3f} 3,000 instances after the change"


def _windowed_error(model, stream, window):
    errors = []
    for x, y in stream:
        pred = model.predict_one(x)
        true = {k for k, v in y.items() if v}
        on = {k for k, v in pred.items() if v}
        errors.append(instance_error(len(true), len(on), len(true & on)))
        model.learn_one(x, y)
    e = np.asarray(errors)
    return e[: len(e) // window * window].reshape(-1, window).mean(axis=1)


def _recovery_windows(curve, drift_window, pre_windows=4):
    pre = curve[drift_window - pre_windows : drift_window].mean()
    for k, err in enumerate(curve[drift_window:]):
        if err <= 1.1 * pre:
            return k
    return len(curve) - drift_window + 1  # never recovered within the stream


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_concept_drift_recovery_is_faster_with_drift_detection(seed):
    at, n, window = 4000, 12000, 250
    kw = dict(n_features=20, n_labels=12, n_clusters=3, n_instances=n, seed=seed)
    stream = LabelClusterStream(drifts=(Drift(at=at, kind="concept"),), **kw)
    with_detection = IHOMER(seed=seed)
    from ihomer.trees import MultiLabelHoeffdingTree

    no_detection = IHOMER(
        seed=seed,
        cluster_learner=MultiLabelHoeffdingTree(adwin_delta=None),
        global_drift_delta=None,
        cluster_drift_delta=None,
    )
    curve_on = _windowed_error(with_detection, stream, window)
    curve_off = _windowed_error(no_detection, stream, window)
    dw = at // window
    assert curve_on[dw] > 1.2 * curve_on[dw - 4 : dw].mean(), "the drift must hurt at first"
    rec_on = _recovery_windows(curve_on, dw)
    rec_off = _recovery_windows(curve_off, dw)
    assert rec_on < rec_off, (
        f"recovery in {rec_on} windows with detection vs {rec_off} without "
        f"(window = {window} instances)"
    )
    drifts = with_detection.events.counts
    assert drifts["node_drift"] + drifts["cluster_drift"] + drifts["global_drift"] > 0
