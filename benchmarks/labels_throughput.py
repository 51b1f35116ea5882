"""Throughput of ``LabelSpace.learn`` (calls per second) on synthetic label streams shaped like
Yeast (14 labels, ~4.2 present) and corel5k (374 labels, ~3.5 present).

Prints, per stream: calls/s over the whole run (periodic checks and refinements included) and the
median cost of a plain call (one without events). Run: ``python benchmarks/labels_throughput.py``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ihomer.labels import LabelSpace


def label_sets(n_labels: int, cardinality: float, n: int, seed: int) -> list[list[int]]:
    """Label sets with planted groups of 4 labels and a Zipf-like popularity of the groups."""
    rng = np.random.default_rng(seed)
    groups = np.array_split(rng.permutation(n_labels), max(1, n_labels // 4))
    pop = 1.0 / np.arange(1, len(groups) + 1)
    pop /= pop.sum()
    out = []
    for _ in range(n):
        k = max(0, int(rng.poisson(cardinality)))
        chosen: set[int] = set()
        while len(chosen) < k:
            gr = groups[rng.choice(len(groups), p=pop)]
            chosen.update(int(v) for v in gr[rng.random(len(gr)) < 0.7])
            if rng.random() < 0.2:
                chosen.add(int(rng.integers(n_labels)))
        kept = sorted(chosen)[:k] if len(chosen) > k else sorted(chosen)
        out.append([f"l{v}" for v in kept])
    return out


def bench(name: str, n_labels: int, cardinality: float, n: int, seed: int) -> None:
    sets = label_sets(n_labels, cardinality, n, seed)
    names = [f"l{v}" for v in range(n_labels)]
    space = LabelSpace()
    space.add_labels(names)
    t0 = time.perf_counter()
    for y in sets:
        space.learn(y)
    total = time.perf_counter() - t0
    # second pass on a fresh space: the cost of each call (timer overhead included)
    timed = LabelSpace()
    timed.add_labels(names)
    plain = []
    for y in sets:
        s = time.perf_counter_ns()
        ev = timed.learn(y)
        if not ev:
            plain.append(time.perf_counter_ns() - s)
    card = np.mean([len(y) for y in sets])
    print(
        f"{name:8s} labels={n_labels:4d} mean|Y|={card:.2f} n={n}: "
        f"{n / total:,.0f} calls/s overall, median plain call {np.median(plain) / 1e3:.1f} us, "
        f"p99 {np.percentile(plain, 99) / 1e3:.1f} us; splits={space.n_splits} "
        f"merges={space.n_merges} clusters={len(space.partition)} "
        f"version={space.partition_version}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20_000, help="instances per stream")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    bench("yeast", 14, 4.2, args.n, args.seed)
    bench("corel5k", 374, 3.5, args.n, args.seed)


if __name__ == "__main__":
    main()
