"""The benchmark's PNG plots (matplotlib, Agg backend, imported lazily: the ``bench`` extra).

This module owns :func:`write_plots`: per stream, a metric over stream position for every model
(cumulative and windowed), with iHOMER's global structural events and the generator's drift points
marked; an overview grid of all streams; throughput bars; and iHOMER's number of label clusters
over time. It draws what the job records hold and computes no metric.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["write_plots", "GLOBAL_EVENT_KINDS"]

#: iHOMER events marked on the plots (the local ones, e.g. node splits, are too many to draw).
GLOBAL_EVENT_KINDS = ("cluster_split", "cluster_merge", "repartition", "global_drift")
#: Marker style of each event kind: drawn in black / grey so they never look like a model's line.
_EVENT_STYLE = {
    "cluster_split": ("^", "black"),
    "cluster_merge": ("v", "black"),
    "repartition": ("|", "dimgray"),
    "global_drift": ("x", "dimgray"),
}
#: Trace entries averaged for the "recent window" curve (smooths ~1/200-stream windows).
_SMOOTH = 5


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _mean_trace(records: Sequence[dict], key: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Seed-averaged ``key`` at the trace positions common to every record."""
    series = []
    for r in records:
        trace = (r.get("result") or {}).get("trace") or []
        pts = {e["n"]: e.get(key) for e in trace if e.get(key) is not None}
        if pts:
            series.append(pts)
    if not series:
        return None
    common = sorted(set.intersection(*(set(s) for s in series)))
    if not common:
        return None
    xs = np.array(common, dtype=float)
    ys = np.array([[s[n] for n in common] for s in series], dtype=float).mean(axis=0)
    return xs, ys


def _groups(records: Sequence[dict]) -> dict[str, dict[str, list[dict]]]:
    out: dict[str, dict[str, list[dict]]] = {}
    for r in records:
        if r.get("status") != "ok":
            continue
        job = r["_job"]
        out.setdefault(job.stream_name, {}).setdefault(job.model, []).append(r)
    return out


def _mark(ax, drift_points: Sequence[int], events: Sequence[dict], counts: bool = True) -> None:
    for i, d in enumerate(drift_points):
        ax.axvline(d, color="black", ls="--", lw=1.2, label="scheduled drift" if i == 0 else None)
    by_kind: dict[str, list[float]] = {}
    for e in events:
        kind = e.get("kind")
        if kind in GLOBAL_EVENT_KINDS:
            by_kind.setdefault(kind, []).append(e.get("step", e.get("n")))
    transform = ax.get_xaxis_transform()  # x in data units, y in axes units
    for kind, xs in by_kind.items():
        marker, color = _EVENT_STYLE[kind]
        y = 0.03 if kind in ("cluster_split", "cluster_merge") else 0.09
        ax.plot(
            xs,
            [y] * len(xs),
            ls="none",
            marker=marker,
            color=color,
            ms=5,
            transform=transform,
            clip_on=False,
            label=f"iHOMER {kind}" + (f" ({len(xs)})" if counts else ""),
        )


def _ihomer_events(models: dict[str, list[dict]]) -> list[dict]:
    runs = models.get("ihomer") or []
    return list(runs[0].get("events", [])) if runs else []


def _drifts(models: dict[str, list[dict]]) -> list[int]:
    for runs in models.values():
        for r in runs:
            points = (r.get("stream") or {}).get("drift_points")
            if points:
                return list(points)
    return []


def _colors(names: Sequence[str]) -> dict[str, object]:
    plt = _plt()
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    return {m: cmap(i % cmap.N) for i, m in enumerate(sorted(names))}


