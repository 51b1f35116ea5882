"""Ablation benchmark: what each part of iHOMER earns, on each metric, on each stream.

This script owns the ablation of issue 11 (item 1): a fixed list of named variants of
:class:`ihomer.IHOMER` (:data:`VARIANTS`), each one run whole-stream prequential (test-then-train,
file order, :func:`ihomer.evaluate.prequential`, river's metric definitions through
:class:`ihomer.metrics.MultiLabelReport`) on every stream of the development suite, on the
held-out streams cal500 and corel5k (reported apart, never in the development means) and on a
5,000-instance prefix of the many-label delicious (four variants only, flagged as a prefix). Beside
them runs the "always predict the empty set" baseline, so that the summary shows where a variant
predicts worse than nothing on Hamming loss.

Every (stream, variant) job runs in its own worker process (``--jobs``, at most that many at once);
the CPU seconds (``time.process_time``) of its prequential loop are measured with the stream already
read into memory, so they are the model's and the scoring's, not the parser's. A job's result is a
JSON file under ``<out>/jobs/<stream>/<variant>.json``; jobs whose file exists are skipped, so an
interrupted run continues where it stopped (``--rerun`` runs them again). Then
``<out>/results.json`` (every record plus the summaries) and ``<out>/summary.md`` are written from
all the job files found, and the development-suite means table is printed.

Signs: a *delta* is ``default - variant`` for the metrics where bigger is better and
``variant - default`` for Hamming loss, so a positive delta is what the default's setting (the part
the variant removes or changes) earns.

Examples::

    python benchmarks/ablation.py --jobs 2                    # everything, resumable
    python benchmarks/ablation.py --streams yeast enron --variants default hierarchy
    python benchmarks/ablation.py --quick --out /tmp/ablation # river:yeast prefix + tiny synth
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core per worker: --jobs is the parallelism

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterable, Mapping, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ihomer.bench.jobs import write_json_atomic  # noqa: E402
from ihomer.bench.published import load_published  # noqa: E402
from ihomer.metrics import METRIC_NAMES  # noqa: E402

__all__ = [
    "VARIANTS",
    "STREAMS",
    "SUMMARY_METRICS",
    "Variant",
    "StreamSpec",
    "make_model",
    "run_job",
    "best_published",
    "summarise",
    "main",
]

#: The metrics of the summary tables, in order, and their short column names.
SUMMARY_METRICS: dict[str, str] = {
    "subset_accuracy": "subset acc",
    "example_f1": "example F1",
    "micro_f1": "micro F1",
    "macro_f1": "macro F1",
    "hamming_loss": "Hamming",
}
LOWER_IS_BETTER = {"hamming_loss"}

#: The name of the always-empty baseline's records (not a variant: no delta, no mean row).
EMPTY = "empty-set"
#: The learning partition's size is sampled every this many instances (for ``n_clusters_max``).
TRACE_EVERY = 100
#: Per-stream differences to default larger than this are listed in the summary.
NOTABLE = 0.01


@dataclass(frozen=True)
class Variant:
    """One configuration of the ablation: ``kwargs`` of IHOMER, and the cluster tree's when set."""

    name: str
    part: str
    kwargs: Mapping[str, Any]
    tree_kwargs: Mapping[str, Any] | None = None


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        Variant("default", "iHOMER as shipped (one cluster of every label: one multi-label tree)",
                {}),
        Variant("hierarchy", "the iHOMER paper's label hierarchy (refined ODAC partition, one "
                "tree per cluster, routing from 16 clusters on)", {"partitioning": "hierarchy"}),
        Variant("hierarchy-routed", "the hierarchy always routed (HOMER meta-label models from "
                "2 clusters)", {"partitioning": "hierarchy", "routing": True}),
        Variant("hierarchy-no-handover", "the hierarchy; a new cluster's own learner serves at "
                "once", {"partitioning": "hierarchy", "handover": False}),
        Variant("binary-relevance", "singleton clusters, one tree per label, never routed",
                {"partitioning": "binary_relevance", "routing": False}),
        Variant("binary-relevance-routed",
                "singleton clusters, routed (a meta-label model per label decides which trees "
                "see an instance)",
                {"partitioning": "binary_relevance", "routing": True}),
        Variant("no-cluster-drift", "no per-cluster ADWIN / background learner",
                {"cluster_drift_delta": None}),
        Variant("no-global-drift", "no ADWIN on the instance error", {"global_drift_delta": None}),
        Variant("no-node-drift", "no ADWIN in the tree nodes", {}, {"adwin_delta": None}),
        Variant("no-empty-fallback", "an empty prediction stays empty", {"empty_fallback": False}),
        Variant("no-label-set-leaves", "leaf models without last_set / mode_set", {},
                {"leaf_model": ("prior", "naive_bayes", "linear")}),
        Variant("fixed-decision", "P > 0.5 for every label (no learned thresholds)",
                {"decision": "fixed"}),
        Variant("balanced-decision", "per-label thresholds halfway between the Hamming- and "
                "the F1-optimal ones", {"decision": "balanced"}),
        Variant("steady-selection", "the leaf's candidate scores faded by 0.995 instead of "
                "0.97 (a steadier choice between its models)", {}, {"select_fading": 0.995}),
        Variant("raw-naive-bayes", "the leaves' naive Bayes served and compared uncalibrated "
                "(no online shrinkage and bias of its log-odds)", {}, {"nb_calibration": 0.0}),
        Variant("no-nb-mix", "a leaf serves its chosen candidate alone (naive Bayes not "
                "averaged in, and dropped once it trails)", {}, {"nb_mix": 0.0}),
        Variant("no-margin-blend", "the learners' probabilities served alone (no hinge-loss "
                "margin scorers blended in)", {"margin_blend": None}),
    ]
}  # fmt: skip

