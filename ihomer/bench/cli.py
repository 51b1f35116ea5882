"""``ihomer bench`` / ``python benchmarks/prequential.py``: argument parsing and printing only.

The work lives in :mod:`ihomer.bench.jobs` (running), :mod:`ihomer.bench.report` (tables) and
:mod:`ihomer.bench.plots` (figures).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

__all__ = ["add_arguments", "run", "main", "auto_trace_every"]

#: Instances of the development-suite streams (to space the trace points without reading them).
STREAM_SIZES = {
    "flags": 194, "emotions": 593, "yeast": 2417, "river:yeast": 2417, "cal500": 502,
    "corel5k": 5000, "delicious": 16105, "scene": 2407, "birds": 645, "enron": 1702, "medical": 978,
    "slashdot": 3782, "20ng": 19300, "tmc2007-500": 28596,
}  # fmt: skip
TRACE_POINTS = 200


def auto_trace_every(stream: str, max_instances: int | None) -> int:
    """About :data:`TRACE_POINTS` trace entries per stream (at least every 5 instances).

    Examples
    --------
    >>> auto_trace_every("tmc2007-500", None), auto_trace_every("flags", None)
    (142, 5)
    """
    from ihomer.bench.suite import resolve

    n = STREAM_SIZES.get(stream)
    spec = resolve(stream)
    if n is None and spec.startswith("synth"):
        for part in spec.partition(":")[2].split(","):
            if part.strip().startswith("n_instances="):
                try:
                    n = int(part.split("=", 1)[1])
                except ValueError:
                    pass
    if max_instances is not None:
        n = min(n, max_instances) if n is not None else max_instances
    if n is None:
        return 100
    return max(5, n // TRACE_POINTS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the benchmark's options to ``parser``."""
    parser.add_argument(
        "--streams",
        nargs="+",
        default=None,
        help="stream names or paths: dev-suite names (flags ... tmc2007-500), river:yeast, "
        "ARFF/CSV/JSONL paths, synth[:k=v,...,drifts=AT:KIND+...], synth-drift; "
        "default: the development suite + synth-drift",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=None,
        help="model names (see --list-models); default: iHOMER, the river peers and the MOA peers",
    )
    parser.add_argument(
        "--exclude-models",
        nargs="+",
        default=[],
        help="models to drop from the default set (keeps the default set's per-stream rules)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=3,
        help="number of seeds (1..N) for stochastic models and seeded streams (default 3)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: small streams, 1000-instance prefixes, cheap models, 2 seeds",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="output folder (default benchmarks/results; with --quick a new temporary folder, "
        "printed at the start)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="parallel job processes (default 2)")
    parser.add_argument(
        "--job-timeout",
        type=float,
        default=900.0,
        help="seconds per job before it is killed and recorded as DNF (default 900)",
    )
    parser.add_argument("--force", action="store_true", help="rerun jobs that already have results")
    parser.add_argument(
        "--rerun-models",
        nargs="+",
        default=[],
        help="rerun these models' jobs even when they have results (e.g. after a model change)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument(
        "--trace-every",
        type=int,
        default=0,
        help="instances between trace points (default 0: about 200 points per stream)",
    )
    parser.add_argument("--max-instances", type=int, default=None, help="stream prefix length")
    parser.add_argument(
        "--measure-memory",
        action="store_true",
        help="also trace Python allocations (tracemalloc; slows every job several times)",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="only rebuild tables and plots from job files"
    )
    parser.add_argument("--list-models", action="store_true", help="list the models and exit")


def _command_line() -> str:
    """This process's command line, with the program named the way a user types it."""
    argv = list(sys.argv)
    program = Path(argv[0]) if argv else Path("ihomer")
    if program.name == "__main__.py" and program.parent.name == "ihomer":
        head = "python -m ihomer"
    elif program.name == "prequential.py":
        head = "python benchmarks/prequential.py"
    else:
        head = program.name
    return " ".join([head, *(shlex.quote(a) for a in argv[1:])])


def _log(text: str) -> None:
    print(text, flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark described by ``args``; returns the exit status."""
    from ihomer.bench import models as registry
    from ihomer.bench import suite
    from ihomer.bench.environment import environment
    from ihomer.bench.jobs import Job, RunLockedError, plan_jobs, run_jobs
    from ihomer.bench.published import load_measured_here, load_published
    from ihomer.bench.report import collect, write_report

    if args.list_models:
        for spec in registry.MODELS.values():
            kind = "stochastic" if spec.stochastic else "deterministic"
            default = "default" if spec.name in registry.DEFAULT_MODELS else ""
            _log(f"{spec.name:20s} {kind:13s} {default:8s} {spec.description}")
        return 0
    if args.seeds < 1 or args.jobs < 1 or args.job_timeout <= 0:
        print("ihomer bench: error: --seeds and --jobs must be >= 1, --job-timeout > 0",
              file=sys.stderr)  # fmt: skip
        return 2
    explicit_models = args.models is not None
    if args.quick:
        streams = args.streams or suite.quick_streams()
        models = args.models or list(registry.QUICK_MODELS)
        seeds = list(range(1, min(args.seeds, 2) + 1))
        max_instances = args.max_instances or 1000
        if args.out is None:  # a smoke run leaves nothing in the work tree
            import tempfile

            out = Path(tempfile.mkdtemp(prefix="ihomer-bench-quick-"))
        else:
            out = Path(args.out)
    else:
        streams = args.streams or suite.default_streams()
        models = args.models or list(registry.DEFAULT_MODELS)
        seeds = list(range(1, args.seeds + 1))
        max_instances = args.max_instances
        out = Path(args.out or "benchmarks/results")
    models = [m for part in models for m in part.split(",") if m]
    excluded = {m for part in args.exclude_models for m in part.split(",") if m}
    models = [m for m in models if m not in excluded]
    unknown = [m for m in models if m not in registry.MODELS]
    if unknown:
        print(f"ihomer bench: error: unknown models {unknown}; known: {list(registry.MODELS)}",
              file=sys.stderr)  # fmt: skip
        return 2

    availability = {m: registry.model_available(m) for m in models}

    def skip(model: str, stream: str) -> str | None:
        ok, why = availability[model]
        if not ok:
            return why
        spec = registry.MODELS[model]
        if not explicit_models and suite.resolve(stream) in spec.skip_streams:
            return "too slow: left out of the default set on this stream (see notes)"
        return None

    jobs: list[Job] = []
    skipped: list[dict] = []
    for stream in streams:
        trace_every = args.trace_every or auto_trace_every(stream, max_instances)
        j, s = plan_jobs(
            [stream],
            models,
            seeds,
            stochastic=lambda m: registry.MODELS[m].stochastic,
            skip=skip,
            max_instances=max_instances,
            trace_every=trace_every,
            measure_memory=args.measure_memory,
        )
        jobs += j
        skipped += s
    command = _command_line()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    _log(f"ihomer bench: {len(jobs)} jobs ({len(streams)} streams x {len(models)} models, "
         f"seeds {seeds}) -> {out}")  # fmt: skip
    for s in skipped:
        _log(f"  left out: {s['model']} on {s['stream']}: {s['reason']}")

    counts = {}
    if not args.report_only:
        t0 = time.monotonic()
        done = [0]

        def on_event(kind: str, job: Job, record: dict | None) -> None:
            if kind == "done" and record is not None:
                done[0] += 1
                result = record.get("result") or {}
                figure = ""
                if record["status"] == "ok":
                    m = result.get("metrics", {})
                    figure = (f"micro-F1 {m.get('micro_f1', 0):.3f} "
                              f"subset {m.get('subset_accuracy', 0):.3f} "
                              f"{result.get('seconds', 0):.1f}s "
                              f"{result.get('instances_per_s', 0):,.0f}/s")  # fmt: skip
                else:
                    figure = record.get("reason", "")
                _log(f"  [{done[0]}] {job.job_id}: {record['status']} {figure} "
                     f"(elapsed {time.monotonic() - t0:,.0f}s)")  # fmt: skip

        rerun = {m for part in args.rerun_models for m in part.split(",") if m}
        try:
            counts = run_jobs(
                jobs, out, n_jobs=args.jobs, job_timeout=args.job_timeout,
                force=args.force or (lambda job: job.model in rerun), on_event=on_event,
            )  # fmt: skip
        except RunLockedError as exc:
            print(f"ihomer bench: error: {exc}", file=sys.stderr)
            return 3
        _log(f"ihomer bench: jobs {counts}")

    records = collect(jobs, out)
    published = load_published() if max_instances is None else []
    if args.report_only:  # keep the command of the run that computed the jobs
        command = _previous_command(out) or command
    meta = {
        "command": command,
        "started_at": started,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "environment": environment(),
        "notes": list(registry.NOTES)
        + [
            "Runs are resumable: a job's result may come from an earlier run of the same "
            "configuration (runs.csv: started_at, the job's own start time)."
        ]
        + (
            []
            if published
            else [
                "No published rows: "
                + (
                    f"the streams were cut to {max_instances} instances (published results are "
                    "whole-stream)."
                    if max_instances is not None
                    else "no reference folder found (../shared/reference or IHOMER_REFERENCE)."
                )
            ]
        ),
        "skipped": skipped,
        "job_counts": counts,
        "settings": {
            "streams": streams,
            "models": models,
            "seeds": seeds,
            "max_instances": max_instances,
            "jobs": args.jobs,
            "job_timeout": args.job_timeout,
            "quick": args.quick,
        },  # fmt: skip
        "model_descriptions": {m: registry.MODELS[m].description for m in models},
    }
    plots = []
    if not args.no_plots:
        try:
            from ihomer.bench.plots import write_plots

            plots = [str(p.relative_to(out)) for p in write_plots(records, out)]
        except ImportError as exc:
            meta["notes"].append(f"No plots: matplotlib is missing ({exc}); install ihomer[bench].")
            print("ihomer bench: no plots: matplotlib is not installed; install it with: "
                  "pip install 'ihomer[bench]' (or pass --no-plots)", file=sys.stderr)  # fmt: skip
    if not args.no_plots and "ihomer" in models and "matplotlib" not in str(meta["notes"]):
        plots += [str(p.relative_to(out)) for p in _partition_plots(
            streams, max_instances, seeds[0], out / "plots")]  # fmt: skip
    meta["plots"] = plots
    measured = load_measured_here() if max_instances is None else {}
    paths = write_report(records, out, published=published, measured=measured, meta=meta)
    _log(f"ihomer bench: wrote {', '.join(str(p) for p in paths.values())}"
         + (f" and {len(plots)} plots" if plots else ""))  # fmt: skip
    bad = sum(1 for r in records if r["status"] in ("error", "missing"))
    return 1 if bad and not args.report_only else 0


def _partition_plots(
    streams: list[str], max_instances: int | None, seed: int, folder: Path
) -> list[Path]:
    """iHOMER's label partition over each stream (:mod:`ihomer.bench.partition_plot`)."""
    from ihomer.bench.jobs import SEED_PLACEHOLDER
    from ihomer.bench.partition_plot import partition_over_stream, write_partition_plot
    from ihomer.bench.suite import open_bench_stream, resolve

    written = []
    for stream in streams:
        spec = resolve(stream).replace(SEED_PLACEHOLDER, str(seed))
        try:
            history = partition_over_stream(
                open_bench_stream(spec), every=auto_trace_every(stream, max_instances),
                max_instances=max_instances,
            )  # fmt: skip
        except (OSError, ValueError) as exc:
            _log(f"  no partition plot for {stream}: {exc}")
            continue
        name = "".join(c if c.isalnum() or c in "-_" else "-" for c in stream)
        written.append(write_partition_plot(
            history, folder / f"ihomer_partition_{name}.png",
            title=f"iHOMER on {stream}: label partition over the stream"))  # fmt: skip
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="prequential.py",
        description="Prequential benchmark: iHOMER against river, MOA and the published results.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def _previous_command(out: Path) -> str | None:
    """The command recorded by the last run that computed jobs into ``out`` (if any)."""
    try:
        previous = json.loads((out / "results.json").read_text())
    except (OSError, ValueError):
        return None
    command = previous.get("command") if isinstance(previous, dict) else None
    return command if isinstance(command, str) else None
