"""Micro benchmark: updates/s of ihomer.metrics.MultiLabelReport vs the equivalent eleven river
metric objects (ExactMatch, MicroAverage(Accuracy), Sample/Micro/MacroAverage of Precision, Recall,
F1), on random label dicts shaped like Yeast (14 labels, ~4.2 per instance) and like Corel5k (374
labels, ~3.5 per instance).

Both sides get the same pre-built dicts, filled with False over all labels (river needs every key of
y_true in y_pred); the report is also timed on sparse dicts (positive labels only), which river
cannot score. ``max |diff|`` is the largest difference between the report and river (dense
dicts), and between dense and sparse on the metrics that do not depend on when a label became
known. Each figure is the best of ``--repeat`` runs. Prints a table; run:

    .venv/bin/python benchmarks/metrics_overhead.py [--n 2000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from river import metrics as rm

from ihomer.metrics import METRIC_NAMES, MultiLabelReport


def river_set() -> list:
    mo = rm.multioutput
    return [
        mo.ExactMatch(),
        mo.MicroAverage(rm.Accuracy()),
        mo.SampleAverage(rm.Precision()),
        mo.SampleAverage(rm.Recall()),
        mo.SampleAverage(rm.F1()),
        mo.MicroAverage(rm.Precision()),
        mo.MicroAverage(rm.Recall()),
        mo.MicroAverage(rm.F1()),
        mo.MacroAverage(rm.Precision()),
        mo.MacroAverage(rm.Recall()),
        mo.MacroAverage(rm.F1()),
    ]


def make_stream(n: int, n_labels: int, cardinality: float, seed: int):
    """Dense and sparse (y_true, y_pred) pairs; predictions flip each label with small noise."""
    rng = np.random.default_rng(seed)
    names = [f"label{j}" for j in range(n_labels)]
    p = cardinality / n_labels
    truth = rng.random((n, n_labels)) < p
    flip = rng.random((n, n_labels)) < min(0.5, 2 * p)
    pred = truth ^ flip
    dense, sparse = [], []
    for t, q in zip(truth, pred, strict=True):
        dense.append(
            (
                {names[j]: bool(t[j]) for j in range(n_labels)},
                {names[j]: bool(q[j]) for j in range(n_labels)},
            )
        )
        sparse.append(
            (
                {names[j]: True for j in np.flatnonzero(t)},
                {names[j]: True for j in np.flatnonzero(q)},
            )
        )
    return dense, sparse


def time_report(stream, repeat: int) -> tuple[float, dict]:
    best = float("inf")
    for _ in range(repeat):
        report = MultiLabelReport()
        start = time.perf_counter()
        for y_true, y_pred in stream:
            report.update(y_true, y_pred)
        best = min(best, time.perf_counter() - start)
    return len(stream) / best, report.get()


def time_river(stream, repeat: int) -> tuple[float, list]:
    best = float("inf")
    for _ in range(repeat):
        objs = river_set()
        start = time.perf_counter()
        for y_true, y_pred in stream:
            for metric in objs:
                metric.update(y_true, y_pred)
        best = min(best, time.perf_counter() - start)
    return len(stream) / best, objs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="instances per shape")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    shapes = [("yeast-like (14 labels)", 14, 4.24), ("corel5k-like (374 labels)", 374, 3.52)]
    header = (
        f"{'shape':<27} {'report dense/s':>15} {'report sparse/s':>16} {'river/s':>10} "
        f"{'ratio':>7} {'get() us':>9} {'max |diff|':>11}"
    )
    print(header)
    print("-" * len(header))
    for name, n_labels, card in shapes:
        dense, sparse = make_stream(args.n, n_labels, card, seed=n_labels)
        ours, values = time_report(dense, args.repeat)
        ours_sparse, values_sparse = time_report(sparse, args.repeat)
        theirs, objs = time_river(dense, args.repeat)
        river_values = [m.get() for m in objs]
        river_values[1] = 1.0 - river_values[1]  # Hamming loss = 1 - micro accuracy
        diff = max(abs(values[k] - v) for k, v in zip(METRIC_NAMES, river_values, strict=True))
        # sparse dicts make labels known only from their first positive: same instance-level
        # and micro figures, different Hamming loss and macro averages
        same = ("subset_accuracy", "example_f1", "micro_f1")
        diff = max(diff, max(abs(values[k] - values_sparse[k]) for k in same))
        report = MultiLabelReport()
        for y_true, y_pred in dense:
            report.update(y_true, y_pred)
        start = time.perf_counter()
        for _ in range(200):
            report.get()
        get_us = (time.perf_counter() - start) / 200 * 1e6
        print(
            f"{name:<27} {ours:>15,.0f} {ours_sparse:>16,.0f} {theirs:>10,.0f} "
            f"{ours / theirs:>6.1f}x {get_us:>9.1f} {diff:>11.1e}"
        )


if __name__ == "__main__":
    main()