#: Variants run on the many-label delicious prefix.
DELICIOUS_VARIANTS = ("default", "fixed-decision", "hierarchy", "hierarchy-routed",
                      "binary-relevance", "binary-relevance-routed")


@dataclass(frozen=True)
class StreamSpec:
    """A stream of the ablation: how to open it and which table it belongs to.

    ``group`` is ``"dev"`` (in the development means), ``"held-out"``, ``"prefix"`` (a flagged
    prefix of a long stream) or ``"quick"``; ``variants`` restricts the variants run on it.
    """

    name: str
    spec: str
    group: str
    limit: int | None = None
    label_xml: str | None = None
    variants: tuple[str, ...] | None = None


def _datasets_dir() -> Path:
    from streams import shared_datasets_dir

    folder = shared_datasets_dir()
    return folder if folder is not None else Path(__file__).resolve().parents[2] / "shared/datasets"


def _streams() -> dict[str, StreamSpec]:
    from streams import DEV_SUITE

    # the published targets are means over the ten streams they cover: delicious (983 labels)
    # is reported apart, as the many-label stream
    specs = [StreamSpec(n, n, "dev") for n in DEV_SUITE if n != "delicious"]
    specs += [StreamSpec(n, n, "held-out") for n in ("cal500", "corel5k")]
    specs += [StreamSpec(n, n, "many-label") for n in DEV_SUITE if n == "delicious"]
    folder = _datasets_dir()
    specs.append(StreamSpec("delicious-5000", str(folder / "delicious.arff"), "prefix", 5000,
                            str(folder / "delicious.xml"), DELICIOUS_VARIANTS))
    return {s.name: s for s in specs}


STREAMS: dict[str, StreamSpec] = _streams()

QUICK_STREAMS: dict[str, StreamSpec] = {
    "yeast-river-300": StreamSpec("yeast-river-300", "river:yeast", "quick", 300),
    "synth-tiny": StreamSpec("synth-tiny", "synth:n_instances=300,n_labels=6,n_features=8",
                             "quick"),
}


class EmptySetBaseline:
    """Always predicts the empty label set; learns nothing."""

    def predict_one(self, x: Mapping) -> dict:
        return {}

    def learn_one(self, x: Mapping, y: Mapping) -> None:
        return None


def make_model(variant: str, seed: int = 0) -> Any:
    """The model of ``variant`` (a name of :data:`VARIANTS`, or :data:`EMPTY`)."""
    if variant == EMPTY:
        return EmptySetBaseline()
    from ihomer import IHOMER
    from ihomer.trees import MultiLabelHoeffdingTree

    v = VARIANTS[variant]
    kwargs = dict(v.kwargs)
    if v.tree_kwargs is not None:
        kwargs["cluster_learner"] = MultiLabelHoeffdingTree(**v.tree_kwargs)
    return IHOMER(seed=seed, **kwargs)


