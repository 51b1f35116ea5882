"""Turning job files into the benchmark's figures: per-run and per-(stream, model) tables, ranks,
and the CSV / JSON / Markdown files.

This module owns :func:`collect`, :func:`summarize`, :func:`rank_tables` and :func:`write_report`.
It reads the job records written by :mod:`ihomer.bench.worker`; it computes no metric (the values
are :mod:`ihomer.metrics`'s, averaged over seeds here) and never ranks aggregate rows.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ihomer.bench.jobs import Job, load_job_result, write_json_atomic
from ihomer.bench.ranks import DNF, average_ranks
from ihomer.metrics import LOWER_IS_BETTER, METRIC_NAMES

__all__ = [
    "MAIN_METRICS",
    "published_for",
    "collect",
    "summarize",
    "rank_tables",
    "write_report",
    "fmt_cell",
]

#: The metrics shown in the Markdown tables (every metric is in the CSV / JSON files).
MAIN_METRICS: tuple[str, ...] = (
    "subset_accuracy",
    "hamming_loss",
    "example_f1",
    "micro_f1",
    "macro_f1",
)

_LABELS = {
    "subset_accuracy": "subset accuracy",
    "hamming_loss": "Hamming loss (lower is better)",
    "example_f1": "example-based F1",
    "micro_f1": "micro F1",
    "macro_f1": "macro F1",
    "instances_per_s": "instances/s",
}


def collect(jobs: Sequence[Job], out: str | os.PathLike) -> list[dict]:
    """The stored record of every job (status ``"missing"`` for a job not run yet)."""
    records = []
    for job in jobs:
        record = load_job_result(job, out)
        if record is None:
            record = {"status": "missing", "job": job.config(), "job_id": job.job_id}
        record["_job"] = job
        records.append(record)
    return records


def _run_row(record: dict) -> dict:
    job: Job = record["_job"]
    row: dict[str, Any] = {
        "stream": job.stream_name,
        "model": job.model,
        "seed": "" if job.seed is None else job.seed,
        "status": record["status"],
    }
    result = record.get("result") or {}
    metrics = result.get("metrics") or {}
    row["n"] = result.get("n")
    for m in METRIC_NAMES:
        row[m] = metrics.get(m)
    row["seconds"] = result.get("seconds", record.get("seconds"))
    row["instances_per_s"] = result.get("instances_per_s")
    rss = result.get("peak_rss_bytes")
    row["peak_rss_mb"] = None if rss is None else rss / 2**20
    before = record.get("rss_before_run_bytes")
    row["rss_before_run_mb"] = None if before is None else before / 2**20
    peak_py = result.get("peak_memory_bytes")
    row["peak_traced_mb"] = None if peak_py is None else peak_py / 2**20
    row["n_clusters"] = (record.get("model") or {}).get("n_clusters")
    row["reason"] = record.get("reason", "")
    row["started_at"] = record.get("started_at", "")
    return row


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    mean = float(np.mean(values))
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return mean, std


def summarize(records: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    """``(runs, summary)``: one row per job, and one row per (stream, model) with the mean and
    standard deviation over seeds of every metric, time, throughput and memory."""
    runs = [_run_row(r) for r in records]
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in runs:
        groups.setdefault((row["stream"], row["model"]), []).append(row)
    summary = []
    for (stream, model), rows in groups.items():
        statuses = {r["status"] for r in rows}
        if statuses == {"ok"}:
            status = "ok"
        elif "missing" in statuses:
            status = "missing"
        elif "dnf" in statuses:
            status = "dnf"
        else:
            status = "error"
        ok = [r for r in rows if r["status"] == "ok"]
        out: dict[str, Any] = {
            "stream": stream,
            "model": model,
            "kind": "run",
            "status": status,
            "n_runs": len(rows),
            "n_ok": len(ok),
            "seeds": " ".join(str(r["seed"]) for r in rows if r["seed"] != "") or "det",
            "n": ok[0]["n"] if ok else None,
        }
        for m in [*METRIC_NAMES, "seconds", "instances_per_s"]:
            mean, std = _mean_std([r[m] for r in ok]) if status == "ok" else (None, None)
            out[m] = mean
            out[f"{m}_std"] = std
        rss = [r["peak_rss_mb"] for r in ok if r["peak_rss_mb"] is not None]
        out["peak_rss_mb"] = max(rss) if rss else None
        clusters = [r["n_clusters"] for r in ok if r["n_clusters"] is not None]
        out["n_clusters_final"] = float(np.mean(clusters)) if clusters else None
        out["reason"] = "; ".join(sorted({r["reason"] for r in rows if r["reason"]}))[:500]
        summary.append(out)
    return runs, summary


#: A skip reason starting with this means "too slow to finish here": it ranks like a DNF.
TOO_SLOW = "too slow"


def not_run_rows(skipped: Sequence[dict]) -> list[dict]:
    """Summary rows (status ``"not-run"``) for the (model, stream) pairs the default set leaves
    out as too slow; they rank like a DNF. Other skips (a model unavailable here) get no row."""
    from ihomer.bench.jobs import stream_key

    rows = []
    for s in skipped:
        if str(s.get("reason", "")).startswith(TOO_SLOW):
            rows.append({
                "stream": stream_key(s["stream"]), "model": s["model"], "kind": "run",
                "status": "not-run", "n_runs": 0, "n_ok": 0, "seeds": "", "n": None,
                "peak_rss_mb": None, "n_clusters_final": None, "reason": s["reason"],
            })  # fmt: skip
    return rows


def _cell(row: dict | None, metric: str) -> float | str | None:
    if row is None:
        return None
    if row["status"] == "ok":
        return row.get(metric)
    if row["status"] in ("dnf", "error", "not-run"):
        return DNF
    return None


def rank_tables(
    summary: Sequence[dict],
    published: Sequence[dict] = (),
    metrics: Sequence[str] = (*METRIC_NAMES, "instances_per_s"),
) -> dict[str, dict]:
    """Average ranks per metric: ``"run"`` (the models run here, over every stream) and
    ``"with_published"`` (plus the published methods, over the streams that have published rows;
    quality metrics only). Input rows are per stream, never aggregates."""
    models = sorted({r["model"] for r in summary})
    streams = list(dict.fromkeys(r["stream"] for r in summary))
    by = {(r["stream"], r["model"]): r for r in summary}
    out: dict[str, dict] = {"run": {}, "with_published": {}}
    for metric in metrics:
        table = {s: {m: _cell(by.get((s, m)), metric) for m in models} for s in streams}
        out["run"][metric] = average_ranks(table, models, metric in LOWER_IS_BETTER)
    pub_by = {(r["stream"], r["model"]): r for r in published}
    pub_models = sorted({r["model"] for r in published if r["stream"] in streams})
    pub_streams = [s for s in streams if any((s, m) in pub_by for m in pub_models)]
    if pub_models and pub_streams:
        all_models = models + pub_models
        for metric in metrics:
            if metric not in METRIC_NAMES:
                continue
            table = {}
            for s in pub_streams:
                table[s] = {m: _cell(by.get((s, m)), metric) for m in models}
                table[s].update({m: _cell(pub_by.get((s, m)), metric) for m in pub_models})
            out["with_published"][metric] = average_ranks(
                table, all_models, metric in LOWER_IS_BETTER
            )
    return out


# ---------------------------------------------------------------------------- writing files
#: Our stream keys that hold the same data as a published data set under another name.
PUBLISHED_ALIASES = {"river-yeast": "yeast"}


def published_for(published: Sequence[dict], streams: Sequence[str]) -> list[dict]:
    """The published rows of ``streams`` (``river-yeast`` gets Yeast's), keyed by our names.

    Examples
    --------
    >>> rows = [{"stream": "yeast", "model": "published:HT"}, {"stream": "Bibtex", "model": "x"}]
    >>> published_for(rows, ["river-yeast", "flags"])
    [{'stream': 'river-yeast', 'model': 'published:HT'}]
    """
    out = []
    for stream in dict.fromkeys(streams):
        target = PUBLISHED_ALIASES.get(stream, stream)
        out += [{**r, "stream": stream} for r in published if r["stream"] == target]
    return out


def _write_csv(path: Path, rows: Sequence[dict], columns: Sequence[str] | None = None) -> None:
    columns = list(columns or (rows[0].keys() if rows else []))
    tmp = path.with_suffix(path.suffix + ".tmp")
    opener = gzip.open if path.suffix == ".gz" else open  # gzip: the large trace table
    with opener(tmp, "wt", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row.get(k)) for k in columns})
    os.replace(tmp, path)


def _csv_value(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if not math.isfinite(v) else f"{v:.6g}"
    return v


def fmt_cell(row: dict | None, metric: str, digits: int = 3) -> str:
    """``mean ± std`` (or ``mean``, ``DNF``, ``error``, ``—``) for a Markdown table.

    Examples
    --------
    >>> fmt_cell({"status": "ok", "micro_f1": 0.51234, "micro_f1_std": 0.01}, "micro_f1")
    '0.512 ± 0.010'
    >>> fmt_cell({"status": "dnf"}, "micro_f1"), fmt_cell(None, "micro_f1")
    ('DNF', '—')
    """
    if row is None:
        return "—"
    status = row.get("status")
    if status == "dnf":
        return "DNF"
    if status == "error":
        return "error"
    if status == "not-run":
        return "not run"
    value = row.get(metric)
    if value is None:
        return "—"
    std = row.get(f"{metric}_std")
    if metric in ("instances_per_s", "seconds", "published_time_s"):
        text = f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
        return (
            text if std is None else f"{text} ± {std:,.0f}" if std >= 100 else f"{text} ± {std:.1f}"
        )
    text = f"{value:.{digits}f}"
    return text if std is None else f"{text} ± {std:.{digits}f}"


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _stream_mean(rows: list[dict | None], metric: str) -> str:
    values = [r.get(metric) for r in rows if r is not None and r.get("status") == "ok"]
    if len(values) != len(rows) or not values or any(v is None for v in values):
        return "—"
    return f"{np.mean(values):.3f}"


def markdown(
    summary: Sequence[dict],
    published: Sequence[dict],
    ranks: dict,
    meta: dict,
) -> str:
    """The Markdown report: per-metric tables (models x streams), ranks, throughput, notes."""
    models = list(dict.fromkeys(r["model"] for r in summary))
    streams = list(dict.fromkeys(r["stream"] for r in summary))
    by = {(r["stream"], r["model"]): r for r in summary}
    pub = [r for r in published if r["stream"] in streams]
    pub_models = list(dict.fromkeys(r["model"] for r in pub))
    pub_by = {(r["stream"], r["model"]): r for r in pub}
    out = ["# Prequential benchmark", ""]
    out.append(
        "Whole-stream prequential (test-then-train) in file order; mean ± std over seeds for "
        "stochastic models (and for every model on seeded synthetic streams); one run for "
        "deterministic ones. `published:*` rows are the MLHAT paper's results (another machine "
        "and implementation). The *mean* columns are summaries only (— when a stream lacks a "
        "result): ranks are computed per stream."
    )
    out += ["", f"Command: `{meta.get('command', '')}`", ""]
    env = meta.get("environment", {})
    if env:
        out.append(
            f"Environment: {env.get('cpu', '?')} ({env.get('n_cpus', '?')} CPUs), "
            f"Python {env.get('python', '?')}, "
            + ", ".join(f"{k} {v}" for k, v in sorted((env.get("packages") or {}).items()))
        )
        out.append("")
    for metric in MAIN_METRICS:
        out += [f"## {_LABELS.get(metric, metric)}", ""]
        pub_streams = [s for s in streams if any((s, m) in pub_by for m in pub_models)]
        header = ["model", *streams, "mean"]
        if pub_streams:
            header.append(f"mean, {len(pub_streams)} published streams")
        rows = []
        for m in models:
            cells = [by.get((s, m)) for s in streams]
            row = [m] + [fmt_cell(c, metric) for c in cells] + [_stream_mean(cells, metric)]
            if pub_streams:
                row.append(_stream_mean([by.get((s, m)) for s in pub_streams], metric))
            rows.append(row)
        for m in pub_models:
            cells = [pub_by.get((s, m)) for s in streams]
            rows.append(
                [m]
                + [fmt_cell(c, metric) for c in cells]
                + ["—", _stream_mean([pub_by.get((s, m)) for s in pub_streams], metric)]
            )
        out += [_md_table(header, rows), ""]
    pr = ["example_precision", "example_recall", "micro_precision", "micro_recall",
          "macro_precision", "macro_recall"]  # fmt: skip
    out += ["## Precision and recall (mean over the streams; per stream in summary.csv)", ""]
    header = ["model"] + [m.replace("_", " ") for m in pr]
    rows = [[m] + [_stream_mean([by.get((s, m)) for s in streams], k) for k in pr] for m in models]
    out += [_md_table(header, rows), ""]
    out += ["## Average ranks (models run here; 1 = best; Friedman test)", ""]
    rank_metrics = [*MAIN_METRICS, "instances_per_s"]
    run_ranks = ranks.get("run", {})
    if run_ranks:
        header = ["model"] + [_LABELS.get(m, m).split(" (")[0] for m in rank_metrics]
        rows = []
        for m in models:
            rows.append(
                [m]
                + [
                    "—"
                    if run_ranks.get(k, {}).get("ranks", {}).get(m) is None
                    else f"{run_ranks[k]['ranks'][m]:.2f}"
                    for k in rank_metrics
                ]
            )
        rows.append(
            ["streams ranked"]
            + [str(run_ranks.get(k, {}).get("n_streams", 0)) for k in rank_metrics]
        )
        rows.append(
            ["Friedman p"] + [_p(run_ranks.get(k, {}).get("friedman_p")) for k in rank_metrics]
        )
        rows.append(
            ["Nemenyi CD (0.05)"]
            + [_f(run_ranks.get(k, {}).get("nemenyi_cd")) for k in rank_metrics]
        )
        out += [_md_table(header, rows), ""]
        excluded = sorted(
            {s for k in rank_metrics for s in run_ranks.get(k, {}).get("excluded_streams", [])}
        )
        if excluded:
            out += [
                "Streams left out of the ranks (a model has no outcome there yet): "
                + ", ".join(excluded)
                + ".",
                "",
            ]
        out += [
            "DNF, errors and pairs left out as too slow rank last on their stream (tied).",
            "",
        ]
    wp = ranks.get("with_published", {})
    if wp:
        out += ["## Average ranks including the published methods (quality metrics)", ""]
        all_models = models + pub_models
        header = ["model"] + [_LABELS.get(m, m).split(" (")[0] for m in MAIN_METRICS]
        rows = []
        for m in all_models:
            rows.append(
                [m]
                + [
                    "—"
                    if wp.get(k, {}).get("ranks", {}).get(m) is None
                    else f"{wp[k]['ranks'][m]:.2f}"
                    for k in MAIN_METRICS
                ]
            )
        rows.append(
            ["streams ranked"] + [str(wp.get(k, {}).get("n_streams", 0)) for k in MAIN_METRICS]
        )
        rows.append(["Friedman p"] + [_p(wp.get(k, {}).get("friedman_p")) for k in MAIN_METRICS])
        out += [_md_table(header, rows), ""]
    out += ["## Time, throughput and memory (this machine)", ""]
    header = ["model"] + [f"{s} inst/s" for s in streams] + ["total seconds", "max peak RSS MB"]
    rows = []
    for m in models:
        cells = [by.get((s, m)) for s in streams]
        secs = [
            c["seconds"] for c in cells if c and c["status"] == "ok" and c["seconds"] is not None
        ]
        total = f"{sum(secs):,.1f}" if len(secs) == len(cells) else f"{sum(secs):,.1f} (partial)"
        rss = [c["peak_rss_mb"] for c in cells if c and c.get("peak_rss_mb") is not None]
        rows.append(
            [m]
            + [fmt_cell(c, "instances_per_s") for c in cells]
            + [total, f"{max(rss):.0f}" if rss else "—"]
        )
    out += [_md_table(header, rows), ""]
    if pub_models:
        out += ["Published times (authors' machine, seconds; not comparable with ours):", ""]
        header = ["model", *streams]
        rows = [
            [m] + [_f(pub_by.get((s, m), {}).get("published_time_s"), 1) for s in streams]
            for m in pub_models
        ]
        out += [_md_table(header, rows), ""]
    checks = meta.get("measured_here_check") or []
    if checks:
        out += ["## Sanity check against ../shared/reference/measured-here.md", ""]
        out.append(
            "The same peers measured earlier on this kind of machine (same protocol): our value "
            "/ theirs (difference). Large differences are listed in the notes below the table."
        )
        out.append("")
        header = ["stream", "model", "micro F1", "subset accuracy", "Hamming loss", "seconds"]
        rows = []
        for c in checks:
            cells = [c["stream"], c["model"]]
            for m in ("micro_f1", "subset_accuracy", "hamming_loss"):
                cells.append(f"{c[m]:.3f} / {c[m + '_ref']:.3f} ({c[m] - c[m + '_ref']:+.3f})")
            cells.append(f"{c['seconds']:.1f} / {c['seconds_ref']:.1f}")
            rows.append(cells)
        out += [_md_table(header, rows), ""]
        big = [c for c in checks if abs(c["micro_f1"] - c["micro_f1_ref"]) > 0.02]
        if big:
            out.append(
                "Differences above 0.02 micro-F1: "
                + ", ".join(f"{c['model']} on {c['stream']}" for c in big)
                + "."
            )
            out.append("")
    skipped = meta.get("skipped") or []
    if skipped:
        out += ["## Left out", ""]
        out += [f"- {s['model']} on {s['stream']}: {s['reason']}" for s in skipped]
        out.append("")
    problems = [r for r in summary if r["status"] in ("dnf", "error", "missing")]  # not-run: above
    if problems:
        out += ["## DNF / errors / not run yet", ""]
        out += [
            f"- {r['model']} on {r['stream']}: {r['status']} {r.get('reason', '')}".rstrip()
            for r in problems
        ]
        out.append("")
    out += ["## Notes", ""]
    out += [f"- {n}" for n in meta.get("notes", [])]
    plots = meta.get("plots") or []
    if plots:
        out += ["", "## Plots", ""]
        out += [f"![{Path(p).stem}]({p})" for p in plots]
    out.append("")
    return "\n".join(out)


def measured_here_check(summary: Sequence[dict], measured: dict) -> list[dict]:
    """Our (stream, model) rows next to the same peer's row in ``measured-here.md``."""
    out = []
    for row in summary:
        ref = measured.get((PUBLISHED_ALIASES.get(row["stream"], row["stream"]), row["model"]))
        if row["status"] != "ok" or not ref:
            continue
        keys = ("micro_f1", "subset_accuracy", "hamming_loss", "seconds")
        if not all(k in ref and row.get(k) is not None for k in keys):
            continue
        check = {"stream": row["stream"], "model": row["model"]}
        for k in keys:
            check[k] = row[k]
            check[f"{k}_ref"] = ref[k]
        out.append(check)
    return out


def _p(v: float | None) -> str:
    return "—" if v is None else (f"{v:.3g}" if v >= 1e-4 else "<1e-4")


def _f(v: float | None, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def write_report(
    records: Sequence[dict],
    out: str | os.PathLike,
    *,
    published: Sequence[dict] = (),
    measured: dict | None = None,
    meta: dict | None = None,
) -> dict[str, Path]:
    """Write ``runs.csv``, ``summary.csv``, ``ranks.csv``, ``traces.csv.gz``, ``events.csv``,
    ``results.json`` and ``summary.md`` under ``out``; return their paths by name.

    ``published``: rows of :func:`ihomer.bench.published.load_published`; ``measured``: the table
    of :func:`ihomer.bench.published.load_measured_here` (a sanity check of the peers)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(meta or {})
    runs, summary = summarize(records)
    summary += not_run_rows(meta.get("skipped") or [])
    pub = published_for(published, [r["stream"] for r in summary])
    ranks = rank_tables(summary, pub)
    paths: dict[str, Path] = {}
    if measured:
        meta["measured_here_check"] = measured_here_check(summary, measured)

    run_cols = ["stream", "model", "seed", "status", "n", *METRIC_NAMES, "seconds",
                "instances_per_s", "peak_rss_mb", "rss_before_run_mb", "peak_traced_mb",
                "n_clusters", "started_at", "reason"]  # fmt: skip
    paths["runs"] = out / "runs.csv"
    _write_csv(paths["runs"], runs, run_cols)

    sum_cols = ["stream", "model", "kind", "status", "n_runs", "n_ok", "seeds", "n"]
    for m in [*METRIC_NAMES, "seconds", "instances_per_s"]:
        sum_cols += [m, f"{m}_std"]
    sum_cols += ["peak_rss_mb", "n_clusters_final", "published_time_s", "reason"]
    pub_rows = [{**r, "kind": "published", "n_runs": "", "n_ok": "", "seeds": ""} for r in pub]
    paths["summary"] = out / "summary.csv"
    _write_csv(paths["summary"], list(summary) + pub_rows, sum_cols)

    rank_rows = []
    for table, per_metric in ranks.items():
        for metric, r in per_metric.items():
            for model, rank in r["ranks"].items():
                rank_rows.append({
                    "ranking": table, "metric": metric, "model": model, "average_rank": rank,
                    "n_streams": r["n_streams"], "n_models": r["n_models"],
                    "friedman_chi2": r["friedman_chi2"], "friedman_p": r["friedman_p"],
                    "iman_davenport_f": r["iman_davenport_f"],
                    "iman_davenport_p": r["iman_davenport_p"], "nemenyi_cd": r["nemenyi_cd"],
                    "streams": " ".join(r["streams"]),
                    "excluded_streams": " ".join(r["excluded_streams"]),
                })  # fmt: skip
    paths["ranks"] = out / "ranks.csv"
    _write_csv(paths["ranks"], rank_rows)

    trace_rows, event_rows = [], []
    for record in records:
        if record.get("status") != "ok":
            continue
        job: Job = record["_job"]
        base = {"stream": job.stream_name, "model": job.model,
                "seed": "" if job.seed is None else job.seed}  # fmt: skip
        for entry in (record.get("result") or {}).get("trace", []):
            trace_rows.append({**base, **entry})
        for event in record.get("events", []):
            event_rows.append({**base, "n": event.get("n"), "step": event.get("step"),
                               "kind": event.get("kind")})  # fmt: skip
    trace_cols = ["stream", "model", "seed", "n", "seconds", *METRIC_NAMES, "n_clusters"]
    trace_cols += sorted({k for r in trace_rows for k in r if k.startswith("window_")})
    paths["traces"] = out / "traces.csv.gz"
    _write_csv(paths["traces"], trace_rows, trace_cols)
    paths["events"] = out / "events.csv"
    _write_csv(paths["events"], event_rows, ["stream", "model", "seed", "n", "step", "kind"])

    stream_info = {}
    for record in records:
        if record.get("status") == "ok" and record["_job"].stream_name not in stream_info:
            stream_info[record["_job"].stream_name] = record.get("stream")
    results = {
        "meta": meta,
        "streams": stream_info,
        "summary": list(summary),
        "published": pub,
        "ranks": ranks,
        "runs": runs,
    }
    paths["json"] = out / "results.json"
    write_json_atomic(paths["json"], _clean(results), indent=1)
    paths["markdown"] = out / "summary.md"
    tmp = paths["markdown"].with_suffix(".md.tmp")
    tmp.write_text(markdown(summary, pub, ranks, meta), encoding="utf-8")
    os.replace(tmp, paths["markdown"])
    return paths


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


def load_results(path: str | os.PathLike) -> dict:
    """Read a ``results.json`` written by :func:`write_report`."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)
