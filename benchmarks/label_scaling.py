"""How cost grows with the number of labels and of features: iHOMER and Vowpal Wabbit side by side.

Streams (the same records for every model of a stream: each child regenerates the same seeded
stream, and the children's record digests are compared):

* dense: :class:`streams.synth.LabelClusterStream`, 100 features, ``--labels`` labels
  (10 .. 10,000), one planted cluster per 20 labels;
* text: :class:`streams.synth_text.SyntheticTextStream`, ~50 non-zero word counts per instance,
  ``--features`` vocabularies (1,000 .. 100,000) at ``--text-labels-at`` labels, and
  ``--text-labels`` labels at a ``--text-features-at`` vocabulary;
* named: any stream spec of the bench (``--streams delicious``).

Every (stream, model) pair runs in its own process (so its peak RSS, ``VmHWM``, is its own) with
its address space capped (``--mem-gb``, ``RLIMIT_AS``: a ``MemoryError`` is reported as such).
The child runs :class:`ihomer.evaluate.PrequentialStep` (the step of the prequential loop every
model is scored by) and measures the CPU time (``time.process_time``) of each step: generating
the stream is not counted, predicting, scoring and learning are. A model whose step CPU time
passes ``--budget-s`` stops there and is reported as DNF with the prefix it reached and its rate
so far (the parent also kills a child that stops answering, at ``2 * budget + 120`` s wall).

Outputs under ``--out`` (default ``benchmarks/results/label_scaling/``): ``NAME.json`` (every
figure), ``NAME.md`` (tables) and ``NAME.png`` (log-log plot of CPU time per instance). The growth
exponent of a model on a series is the least-squares slope of log(CPU s per instance) against
log(labels) or log(features).

Run: ``python benchmarks/label_scaling.py --n 2000 --n-text 1500 --name before``;
``--quick`` is a smoke test (tiny sizes).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # this checkout's ihomer and streams, not another install's
    sys.path.insert(0, str(ROOT))
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "label_scaling"
DEFAULT_MODELS = ("ihomer", "vw-hinge")
#: Progress is written by the child every this many CPU seconds (read back if it is killed).
PROGRESS_EVERY_S = 2.0


# -- streams --------------------------------------------------------------------------------------
def stream_specs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The streams of a run, as JSON-able dicts (``series`` tells which fit a point belongs to)."""
    out: list[dict[str, Any]] = []
    for n_labels in args.labels:
        out.append(
            {
                "kind": "dense",
                "series": ["dense-labels"],
                "labels": n_labels,
                "features": args.dense_features,
                "n": args.n,
            }
        )
    for n_features in args.features:
        out.append(
            {
                "kind": "text",
                "series": ["text-features"],
                "labels": args.text_labels_at,
                "features": n_features,
                "n": args.n_text,
            }
        )
    for n_labels in args.text_labels:
        shared = [
            s
            for s in out
            if s["kind"] == "text"
            and s["labels"] == n_labels
            and s["features"] == args.text_features_at
        ]
        if shared:  # the same stream is a point of both text series
            shared[0]["series"].append("text-labels")
            continue
        out.append(
            {
                "kind": "text",
                "series": ["text-labels"],
                "labels": n_labels,
                "features": args.text_features_at,
                "n": args.n_text,
            }
        )
    for spec in args.streams:
        out.append({"kind": "named", "series": ["named"], "spec": spec, "n": args.n_streams})
    for s in out:
        s["name"] = stream_name(s)
    return out


def stream_name(s: dict[str, Any]) -> str:
    if s["kind"] == "named":
        return str(s["spec"])
    return f"{s['kind']}-{s['features']}f-{s['labels']}l"