def _open(stream: StreamSpec, limit: int | None) -> list[tuple[dict, dict]]:
    from streams import open_stream

    kwargs: dict[str, Any] = {}
    if stream.label_xml is not None:
        kwargs["label_xml"] = stream.label_xml
    cap = _effective_limit(stream, limit)
    if cap is not None:
        kwargs["limit"] = cap
    return list(open_stream(stream.spec, **kwargs))


def run_job(stream: StreamSpec, variant: str, limit: int | None) -> dict:
    """Run one (stream, variant) job in this process; return its JSON-ready record."""
    from ihomer.evaluate import prequential

    started = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = _open(stream, limit)
    model = make_model(variant)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = prequential(model, data, trace_every=TRACE_EVERY, events=True)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    n_clusters = getattr(model, "n_clusters", None)
    sizes = [t["n_clusters"] for t in result.trace if t.get("n_clusters") is not None]
    events: dict[str, int] = {}
    for e in result.events:  # learner swaps split by reason (drift / handover)
        kind = e["kind"] + (f" ({e['reason']})" if e.get("reason") else "")
        events[kind] = events.get(kind, 0) + 1
    return {
        "stream": stream.name,
        "spec": stream.spec,
        "group": stream.group,
        "variant": variant,
        "n": result.n,
        "limit": _effective_limit(stream, limit),
        "metrics": {k: float(result.metrics[k]) for k in METRIC_NAMES},
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "n_clusters": None if n_clusters is None else int(n_clusters),
        "n_clusters_max": max(sizes) if sizes else None,
        "events": dict(sorted(events.items())),
        "started_at": started,
    }


def _job_path(out: Path, stream: str, variant: str) -> Path:
    return out / "jobs" / stream / f"{variant}.json"


def _effective_limit(stream: StreamSpec, limit: int | None) -> int | None:
    caps = [c for c in (stream.limit, limit) if c is not None]
    return min(caps) if caps else None


def _is_done(path: Path, stream: StreamSpec, limit: int | None) -> bool:
    """A result file exists for the same prefix (a run with another ``--limit`` is redone)."""
    if not path.is_file():
        return False
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f).get("limit") == _effective_limit(stream, limit)
    except (OSError, ValueError):
        return False


def _worker(task: tuple[StreamSpec, str, int | None, str]) -> tuple[str, str, float, str | None]:
    stream, variant, limit, path = task
    t0 = time.perf_counter()
    try:
        record = run_job(stream, variant, limit)
    except Exception as exc:  # reported, not stored: the job runs again next time
        return stream.name, variant, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"
    write_json_atomic(path, record, indent=1)
    return stream.name, variant, time.perf_counter() - t0, None


def plan(streams: Iterable[StreamSpec], variants: Sequence[str]) -> list[tuple[StreamSpec, str]]:
    """Every (stream, variant) job, the empty-set baseline of each stream first; long streams
    after short ones within each variant order (the held-out and prefix streams last)."""
    order = {"quick": 0, "dev": 1, "held-out": 2, "many-label": 3, "prefix": 4}
    jobs = []
    for s in sorted(streams, key=lambda s: order.get(s.group, 9)):
        allowed = [v for v in variants if s.variants is None or v in s.variants]
        if allowed:
            jobs += [(s, EMPTY)] + [(s, v) for v in allowed]
    return jobs


def run_all(jobs: Sequence[tuple[StreamSpec, str]], out: Path, n_jobs: int,
            limit: int | None, rerun: bool = False,
            log: Callable[[str], Any] = print) -> list[str]:
    """Run the jobs whose result file is missing (all of them with ``rerun``); return errors."""
    todo = [(s, v, limit, str(_job_path(out, s.name, v))) for s, v in jobs
            if rerun or not _is_done(_job_path(out, s.name, v), s, limit)]
    log(f"{len(jobs)} jobs, {len(jobs) - len(todo)} already done, {len(todo)} to run "
        f"with {n_jobs} worker(s)")
    errors: list[str] = []
    if not todo:
        return errors
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes=n_jobs, maxtasksperchild=1) as pool:
        for i, (stream, variant, seconds, error) in enumerate(
            pool.imap_unordered(_worker, todo), start=1
        ):
            status = "ok" if error is None else f"FAILED {error}"
            log(f"[{i}/{len(todo)}] {stream} / {variant}: {seconds:.1f} s wall, {status}")
            if error is not None:
                errors.append(f"{stream} / {variant}: {error}")
    return errors


