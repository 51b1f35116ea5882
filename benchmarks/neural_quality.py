"""Prequential quality of the neural scorer on the dense development streams, next to iHOMER trees.

Test-then-train over the whole stream in file order (ihomer.evaluate.prequential, metrics from
ihomer.metrics.MultiLabelReport, river's definitions), for:

* ``neural``: :class:`ihomer.neural.NeuralMultiLabelClassifier` alone (learn_one, mini-batches of
  ``--batch-size``; predictions use the weights trained so far);
* ``ihomer-trees``: :class:`ihomer.IHOMER` with its default per-cluster Hoeffding trees;
* ``ihomer-neural``: :class:`ihomer.IHOMER` with :class:`ihomer.neural.NeuralClusterLearner`.

Streams: yeast (``river.datasets.Yeast``, bundled), emotions and scene (``../shared/datasets``, read
with ``streams.arff.ArffStream``; skipped with a message when absent).

    python benchmarks/neural_quality.py
    python benchmarks/neural_quality.py --streams yeast --models neural --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ihomer.evaluate import prequential  # noqa: E402
from ihomer.neural import NeuralClusterLearner, NeuralMultiLabelClassifier  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
METRICS = ("subset_accuracy", "hamming_loss", "example_f1", "micro_f1", "macro_f1")


def open_stream(name: str):
    """(iterable of (x, y), note) or (None, reason)."""
    if name == "yeast":
        from river import datasets

        return list(datasets.Yeast()), "river.datasets.Yeast"
    files = {"emotions": "emotions.arff", "scene": "scene.arff.bz2"}
    path = DATASETS / files[name]
    if not path.exists():
        return None, f"{path} not found (needs ../shared/datasets)"
    from streams.arff import ArffStream

    return list(ArffStream(path)), str(path.relative_to(ROOT.parent))


def make_model(kind: str, args):
    neural = {
        "hidden": tuple(args.hidden),
        "lr": args.lr,
        "batch_size": args.batch_size,
        "device": args.device,
        "seed": args.seed,
        "threads": args.threads,
    }
    if kind == "neural":
        return NeuralMultiLabelClassifier(**neural)
    from ihomer import IHOMER

    if kind == "ihomer-trees":
        return IHOMER(seed=args.seed)
    if kind == "ihomer-neural":
        return IHOMER(cluster_learner=NeuralClusterLearner(**neural), seed=args.seed)
    raise ValueError(f"unknown model {kind!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", default="yeast,emotions,scene")
    ap.add_argument("--models", default="neural,ihomer-trees,ihomer-neural")
    ap.add_argument("--hidden", type=int, nargs="*", default=[256])
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    args = ap.parse_args(argv)

    # build one network first so torch's import and start-up are not billed to the first stream
    warm = NeuralMultiLabelClassifier(hidden=(4,), device=args.device, threads=args.threads)
    warm.learn_many([[0.0]], [[True]])
    print(
        f"# neural: hidden={tuple(args.hidden)} lr={args.lr} batch_size={args.batch_size} "
        f"device={args.device} threads={args.threads} seed={args.seed}"
    )
    head = f"{'stream':<9} {'model':<14} {'n':>6} " + " ".join(f"{m:>15}" for m in METRICS)
    print(head + f" {'inst/s':>9}")
    print("-" * (len(head) + 10))
    rows = []
    for name in args.streams.split(","):
        data, note = open_stream(name)
        if data is None:
            print(f"{name:<9} skipped: {note}")
            continue
        for kind in args.models.split(","):
            try:
                model = make_model(kind, args)
            except ImportError as e:
                print(f"{name:<9} {kind:<14} skipped: {e}")
                continue
            res = prequential(model, data, trace_every=None, events=False)
            row = {
                "stream": name,
                "source": note,
                "model": kind,
                "n": res.n,
                "instances_per_s": res.instances_per_s,
                **{m: res.metrics[m] for m in METRICS},
            }
            rows.append(row)
            vals = " ".join(f"{res.metrics[m]:>15.4f}" for m in METRICS)
            print(f"{name:<9} {kind:<14} {res.n:>6} {vals} {res.instances_per_s:>9.0f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
