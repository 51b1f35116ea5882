"""Rows per second of the stream adapters on the development suite, beside river's iter_arff.

Usage::

    python benchmarks/stream_throughput.py [--repeat N] [--json] [--datasets a,b,...]

For each data set (the development suite plus cal500 and corel5k) it times a full pass of
``streams.open_stream(name)`` (header included) and of ``river.stream.iter_arff`` on the same file
(with the same label names as targets). river's reader is reported as ``n/a (reason)`` when it fails
or yields a different number of rows. With ``--repeat N`` each figure is the median of N passes,
with the min and max. Needs the shared data sets (``IHOMER_DATASETS`` or ``../shared/datasets``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from river.stream import iter_arff  # noqa: E402

from streams.registry import (  # noqa: E402
    DATASET_FILES,
    DEV_SUITE,
    EXTRA,
    open_stream,
    shared_datasets_dir,
)


def _time_pass(make_iter) -> tuple[int, float]:
    t0 = time.perf_counter()
    n = 0
    for _ in make_iter():
        n += 1
    return n, time.perf_counter() - t0


def _summary(rates: list[float]) -> dict[str, float]:
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}


def measure(name: str, folder: Path, repeat: int) -> dict:
    path = folder / DATASET_FILES[name][0]
    probe = open_stream(name)
    row: dict = {
        "dataset": name,
        "file": path.name,
        "sparse": probe.sparse,
        "features": len(probe.features),
        "labels": len(probe.labels),
    }
    ours = []
    n_rows = 0
    for _ in range(repeat):
        n_rows, dt = _time_pass(lambda: open_stream(name))
        ours.append(n_rows / dt)
    row["rows"] = n_rows
    row["ours"] = _summary(ours)
    river: list[float] = []
    try:
        for _ in range(repeat):
            n, dt = _time_pass(
                lambda: iter_arff(path, target=list(probe.labels), sparse=probe.sparse)
            )
            if n != n_rows:
                raise RuntimeError(f"read {n} rows, expected {n_rows}")
            river.append(n / dt)
        row["river"] = _summary(river)
        row["ratio"] = row["ours"]["median"] / row["river"]["median"]
    except Exception as e:  # river's reader is a peer: report its failure, do not stop
        text = str(e).replace("Error while parsing header, error was: ", "header: ")
        reason = f"{type(e).__name__}: {text}".splitlines()[0][:90]
        row["river"] = None
        row["river_error"] = reason
        row["ratio"] = None
    return row


def _fmt(s: dict | None, repeat: int) -> str:
    if s is None:
        return ""
    if repeat == 1:
        return f"{s['median']:>10,.0f}"
    return f"{s['median']:>10,.0f} [{s['min']:,.0f}-{s['max']:,.0f}]"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=1, help="passes per reader (median, min, max)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--datasets", default=None, help="comma-separated subset of the suite")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    folder = shared_datasets_dir()
    if folder is None:
        print("shared data sets not found (set IHOMER_DATASETS)", file=sys.stderr)
        return 2
    names = DEV_SUITE + EXTRA
    if args.datasets:
        names = [n.strip() for n in args.datasets.split(",") if n.strip()]
        unknown = [n for n in names if n not in DATASET_FILES]
        if unknown:
            ap.error(f"unknown data set(s) {unknown}")
    rows = [measure(name, folder, args.repeat) for name in names]
    if args.json:
        meta = {"python": platform.python_version(), "machine": platform.machine()}
        print(json.dumps({"repeat": args.repeat, "meta": meta, "results": rows}, indent=2))
        return 0
    w = 15 if args.repeat == 1 else 28
    how = " (median [min-max])" if args.repeat > 1 else ""
    print(f"rows/s, {args.repeat} pass(es) each{how}; ratio = ours / river")
    print(f"{'dataset':<12} {'rows':>7} {'layout':<7} {'ours':>{w}} {'river iter_arff':>{w}} ratio")
    for r in rows:
        river = _fmt(r["river"], args.repeat) if r["river"] else f"n/a ({r['river_error']})"
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] else "-"
        layout = "sparse" if r["sparse"] else "dense"
        print(
            f"{r['dataset']:<12} {r['rows']:>7} {layout:<7} {_fmt(r['ours'], args.repeat):>{w}} "
            f"{river:>{w}} {ratio}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