def load_records(out: Path) -> list[dict]:
    """Every job record under ``<out>/jobs``."""
    records = []
    for path in sorted((out / "jobs").glob("*/*.json")):
        with open(path, encoding="utf-8") as f:
            records.append(json.load(f))
    return records


def best_published(folder: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """The best value among the published methods on each of the 10 development streams, per
    metric (Hamming: the lowest), averaged over the streams; None without the reference folder.

    A method's did-not-finish cells are skipped (:func:`ihomer.bench.published.load_published`
    drops a DNF run's every metric).
    """
    from streams import DEV_SUITE

    rows = [r for r in load_published(folder) if r["stream"] in DEV_SUITE and r["status"] == "ok"]
    if not rows:
        return None
    target: dict[str, Any] = {"streams": sorted({r["stream"] for r in rows}),
                              "methods": sorted({r["method"] for r in rows})}
    for metric in SUMMARY_METRICS:
        pick = min if metric in LOWER_IS_BETTER else max
        per_stream = {}
        for s in target["streams"]:
            values = [r[metric] for r in rows if r["stream"] == s and r.get(metric) is not None]
            if values:
                per_stream[s] = pick(values)
        target[metric] = sum(per_stream.values()) / len(per_stream) if per_stream else None
        target[f"{metric}_per_stream"] = per_stream
    return target


def _delta(metric: str, value: float, default: float) -> float:
    """Positive = the default's setting earns that much."""
    return value - default if metric in LOWER_IS_BETTER else default - value


def _means(by: Mapping[tuple[str, str], dict], streams: Sequence[str],
           variants: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per variant: the mean of each summary metric over ``streams``, total CPU seconds, and
    the delta to default (None when the two do not cover the same streams)."""
    means: dict[str, dict[str, Any]] = {}
    for v in variants:
        have = [s for s in streams if (s, v) in by]
        if not have:
            continue
        row: dict[str, Any] = {"streams": len(have),
                               "missing": [s for s in streams if s not in have]}
        for m in SUMMARY_METRICS:
            row[m] = sum(by[s, v]["metrics"][m] for s in have) / len(have)
        row["cpu_seconds"] = sum(by[s, v]["cpu_seconds"] for s in have)
        means[v] = row
    if "default" in means:
        base = means["default"]
        for row in means.values():
            comparable = row["missing"] == base["missing"]
            for m in SUMMARY_METRICS:
                row[f"delta_{m}"] = _delta(m, row[m], base[m]) if comparable else None
    return means


def summarise(records: Sequence[dict], variants: Sequence[str],
              target: Mapping[str, Any] | None) -> dict[str, Any]:
    """Means per variant over the development (or quick) streams, deltas to default, per-stream
    deltas beyond :data:`NOTABLE`, and the empty-set baseline's Hamming loss per stream."""
    by = {(r["stream"], r["variant"]): r for r in records}
    streams_of: dict[str, list[str]] = {}
    for r in records:
        group = STREAMS[r["stream"]].group if r["stream"] in STREAMS else r["group"]
        names = streams_of.setdefault(group, [])
        if r["stream"] not in names:
            names.append(r["stream"])
    mean_group = "dev" if "dev" in streams_of else "quick"
    mean_streams = streams_of.get(mean_group, [])
    means = _means(by, mean_streams, variants)
    group_means = {g: _means(by, streams_of[g], variants)
                   for g in ("held-out", "many-label", "prefix")
                   if g != mean_group and streams_of.get(g)}
    notable = []
    for (s, v), r in sorted(by.items()):
        if v in ("default", EMPTY) or (s, "default") not in by:
            continue
        for m in SUMMARY_METRICS:
            d = _delta(m, r["metrics"][m], by[s, "default"]["metrics"][m])
            if abs(d) > NOTABLE:
                notable.append({"stream": s, "variant": v, "metric": m, "delta": d,
                                "value": r["metrics"][m],
                                "default": by[s, "default"]["metrics"][m]})
    empty = []
    for group in ("quick", "dev", "held-out", "many-label", "prefix"):
        for s in streams_of.get(group, []):
            if (s, EMPTY) not in by:
                continue
            e = by[s, EMPTY]["metrics"]["hamming_loss"]
            row = {"stream": s, "group": group, "empty_hamming": e,
                   "worse_than_empty": sorted(v for v in variants if (s, v) in by
                                              and by[s, v]["metrics"]["hamming_loss"] > e)}
            if (s, "default") in by:
                row["default_hamming"] = by[s, "default"]["metrics"]["hamming_loss"]
            empty.append(row)
    return {"mean_group": mean_group, "mean_streams": mean_streams, "streams": streams_of,
            "means": means, "group_means": group_means, "target": target, "notable": notable,
            "empty_set": empty}


def _f(value: float | None, digits: int = 3, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _digits(metric: str) -> int:
    return 4 if metric in LOWER_IS_BETTER else 3


def means_table(summary: Mapping[str, Any], group: str | None = None) -> str:
    """The means per variant with the deltas to default (markdown): over the development suite
    (with the target row), or over the streams of ``group``."""
    head = ["variant", "streams"]
    for name in SUMMARY_METRICS.values():
        head += [name, "Δ"]
    head += ["CPU s", "× default"]
    lines = ["| " + " | ".join(head) + " |",
             "|---|" + "---:|" * (len(head) - 1)]
    means = summary["means"] if group is None else summary["group_means"][group]
    base_cpu = means.get("default", {}).get("cpu_seconds")
    for v, row in means.items():
        cells = [v, str(row["streams"])]
        for m in SUMMARY_METRICS:
            cells += [_f(row[m], _digits(m)), _f(row.get(f"delta_{m}"), _digits(m), True)]
        ratio = row["cpu_seconds"] / base_cpu if base_cpu else None
        cells += [f"{row['cpu_seconds']:.1f}", _f(ratio, 2)]
        lines.append("| " + " | ".join(cells) + " |")
    target = summary.get("target") if group is None else None
    if target is not None:
        cells = ["target: best of the published 17, per stream, averaged",
                 str(len(target["streams"]))]
        for m in SUMMARY_METRICS:
            cells += [_f(target[m], _digits(m)), ""]
        cells += ["", ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _stream_label(s: str, by: Mapping[tuple[str, str], dict]) -> str:
    r = next((r for (name, _), r in by.items() if name == s), None)
    if r is not None and r.get("limit"):
        return f"{s} (first {r['n']:,})"
    return s


def render(records: Sequence[dict], variants: Sequence[str], summary: Mapping[str, Any],
           commands: Sequence[str]) -> str:
    """The markdown summary."""
    by = {(r["stream"], r["variant"]): r for r in records}
    streams_of = summary["streams"]
    group_names = {"dev": "development suite", "quick": "quick", "held-out": "held-out",
                   "many-label": "many-label", "prefix": "prefix (not the whole stream)"}
    mean_streams = summary["mean_streams"]
    out = [
        "# Ablation: what each part of iHOMER earns",
        "",
        "Whole-stream prequential (test-then-train, file order, river's metric definitions), one "
        "run per (stream, variant), seed 0 (the model is deterministic). "
        "**Δ = default − variant** for the metrics where bigger is better and "
        "**variant − default** for Hamming loss: a positive Δ is what the default's setting "
        "(the part the variant removes or changes) earns. CPU s: `time.process_time` of the "
        "prequential loop (stream already in memory), summed over the streams; 2 shared, noisy "
        "cores, so CPU times are rough.",
        "",
        "Commands (the job files of all of them are reported): "
        + ", ".join(f"`{c}`" for c in commands),
        "",
        "## Variants",
        "",
        "| variant | what changes |",
        "|---|---|",
    ]
    for v in variants:
        if v in VARIANTS:
            out.append(f"| {v} | {VARIANTS[v].part} |")
    out += [
        f"| {EMPTY} | baseline: always predicts the empty label set |",
        "",
        f"## 1. Means over the {group_names[summary['mean_group']]} "
        f"({len(mean_streams)} streams: {', '.join(mean_streams)})",
        "",
        means_table(summary),
        "",
    ]
    if summary.get("target") is not None:
        out += [
            "The target row is the best value among the 17 published methods (MLHAT paper, "
            "`../shared/reference/`) on each of the 10 development streams, averaged; "
            "comparable only with full development-suite runs.",
            "",
        ]
    for g in summary.get("group_means", {}):
        names = [_stream_label(s, by) for s in streams_of[g]]
        title = {"held-out": "Held-out streams", "many-label": "The many-label stream",
                 "prefix": "Prefixes of long streams (not the whole stream)"}[g]
        out += [f"### {title}, apart from the development means: {', '.join(names)}", "",
                means_table(summary, g), ""]
    ordered = [s for g in ("quick", "dev", "held-out", "many-label", "prefix")
               for s in streams_of.get(g, [])]
    out += ["## 2. Per stream", ""]
    for m, name in SUMMARY_METRICS.items():
        out += [f"### {name}" + (" (lower is better)" if m in LOWER_IS_BETTER else ""), ""]
        groups = [g for g in ("quick", "dev", "held-out", "many-label", "prefix")
                  if streams_of.get(g)]
        head = ["variant"]
        for g in groups:
            head += [_stream_label(s, by) for s in streams_of[g]]
            if g == summary["mean_group"]:
                head.append("mean")
        out.append("| " + " | ".join(head) + " |")
        out.append("|---|" + "---:|" * (len(head) - 1))
        for v in [*variants, EMPTY]:
            cells = [v]
            for g in groups:
                for s in streams_of[g]:
                    r = by.get((s, v))
                    cells.append(_f(r["metrics"][m], _digits(m)) if r else "")
                if g == summary["mean_group"]:
                    row = summary["means"].get(v)
                    if v == EMPTY:
                        vals = [by[s, v]["metrics"][m] for s in streams_of[g] if (s, v) in by]
                        cells.append(_f(sum(vals) / len(vals), _digits(m)) if vals else "")
                    else:
                        cells.append(_f(row[m], _digits(m)) if row else "")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    out += [f"### Where a variant differs from default by more than {NOTABLE} "
            "(Δ as above: positive = default better)", ""]
    if summary["notable"]:
        out += ["| stream | variant | metric | variant value | default | Δ |",
                "|---|---|---|---:|---:|---:|"]
        rank = {s: i for i, s in enumerate(ordered)}
        for n in sorted(summary["notable"], key=lambda n: (n["variant"], rank.get(n["stream"], 0),
                                                           list(SUMMARY_METRICS).index(n["metric"]))):
            d = _digits(n["metric"])
            out.append(f"| {_stream_label(n['stream'], by)} | {n['variant']} | "
                       f"{SUMMARY_METRICS[n['metric']]} | {_f(n['value'], d)} | "
                       f"{_f(n['default'], d)} | {_f(n['delta'], d, True)} |")
    else:
        out.append("None.")
    out += ["", "### CPU seconds of the prequential loop", ""]
    head = ["variant", *[_stream_label(s, by) for s in ordered]]
    out += ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for v in [*variants, EMPTY]:
        cells = [v] + [f"{by[s, v]['cpu_seconds']:.2f}" if (s, v) in by else "" for s in ordered]
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "### Clusters in the learning partition: at the end (most at any sample, every "
            f"{TRACE_EVERY} instances)", ""]
    out += ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for v in variants:
        cells = [v]
        for s in ordered:
            r = by.get((s, v))
            cells.append("" if r is None or r.get("n_clusters") is None
                         else f"{r['n_clusters']} ({r.get('n_clusters_max')})")
        out.append("| " + " | ".join(cells) + " |")
    kinds = sorted({k for r in records if r["variant"] == "default"
                    for k in r.get("events", {})})
    if kinds:
        streams = [s for s in ordered if (s, "default") in by]
        out += ["", "### Structural events of the default run (counts over the whole stream)",
                "", "Drift detections, swaps and label-hierarchy changes the default model "
                "recorded (`IHOMER.events`).", ""]
        head = ["event", *[_stream_label(s, by) for s in streams]]
        out += ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
        for k in kinds:
            cells = [k] + [str(by[s, "default"].get("events", {}).get(k, 0)) for s in streams]
            out.append("| " + " | ".join(cells) + " |")
    out += [
        "",
        "## 3. Hamming loss of the empty prediction beside default's",
        "",
        "The empty-set baseline's Hamming loss is the label density; a model above it predicts "
        "worse than nothing on that metric.",
        "",
        "| stream | group | empty set | default | default − empty | variants worse than empty |",
        "|---|---|---:|---:|---:|---|",
    ]
    for e in summary["empty_set"]:
        d = e.get("default_hamming")
        gap = None if d is None else d - e["empty_hamming"]
        out.append(f"| {_stream_label(e['stream'], by)} | {e['group']} | "
                   f"{_f(e['empty_hamming'], 4)} | {_f(d, 4)} | {_f(gap, 4, True)} | "
                   f"{', '.join(e['worse_than_empty']) or '—'} |")
    out.append("")
    return "\n".join(out)


def _previous_commands(path: Path) -> list[str]:
    """The commands recorded in an earlier ``results.json`` of the same folder (resumed runs)."""
    try:
        with open(path, encoding="utf-8") as f:
            previous = json.load(f)
    except (OSError, ValueError):
        return []
    commands = previous.get("commands") or [previous.get("command")]
    return [c for c in commands if isinstance(c, str)]


def _command_line(argv: Sequence[str]) -> str:
    return "python benchmarks/ablation.py" + "".join(" " + shlex.quote(a) for a in argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", nargs="+", metavar="NAME",
                        help=f"streams to run (default: all of {', '.join(STREAMS)})")
    parser.add_argument("--variants", nargs="+", metavar="NAME",
                        help=f"variants to run (default: all of {', '.join(VARIANTS)})")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent
                        / "results" / "ablation", help="output folder")
    parser.add_argument("--limit", type=int, default=None,
                        help="score only this prefix of every stream")
    parser.add_argument("--quick", action="store_true",
                        help="river:yeast's first 300 and a tiny synthetic stream (a smoke test)")
    parser.add_argument("--rerun", action="store_true", help="run jobs whose result file exists")
    args = parser.parse_args(argv)

    catalogue = QUICK_STREAMS if args.quick else STREAMS
    names = args.streams or list(catalogue)
    unknown = [s for s in names if s not in catalogue]
    variants = args.variants or list(VARIANTS)
    unknown += [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown stream or variant: {', '.join(unknown)} "
                     f"(streams: {', '.join(catalogue)}; variants: {', '.join(VARIANTS)})")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    jobs = plan([catalogue[s] for s in names], variants)
    t0 = time.perf_counter()
    errors = run_all(jobs, out, args.jobs, args.limit, args.rerun,
                     log=lambda text: print(text, file=sys.stderr, flush=True))

    # The report covers every job file found (earlier runs included), variants in list order.
    rank = {name: i for i, name in enumerate([*QUICK_STREAMS, *STREAMS])}
    vrank = {name: i for i, name in enumerate([EMPTY, *VARIANTS])}
    records = sorted(load_records(out), key=lambda r: (rank.get(r["stream"], len(rank)),
                                                       r["stream"], vrank.get(r["variant"], 99)))
    seen = {r["variant"] for r in records}
    shown = [v for v in VARIANTS if v in seen]
    target = None if args.quick else best_published()
    summary = summarise(records, shown, target)
    command = _command_line(argv)
    commands = list(dict.fromkeys([*_previous_commands(out / "results.json"), command]))
    write_json_atomic(out / "results.json", {
        "command": command,
        "commands": commands,
        "generated_at": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "variants": {v.name: {"part": v.part, "kwargs": dict(v.kwargs),
                              "tree_kwargs": None if v.tree_kwargs is None
                              else dict(v.tree_kwargs)} for v in VARIANTS.values()},
        "records": records,
        "summary": summary,
    }, indent=1)
    (out / "summary.md").write_text(render(records, shown, summary, commands), encoding="utf-8")
    print(means_table(summary))
    print(f"\n{len(records)} job results in {out} ({time.perf_counter() - t0:.0f} s wall this run)",
          file=sys.stderr)
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
