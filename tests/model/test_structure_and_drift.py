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
    model = IHOMER(seed=seed, partitioning="hierarchy")
    parts = _run_partitions(model, stream, {2000, change + 3000})
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


def _recovery_windows(curve, drift_window, pre_windows=5, slack=0.01):
    """Windows after the drift until a 3-window mean is back within 10% of the pre-drift error
    (plus ``slack``, the noise floor of a 200-instance window mean at this error level)."""
    pre = curve[drift_window - pre_windows : drift_window].mean()
    post = curve[drift_window:]
    for k in range(len(post) - 2):
        if post[k : k + 3].mean() <= 1.1 * pre + slack:
            return k
    return len(post)  # never recovered within the stream


def _rule_swap_stream(n, at, seed):
    """Feature-label drift: label j is x_j > 0.5 before ``at``, x_(j+4)%10 < 0.5 after it, so the
    tree's splits become misleading and only restructuring (or relearning) recovers."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, 10))
    out = []
    for i, row in enumerate(X):
        if i < at:
            y = {f"l{j}": bool(row[j] > 0.5) for j in range(6)}
        else:
            y = {f"l{j}": bool(row[(j + 4) % 10] < 0.5) for j in range(6)}
        out.append(({f"f{k}": float(v) for k, v in enumerate(row)}, y))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_concept_drift_recovery_is_faster_with_drift_detection(seed):
    from ihomer.trees import MultiLabelHoeffdingTree

    at, n, window = 5000, 11000, 200
    stream = _rule_swap_stream(n, at, seed)
    with_detection = IHOMER(seed=seed, partitioning="hierarchy")
    no_detection = IHOMER(
        partitioning="hierarchy",
        seed=seed,
        cluster_learner=MultiLabelHoeffdingTree(adwin_delta=None),
        global_drift_delta=None,
        cluster_drift_delta=None,
    )
    curve_on = _windowed_error(with_detection, stream, window)
    curve_off = _windowed_error(no_detection, stream, window)
    dw = at // window
    assert curve_on[dw] > 3 * curve_on[dw - 5 : dw].mean(), "the drift must hurt at first"
    rec_on = _recovery_windows(curve_on, dw)
    rec_off = _recovery_windows(curve_off, dw)
    assert rec_on < len(curve_on) - dw, "with drift detection the error must recover"
    assert rec_on < rec_off, (
        f"recovery after {rec_on} windows with detection vs {rec_off} without "
        f"(window = {window} instances)"
    )
    counts = with_detection.events.counts
    assert counts["node_drift"] + counts["cluster_drift"] + counts["global_drift"] > 0
