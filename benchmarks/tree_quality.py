"""Prequential quality and speed of ONE MultiLabelHoeffdingTree over all labels (no clustering).

For each stream of the development suite: read it in file order (streams.arff.ArffStream), encode
every record with a FeatureIndex, then run predict_proba > 0.5 followed by learn on every instance
(test-then-train, whole stream). Only predict + learn are timed: instances/s from the process CPU
time (the machine is shared, wall time is noisy). Metrics use river's definitions
(river.metrics.multioutput) and are printed next to the published MLHAT numbers
(../shared/reference/*.csv) and the MLHAT reference run measured here (measured-here.md).
Also printed: the tree's final node count, the peak Python memory of the run (tracemalloc) and the
structural events (node splits / node drifts / subtree swaps).

    .venv/bin/python benchmarks/tree_quality.py                      # all 10 dev streams
    .venv/bin/python benchmarks/tree_quality.py flags yeast scene    # a subset
    .venv/bin/python benchmarks/tree_quality.py yeast --param lr=0.3 --param leaf_model=linear
"""

from __future__ import annotations

import argparse
import ast
import csv
import re
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from river import metrics
from river.metrics import multioutput as mo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ihomer.features import FeatureIndex  # noqa: E402
from ihomer.trees import MultiLabelHoeffdingTree  # noqa: E402
from streams.arff import ArffStream  # noqa: E402

SHARED = ROOT.parent / "shared"
DATA = SHARED / "datasets"
REF = SHARED / "reference"
DEV = [
    ("flags", "flags.arff", "Flags"),
    ("emotions", "emotions.arff", "Emotions"),
    ("yeast", "yeast.arff", "Yeast"),
    ("scene", "scene.arff.bz2", "Scene"),
    ("birds", "birds.arff", "Birds"),
    ("enron", "enron.arff", "Enron"),
    ("medical", "medical.arff", "Medical"),
    ("slashdot", "slashdot.arff", "Slashdot"),
    ("20ng", "20ng.arff", "D20ng"),
    ("tmc2007-500", "tmc2007-500.arff", "Tmc"),
]
METRICS = ["subset_acc", "example_f1", "micro_f1", "macro_f1", "hamming"]
REF_FILES = {
    "subset_acc": "subset_acc.csv",
    "example_f1": "example_f1.csv",
    "micro_f1": "micro_f1.csv",
    "macro_f1": "macro_f1.csv",
    "hamming": "hamming.csv",
}


def load(path: Path) -> tuple[list, np.ndarray]:
    stream = ArffStream(path)
    fi = FeatureIndex()
    rows, ys = [], []
    labels = stream.labels
    for x, y in stream:
        rows.append(fi.encode(x))
        ys.append([bool(y[lab]) for lab in labels])
    return rows, np.array(ys, dtype=bool).reshape(len(ys), len(labels))


def run(rows: list, Y: np.ndarray, params: dict) -> tuple[np.ndarray, float, object]:
    tree = MultiLabelHoeffdingTree(**params)
    tree.add_labels(Y.shape[1])
    pred = np.zeros_like(Y)
    t0 = time.process_time()
    for i, row in enumerate(rows):
        pred[i] = tree.predict_proba(row) > 0.5
        tree.learn(row, Y[i])
    return pred, time.process_time() - t0, tree


def score(Y: np.ndarray, P: np.ndarray) -> dict[str, float]:
    ms = {
        "subset_acc": mo.ExactMatch(),
        "example_f1": mo.SampleAverage(metrics.F1()),
        "micro_f1": mo.MicroAverage(metrics.F1()),
        "macro_f1": mo.MacroAverage(metrics.F1()),
        "hamming": mo.MicroAverage(metrics.Accuracy()),
    }
    L = Y.shape[1]
    for yt, yp in zip(Y.tolist(), P.tolist()):
        dt = {j: yt[j] for j in range(L)}
        dp = {j: yp[j] for j in range(L)}
        for m in ms.values():
            m.update(dt, dp)
    out = {k: m.get() for k, m in ms.items()}
    out["hamming"] = 1.0 - out["hamming"]
    return out


def published() -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for metric, fname in REF_FILES.items():
        p = REF / fname
        if not p.exists():
            continue
        with open(p) as fh:
            for r in csv.DictReader(fh):
                out.setdefault(r["Dataset"], {})[metric] = float(r["MLHAT"])
    return out


def measured_mlhat() -> dict[str, dict[str, float]]:
    p = REF / "measured-here.md"
    out: dict[str, dict[str, float]] = {}
    if not p.exists():
        return out
    pat = re.compile(r"^\| (\S+) \| mlhat-reference \| (.+) \|$")
    for line in p.read_text().splitlines():
        m = pat.match(line)
        if m:
            cells = [c.strip() for c in m.group(2).split("|")]
            out[m.group(1)] = dict(zip(METRICS + ["seconds", "inst_s"], map(float, cells)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("streams", nargs="*", help="stream names (default: the 10 dev streams)")
    ap.add_argument("--param", action="append", default=[], help="tree parameter key=value")
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"tree_quality: data sets not found at {DATA} (need ../shared/datasets)")
    params = {}
    for kv in args.param:
        k, v = kv.split("=", 1)
        try:
            params[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            params[k] = v
    chosen = [d for d in DEV if not args.streams or d[0] in args.streams]
    pub, here = published(), measured_mlhat()
    print(f"tree parameters: {params or 'defaults'}")
    head = f"{'stream':<12}{'who':<10}" + "".join(f"{m:>11}" for m in METRICS)
    print(head + f"{'inst/s':>9}{'nodes':>7}{'MiB':>7}  splits/drifts/swaps")
    sums: dict[str, list[float]] = {}
    for name, fname, ref_name in chosen:
        rows, Y = load(DATA / fname)
        tracemalloc.start()
        P, secs, tree = run(rows, Y, params)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        kinds = [k for k, _ in tree.drain_events()]
        # timing without tracemalloc's overhead
        _, secs, _ = run(rows, Y, params)
        res = score(Y, P)
        for k, v in res.items():
            sums.setdefault(k, []).append(v)
        sums.setdefault("inst_s", []).append(len(rows) / secs)
        print(
            f"{name:<12}{'tree':<10}"
            + "".join(f"{res[m]:>11.3f}" for m in METRICS)
            + f"{len(rows) / secs:>9.0f}{tree.n_nodes:>7}{peak / 2**20:>7.1f}  "
            + "/".join(str(kinds.count(k)) for k in ("node_split", "node_drift", "subtree_swap"))
        )
        if ref_name in pub:
            ref = pub[ref_name]
            print(f"{'':<12}{'MLHAT-pub':<10}" + "".join(f"{ref[m]:>11.3f}" for m in METRICS))
        if name in here:
            h = here[name]
            print(
                f"{'':<12}{'MLHAT-here':<10}"
                + "".join(f"{h[m]:>11.3f}" for m in METRICS)
                + f"{h['inst_s']:>9.0f}"
            )
        sys.stdout.flush()
    if len(chosen) > 1:
        print(
            f"{'MEAN':<12}{'tree':<10}"
            + "".join(f"{np.mean(sums[m]):>11.3f}" for m in METRICS)
            + f"{np.mean(sums['inst_s']):>9.0f}"
        )
        refs = [pub[r] for _, _, r in chosen if r in pub]
        if len(refs) == len(chosen):
            print(
                f"{'MEAN':<12}{'MLHAT-pub':<10}"
                + "".join(f"{np.mean([r[m] for r in refs]):>11.3f}" for m in METRICS)
            )


if __name__ == "__main__":
    main()