def write_plots(
    records: Sequence[dict],
    out: str | os.PathLike,
    metric: str = "micro_f1",
) -> list[Path]:
    """Write the PNG plots under ``out/plots``; return their paths."""
    plt = _plt()
    folder = Path(out) / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    groups = _groups(records)
    all_models = sorted({m for g in groups.values() for m in g})
    colors = _colors(all_models)
    written: list[Path] = []

    # 1. per stream: cumulative and windowed metric over position
    for stream, models in groups.items():
        fig, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
        for model, runs in sorted(models.items()):
            for ax, key in zip(axes, (metric, f"window_{metric}"), strict=True):
                curve = _mean_trace(runs, key)
                if curve is not None and key.startswith("window_") and len(curve[1]) > _SMOOTH:
                    kernel = np.ones(_SMOOTH) / _SMOOTH
                    curve = (curve[0][_SMOOTH - 1 :], np.convolve(curve[1], kernel, "valid"))
                if curve is not None:
                    lw = 2.4 if model == "ihomer" else 1.2
                    ax.plot(*curve, label=model, color=colors[model], lw=lw)
        for ax in axes:
            _mark(ax, _drifts(models), _ihomer_events(models))
            ax.grid(alpha=0.3)
        axes[0].set_ylabel(f"cumulative {metric}")
        axes[1].set_ylabel(f"recent {metric}\n(last {_SMOOTH} trace windows)")
        axes[1].set_xlabel("instances (stream position)")
        axes[0].set_title(f"{stream}: prequential {metric} (mean over seeds)")
        handles, labels = axes[0].get_legend_handles_labels()
        axes[0].legend(handles, labels, fontsize=7, ncol=3, loc="lower right")
        fig.tight_layout()
        path = folder / f"{metric}_{stream}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    # 2. overview grid of the windowed metric
    if groups:
        n = len(groups)
        cols = min(4, n)
        rows = (n + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
        for ax, (stream, models) in zip(axes.flat, groups.items(), strict=False):
            for model, runs in sorted(models.items()):
                curve = _mean_trace(runs, metric)
                if curve is not None:
                    lw = 2.2 if model == "ihomer" else 1.0
                    ax.plot(*curve, label=model, color=colors[model], lw=lw)
            _mark(ax, _drifts(models), _ihomer_events(models), counts=False)
            ax.set_title(stream, fontsize=9)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        handles, labels = [], []
        for ax in axes.flat:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        fig.legend(handles, labels, loc="lower center", ncol=min(5, len(labels)), fontsize=7)
        fig.suptitle(f"cumulative prequential {metric} over stream position")
        legend_rows = (len(labels) + 4) // 5
        fig.tight_layout(rect=(0, 0.05 * legend_rows / rows + 0.03, 1, 0.96))
        path = folder / f"{metric}_overview.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)

    # 3. throughput bars (instances/s, log scale), grouped by stream
    if groups:
        streams = list(groups)
        width = 0.8 / max(1, len(all_models))
        fig, ax = plt.subplots(figsize=(max(8, 1.2 * len(streams) + 3), 4.5))
        for i, model in enumerate(all_models):
            values = []
            for stream in streams:
                runs = groups[stream].get(model, [])
                ips = [(r.get("result") or {}).get("instances_per_s") for r in runs]
                ips = [v for v in ips if v]
                values.append(float(np.mean(ips)) if ips else np.nan)
            x = np.arange(len(streams)) + i * width
            ax.bar(x, values, width=width, label=model, color=colors[model])
        ax.set_xticks(np.arange(len(streams)) + 0.4 - width / 2)
        ax.set_xticklabels(streams, rotation=30, ha="right", fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("instances / s (log scale)")
        ax.set_title("throughput, whole prequential run (this machine)")
        ax.legend(fontsize=7, ncol=3)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        path = folder / "throughput.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)

    # 4. iHOMER's number of label clusters over time
    with_clusters = {s: g["ihomer"] for s, g in groups.items() if g.get("ihomer")}
    if with_clusters:
        n = len(with_clusters)
        cols = min(4, n)
        rows = (n + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
        for ax, (stream, runs) in zip(axes.flat, with_clusters.items(), strict=False):
            for r in runs:
                trace = (r.get("result") or {}).get("trace") or []
                pts = [(e["n"], e["n_clusters"]) for e in trace if e.get("n_clusters") is not None]
                if pts:
                    xs, ys = zip(*pts, strict=True)
                    seed = r["_job"].seed
                    ax.step(xs, ys, where="post", lw=1.2, label=f"seed {seed}", alpha=0.8)
            _mark(ax, _drifts(groups[stream]), [])
            ax.set_title(stream, fontsize=9)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            ax.set_ylabel("label clusters", fontsize=8)
            ax.yaxis.get_major_locator().set_params(integer=True)
            if len(runs) > 1:
                ax.legend(fontsize=6)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        fig.suptitle("iHOMER: number of label clusters over stream position")
        fig.tight_layout()
        path = folder / "ihomer_clusters.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written