def open_spec(s: dict[str, Any], seed: int) -> Any:
    """Open the stream of ``s`` (a dict of :func:`stream_specs`), cut at ``s["n"]``."""
    n = s.get("n")
    if s["kind"] == "dense":
        from streams.synth import LabelClusterStream

        return LabelClusterStream(
            n_features=s["features"],
            n_labels=s["labels"],
            n_clusters=max(2, s["labels"] // 20),
            sparse=False,
            n_instances=n,
            seed=seed,
        )
    if s["kind"] == "text":
        from streams.synth_text import SyntheticTextStream

        return SyntheticTextStream(
            n_features=s["features"], n_labels=s["labels"], n_instances=n, seed=seed
        )
    from ihomer.bench.suite import open_bench_stream

    stream = open_bench_stream(s["spec"])
    if n is not None:
        stream.limit = n if stream.limit is None else min(stream.limit, n)
    return stream


# -- the child ------------------------------------------------------------------------------------
def _write_json(path: str | Path, data: Any) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def run_child(job: dict[str, Any], result_path: str) -> int:
    """Run one (stream, model) job in this process and write its record to ``result_path``."""
    import resource

    mem = int(job["mem_gb"] * 2**30)
    if mem > 0:
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    from ihomer.bench.models import make_model
    from ihomer.evaluate import PrequentialStep, peak_rss_bytes

    stream = open_spec(job["stream"], job["seed"])
    n_labels, n_features = len(stream.labels), len(stream.features)
    model = make_model(job["model"], seed=None, stream=stream)
    step = PrequentialStep(model)
    budget = float(job["budget_s"])
    progress_path = result_path + ".progress"
    clock = time.process_time
    cpu = 0.0
    n_pos = n_nnz = 0
    trace: list[dict[str, Any]] = []
    trace_every = int(job.get("trace_every") or 100)
    status, reason = "ok", ""
    rss_before = peak_rss_bytes()
    next_progress = PROGRESS_EVERY_S
    wall0 = time.perf_counter()

    def record() -> dict[str, Any]:
        metrics = step.report.get() if step.n else {}
        return {
            "status": status,
            "reason": reason,
            "model": job["model"],
            "stream": job["stream"],
            "labels": n_labels,
            "features": n_features,
            "n": step.n,
            "n_planned": job["stream"].get("n"),
            "cpu_s": cpu,
            "wall_s": time.perf_counter() - wall0,
            "inst_per_cpu_s": step.n / cpu if cpu > 0 else None,
            "cpu_us_per_inst": 1e6 * cpu / step.n if step.n else None,
            "micro_f1": metrics.get("micro_f1"),
            "metrics": metrics,
            "peak_rss_bytes": peak_rss_bytes(),
            "rss_before_loop_bytes": rss_before,
            "digest": {"positives": n_pos, "nonzeros": n_nnz},
            "trace": trace,
        }

    try:
        for x, y in stream:
            t0 = clock()
            step(x, y)
            cpu += clock() - t0
            n_pos += sum(1 for v in y.values() if v)
            n_nnz += len(x)
            if step.n % trace_every == 0:  # not timed
                trace.append({"n": step.n, "cpu_s": cpu, "micro_f1": step.report.get()["micro_f1"]})
            if cpu > next_progress:
                next_progress = cpu + PROGRESS_EVERY_S
                _write_json(progress_path, record())
            if cpu > budget:
                status = "dnf"
                reason = f"stopped after {cpu:.1f} CPU s (budget {budget:g} s)"
                break
    except MemoryError:
        status = "memory"
        reason = f"MemoryError at instance {step.n} (address space capped at {job['mem_gb']:g} GB)"
        del model, step.model
    _write_json(result_path, record())
    return 0


# -- the parent -----------------------------------------------------------------------------------
def run_job(job: dict[str, Any], work: Path, index: int) -> dict[str, Any]:
    """Run ``job`` in a child process; its record, or a DNF / error record built from what the
    child left (last progress, stderr)."""
    result_path = work / f"job{index}.json"
    progress_path = Path(str(result_path) + ".progress")
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        json.dumps(job),
        "--result",
        str(result_path),
    ]
    limit = 2 * float(job["budget_s"]) + 120
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=limit)
        code, err = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code, err = None, (exc.stderr or b"").decode(errors="replace") if exc.stderr else ""
    if result_path.exists():
        return json.loads(result_path.read_text(encoding="utf-8"))
    base: dict[str, Any] = {"model": job["model"], "stream": job["stream"]}
    if progress_path.exists():
        base.update(json.loads(progress_path.read_text(encoding="utf-8")))
    if code is None:
        base.update(status="dnf", reason=f"killed after {limit:g} s wall (no answer)")
    elif "MemoryError" in err or "bad_alloc" in err:
        base.update(status="memory", reason=f"out of memory (exit {code}): {err[-300:]}")
    else:
        base.update(status="error", reason=f"exit {code}: {err[-600:]}")
    return base


