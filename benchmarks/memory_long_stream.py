"""Memory of iHOMER on a long synthetic stream with scheduled drift (issue: bounded memory).

Runs the prequential step over ``--n`` instances of :class:`streams.synth.LabelClusterStream`
(label-structure and concept drifts every ``--drift-every`` instances) and records, every
``--every`` instances: the model's own buffers (``IHOMER.memory_bytes``), the process RSS,
throughput, the number of label clusters and the tree sizes. Writes a CSV/JSON and a PNG curve.

    python benchmarks/memory_long_stream.py --n 1000000 --out benchmarks/results/memory
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def main(argv: list[str] | None = None) -> int:
    from ihomer import IHOMER
    from ihomer.evaluate import PrequentialStep
    from ihomer.metrics import MultiLabelReport
    from streams.synth import Drift, LabelClusterStream

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--every", type=int, default=20_000)
    p.add_argument("--drift-every", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results/memory")
    args = p.parse_args(argv)

    drifts = []
    for i, at in enumerate(range(args.drift_every, args.n, args.drift_every)):
        drifts.append(Drift(at=at, kind="labels" if i % 2 == 0 else "concept"))
    stream = LabelClusterStream(
        n_features=20,
        n_labels=12,
        n_clusters=3,
        drifts=tuple(drifts),
        n_instances=args.n,
        seed=args.seed,
    )
    model = IHOMER(seed=args.seed)
    report = MultiLabelReport()
    step = PrequentialStep(model, report)
    rows = []
    t0 = last_t = time.perf_counter()
    last_n = 0
    for i, (x, y) in enumerate(stream, start=1):
        step(x, y)
        if i % args.every == 0 or i == args.n:
            now = time.perf_counter()
            nodes = sum(getattr(c.learner, "n_nodes", 0) for c in model._clusters)
            rows.append(
                {
                    "n": i,
                    "model_bytes": model.memory_bytes(),
                    "rss_bytes": _rss_bytes(),
                    "n_clusters": model.n_clusters,
                    "tree_nodes": nodes,
                    "instances_per_s": (i - last_n) / (now - last_t),
                    "seconds": now - t0,
                    **{k: report.get()[k] for k in ("subset_accuracy", "micro_f1")},
                }
            )
            last_t, last_n = now, i
            r = rows[-1]
            mib = 2**20
            print(
                f"{i:>9,d}  model {r['model_bytes'] / mib:7.2f} MiB"
                f"  rss {r['rss_bytes'] / mib:7.1f} MiB  clusters {r['n_clusters']:2d}"
                f"  nodes {nodes:4d}  {r['instances_per_s']:7.0f} inst/s",
                flush=True,
            )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "memory_curve.json").write_text(
        json.dumps(
            {"command": " ".join(sys.argv), "drifts": [d.at for d in drifts], "rows": rows},
            indent=1,
        )
    )
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return 0
    fig, ax = plt.subplots(figsize=(8, 4))
    ns = [r["n"] for r in rows]
    ax.plot(ns, [r["model_bytes"] / 2**20 for r in rows], label="model buffers (MiB)")
    ax.plot(ns, [r["rss_bytes"] / 2**20 for r in rows], label="process RSS (MiB)")
    for d in drifts:
        ax.axvline(d.at, color="grey", lw=0.5, ls=":")
    ax.set_xlabel("instances")
    ax.set_ylabel("MiB")
    ax.set_title(f"iHOMER memory on a {args.n:,}-instance drifting stream")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "memory_curve.png", dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
