"""iHOMER's throughput side by side with river's binary relevance of Hoeffding trees.

For each stream the records are loaded first (reading is not timed), then the two models run the
same prequential loop (``ihomer.evaluate.PrequentialStep``) in alternation, ``--repeat`` times,
in this one process; the script prints wall and CPU seconds (best of the repeats), instances/s and
the throughput ratio, measured minutes apart at most, so that machine load affects both alike.

    python benchmarks/speed_vs_river.py --streams river:yeast 20ng tmc2007-500 --limit 5000
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time


def _models():
    from river import multioutput, tree

    from ihomer import IHOMER

    return {
        "ihomer": lambda: IHOMER(),
        "river-br-ht": lambda: multioutput.PerOutputClassifier(tree.HoeffdingTreeClassifier()),
    }


def _time(make, records):
    from ihomer.evaluate import PrequentialStep
    from ihomer.metrics import MultiLabelReport

    report = MultiLabelReport()
    step = PrequentialStep(make(), report)
    w0, c0 = time.perf_counter(), time.process_time()
    for x, y in records:
        step(x, y)
    return time.perf_counter() - w0, time.process_time() - c0, report.get()["micro_f1"]


def main(argv: list[str] | None = None) -> int:
    from streams import open_stream

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--streams", nargs="+", default=["river:yeast", "20ng", "tmc2007-500"])
    p.add_argument("--limit", type=int, default=None, help="stream prefix (default: whole)")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    out = []
    for spec in args.streams:
        records = list(itertools.islice(open_stream(spec), args.limit))
        best: dict[str, tuple[float, float, float]] = {}
        for _ in range(args.repeat):
            for name, make in _models().items():
                wall, cpu, f1 = _time(make, records)
                if name not in best or cpu < best[name][1]:
                    best[name] = (wall, cpu, f1)
        row = {"stream": spec, "n": len(records)}
        for name, (wall, cpu, f1) in best.items():
            row[name] = {
                "wall_s": wall,
                "cpu_s": cpu,
                "inst_per_cpu_s": len(records) / cpu,
                "micro_f1": f1,
            }
        row["throughput_ratio_cpu"] = best["river-br-ht"][1] / best["ihomer"][1]
        out.append(row)
        if not args.json:
            i, r = row["ihomer"], row["river-br-ht"]
            print(
                f"{spec:12s} n={len(records):6,d}  ihomer {i['cpu_s']:7.2f} s cpu "
                f"({i['inst_per_cpu_s']:7,.0f}/s, micro-F1 {i['micro_f1']:.3f})  river-br-ht "
                f"{r['cpu_s']:7.2f} s cpu ({r['inst_per_cpu_s']:7,.0f}/s, micro-F1 "
                f"{r['micro_f1']:.3f})  ratio {row['throughput_ratio_cpu']:.1f}x",
                flush=True,
            )
    if args.json:
        json.dump({"command": " ".join(sys.argv), "rows": out}, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