def growth_exponents(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (series, model): least-squares slope of log(CPU per instance) vs log(labels) (or
    log(features) for the features series), over the points that processed instances; and
    ``exponent_top``, the slope between the two largest points (the growth at the top of the range).

    Examples
    --------
    >>> rows = [{"stream": {"series": ["dense-labels"]}, "model": "m", "labels": L,
    ...          "features": 100, "cpu_us_per_inst": 3.0 * L, "status": "ok"} for L in (10, 1000)]
    >>> [(e["series"], e["model"], round(e["exponent"], 3)) for e in growth_exponents(rows)]
    [('dense-labels', 'm', 1.0)]
    """
    groups: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
    for r in results:
        t = r.get("cpu_us_per_inst")
        if not t:
            continue
        for series in r.get("stream", {}).get("series", []):
            if series not in ("dense-labels", "text-features", "text-labels"):
                continue
            x = r["features"] if series == "text-features" else r["labels"]
            groups.setdefault((series, r["model"]), []).append((float(x), float(t), r["status"]))
    out = []
    for (series, model), pts in sorted(groups.items()):
        pts = sorted(set(pts))
        if len({p[0] for p in pts}) < 2:
            continue
        lx = [math.log(p[0]) for p in pts]
        ly = [math.log(p[1]) for p in pts]
        mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
        slope = sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum(
            (a - mx) ** 2 for a in lx
        )
        (x0, t0, _), (x1, t1, _) = pts[-2], pts[-1]
        out.append(
            {
                "series": series,
                "model": model,
                "exponent": slope,
                "exponent_top": math.log(t1 / t0) / math.log(x1 / x0),
                "points": len(pts),
                "x": [p[0] for p in pts],
                "dnf_points": sum(p[2] != "ok" for p in pts),
            }
        )
    return out


def same_prefix(results: list[dict[str, Any]], r: dict[str, Any]) -> tuple[int, dict] | None:
    """The last trace point of ``r`` and every model's micro-F1 there (same stream)."""
    if not r.get("trace"):
        return None
    n = r["trace"][-1]["n"]
    out = {}
    for other in results:
        if other.get("stream") != r.get("stream"):
            continue
        hit = [t["micro_f1"] for t in other.get("trace") or [] if t["n"] == n]
        if hit:
            out[other["model"]] = hit[0]
    return n, out


#: The metrics of the named-stream table, with their short names.
NAMED_METRICS = (
    ("subset_accuracy", "subset"),
    ("example_f1", "ex-F1"),
    ("micro_f1", "micro-F1"),
    ("macro_f1", "macro-F1"),
    ("hamming_loss", "Hamming"),
)


def named_table(results: list[dict[str, Any]]) -> list[str]:
    """Markdown lines: every metric and CPU time of the named streams, then per model the means
    over the named streams it finished and its total CPU seconds."""
    rows = [r for r in results if "named" in r.get("stream", {}).get("series", [])]
    if not rows:
        return []
    head = " | ".join(short for _, short in NAMED_METRICS)
    lines = [
        "",
        "Named streams (all metrics):",
        "",
        f"| stream | model | status | instances | {head} | CPU s | inst / CPU-s | peak RSS MB |",
        "|---|---|---|---:|" + "---:|" * (len(NAMED_METRICS) + 3),
    ]
    for r in rows:
        m = r.get("metrics") or {}
        rss = r.get("peak_rss_bytes")
        vals = " | ".join(_fmt(m.get(k), ".4f") for k, _ in NAMED_METRICS)
        lines.append(
            f"| {r['stream']['name']} | {r['model']} | {r.get('status')} | {_fmt(r.get('n'), ',')} "
            f"| {vals} | {_fmt(r.get('cpu_s'), ',.2f')} | {_fmt(r.get('inst_per_cpu_s'), ',.0f')} "
            f"| {_fmt(None if rss is None else rss / 2**20, ',.0f')} |"
        )
    lines += [
        "",
        f"| model (means over the finished) | streams finished | {head} | CPU s (sum) |",
        "|---|---:|" + "---:|" * (len(NAMED_METRICS) + 1),
    ]
    models = list(dict.fromkeys(r["model"] for r in rows))
    for model in models:
        done = [r for r in rows if r["model"] == model and r.get("status") == "ok"]
        if not done:
            continue
        means = " | ".join(
            f"{sum(r['metrics'][k] for r in done) / len(done):.4f}" for k, _ in NAMED_METRICS
        )
        total = sum(r["cpu_s"] for r in done)
        n_all = sum(1 for r in rows if r["model"] == model)
        lines.append(f"| {model} | {len(done)} / {n_all} | {means} | {total:.2f} |")
    return lines


def _fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def markdown(data: dict[str, Any]) -> str:
    """The run's tables (one row per stream and model, then the growth exponents)."""
    lines = [f"# Label / feature scaling: {data['name']}", "", data["how"], ""]
    lines += [
        "| series | stream | labels | features | model | status | instances | "
        "inst / CPU-s | CPU us / inst | peak RSS MB | micro-F1 |",
        "|---|---|---:|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        s = r.get("stream", {})
        rss = r.get("peak_rss_bytes")
        status = r.get("status", "?")
        series = ", ".join(s.get("series", []))
        lines.append(
            f"| {series} | {s.get('name', '')} | {_fmt(r.get('labels'), ',')} | "
            f"{_fmt(r.get('features'), ',')} | {r['model']} | {status} | "
            f"{_fmt(r.get('n'), ',')} / {_fmt(r.get('n_planned'), ',')} | "
            f"{_fmt(r.get('inst_per_cpu_s'), ',.1f')} | {_fmt(r.get('cpu_us_per_inst'), ',.0f')} | "
            f"{_fmt(None if rss is None else rss / 2**20, ',.0f')} | "
            f"{_fmt(r.get('micro_f1'), '.3f')} |"
        )
    lines += [
        "",
        "Growth exponent of CPU time per instance (log-log slope):",
        "",
        "| series | model | exponent (all points) | exponent (two largest) | points (x) | "
        "of which DNF |",
        "|---|---|---:|---:|---|---:|",
    ]
    for e in data["exponents"]:
        xs = ", ".join(f"{int(x):,}" for x in e["x"])
        lines.append(
            f"| {e['series']} | {e['model']} | {e['exponent']:.2f} | {e['exponent_top']:.2f} | "
            f"{xs} | {e['dnf_points']} |"
        )
    notes = [r for r in data["results"] if r.get("reason")]
    if notes:
        lines += ["", "Not finished:", ""]
        for r in notes:
            lines.append(f"- {r.get('stream', {}).get('name')} / {r['model']}: {r['reason']}")
            same = same_prefix(data["results"], r)
            if same:
                lines.append(
                    f"  - micro-F1 at instance {same[0]:,} (its last trace point): "
                    + ", ".join(f"{m} {v:.3f}" for m, v in same[1].items())
                )
    lines += named_table(data["results"])
    if data.get("digest_mismatch"):
        lines += [
            "",
            "Record digests differ between models on: " + ", ".join(data["digest_mismatch"]),
        ]
    return "\n".join(lines) + "\n"


def plot(data: dict[str, Any], path: Path) -> bool:
    """Log-log plot of CPU us per instance vs labels and vs features (False: no matplotlib, or
    no scaling series in the run)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import ticker
    except ImportError:
        return False
    scaling = ("dense-labels", "text-labels", "text-features")
    if not any(set(r.get("stream", {}).get("series", [])) & set(scaling) for r in data["results"]):
        return False  # named streams only: nothing to plot
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    panels = [
        (axes[0], ("dense-labels", "text-labels"), "labels"),
        (axes[1], ("text-features",), "features"),
    ]
    for ax, series_names, key in panels:
        for series in series_names:
            for model in data["models"]:
                pts = sorted(
                    (r[key], r["cpu_us_per_inst"], r["status"])
                    for r in data["results"]
                    if series in r.get("stream", {}).get("series", [])
                    and r["model"] == model
                    and r.get("cpu_us_per_inst")
                )
                if not pts:
                    continue
                (line,) = ax.plot(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    marker="o",
                    label=f"{model} ({series})",
                )
                dnf = [p for p in pts if p[2] != "ok"]
                if dnf:
                    ax.plot(
                        [p[0] for p in dnf], [p[1] for p in dnf], "x", ms=10, color=line.get_color()
                    )
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
            axis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel(key)
        ax.set_ylabel("CPU us per instance (predict + score + learn)")
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    axes[0].set_title("vs labels (x: stopped at the budget)")
    axes[1].set_title("vs features (sparse text)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--labels",
        type=int,
        nargs="*",
        default=[10, 100, 1000, 5000, 10000],
        help="label counts of the dense streams (none: skip them)",
    )
    p.add_argument("--dense-features", type=int, default=100)
    p.add_argument(
        "--features",
        type=int,
        nargs="*",
        default=[1000, 5000, 20000, 100000],
        help="vocabulary sizes of the text streams (at --text-labels-at labels)",
    )
    p.add_argument("--text-labels-at", type=int, default=100)
    p.add_argument(
        "--text-labels",
        type=int,
        nargs="*",
        default=[100, 1000],
        help="label counts of text streams at --text-features-at words",
    )
    p.add_argument("--text-features-at", type=int, default=20000)
    p.add_argument("--streams", nargs="*", default=[], help="named bench streams (e.g. delicious)")
    p.add_argument("--n", type=int, default=2000, help="instances per dense stream")
    p.add_argument("--n-text", type=int, default=None, help="instances per text stream (--n)")
    p.add_argument(
        "--n-streams", type=int, default=None, help="instances per named stream (default: all)"
    )
    p.add_argument(
        "--models",
        nargs="+",
        default=list(DEFAULT_MODELS),
        help="bench model names (ihomer.bench.models)",
    )
    p.add_argument(
        "--budget-s",
        type=float,
        default=120.0,
        help="CPU seconds per job before it is stopped (DNF)",
    )
    p.add_argument(
        "--mem-gb",
        type=float,
        default=8.0,
        help="address-space cap of each child (RLIMIT_AS; 0: none)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--trace-every", type=int, default=100, help="instances between trace points (micro-F1)"
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--name", default="label_scaling", help="stem of the output files")
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.labels, args.features, args.text_labels = [5, 40], [300, 3000], [10, 40]
        args.text_labels_at, args.text_features_at = 10, 3000
        args.n, args.n_text, args.budget_s = 150, 150, min(args.budget_s, 60.0)
        args.streams, args.n_streams = args.streams or ["river:yeast"], 150
    if args.n_text is None:
        args.n_text = args.n
    for key in ("n", "n_text"):
        if getattr(args, key) < 1:
            p.error(f"--{key.replace('_', '-')} must be >= 1")
    if args.budget_s <= 0:
        p.error("--budget-s must be > 0")
    if any(v < 1 for v in args.labels + args.features + args.text_labels):
        p.error("label and feature counts must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return run_child(json.loads(args.child), args.result)
    from ihomer.bench.models import model_available

    specs = stream_specs(args)
    results: list[dict[str, Any]] = []
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="label_scaling_") as tmp:
        for s in specs:
            for model in args.models:
                ok, why = model_available(model)
                if not ok:
                    results.append(
                        {"model": model, "stream": s, "status": "unavailable", "reason": why}
                    )
                    continue
                job = {
                    "model": model,
                    "stream": s,
                    "seed": args.seed,
                    "budget_s": args.budget_s,
                    "mem_gb": args.mem_gb,
                    "trace_every": args.trace_every,
                }
                rec = run_job(job, Path(tmp), len(results))
                results.append(rec)
                print(
                    f"{s['name']:>26} {model:>12}: {rec.get('status')} n={rec.get('n')} "
                    f"{_fmt(rec.get('inst_per_cpu_s'), ',.1f')} inst/CPU-s "
                    f"rss={_fmt((rec.get('peak_rss_bytes') or 0) / 2**20, ',.0f')} MB "
                    f"micro-F1={_fmt(rec.get('micro_f1'), '.3f')}",
                    flush=True,
                )
    mismatch = []
    for s in specs:
        digests = {
            json.dumps(r.get("digest"), sort_keys=True)
            for r in results
            if r.get("stream") == s and r.get("status") == "ok"
        }
        if len(digests) > 1:
            mismatch.append(s["name"])
    data = {
        "name": args.name,
        "how": (
            "Each (stream, model) in its own process; CPU time (process_time) of every "
            "PrequentialStep (predict + score + learn), stream generation not counted; peak RSS "
            f"= the child's VmHWM; budget {args.budget_s:g} CPU s per job, address space capped at "
            f"{args.mem_gb:g} GB; seed {args.seed}."
        ),
        "args": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
            if k not in ("child", "result")
        },
        "models": list(args.models),
        "results": results,
        "exponents": growth_exponents(results),
        "digest_mismatch": mismatch,
        "host": platform.node(),
        "python": sys.version.split()[0],
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "total_wall_s": time.time() - started,
    }
    try:
        import vowpalwabbit

        data["vowpalwabbit"] = vowpalwabbit.__version__
    except ImportError:
        data["vowpalwabbit"] = None
    args.out.mkdir(parents=True, exist_ok=True)
    _write_json(args.out / f"{args.name}.json", data)
    (args.out / f"{args.name}.md").write_text(markdown(data), encoding="utf-8")
    plotted = plot(data, args.out / f"{args.name}.png")
    print(f"wrote {args.out / args.name}.json, .md" + (", .png" if plotted else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
