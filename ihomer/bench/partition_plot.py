"""The label partition of iHOMER over the stream: which labels share a cluster at each position.

This module owns :func:`partition_over_stream` (one deterministic iHOMER run over a stream,
recording, every ``every`` instances, the ODAC active clusters and the learning clusters through
:func:`ihomer.hierarchy`) and :func:`write_partition_plot` (a label × position picture of both,
one colour per cluster, with the ODAC splits and merges marked). The benchmark's jobs record the
number of clusters only, so the benchmark calls this after its jobs: iHOMER is fast and
deterministic, so the partition shown is the one of the benchmark's run. It must not know about
jobs or tables; matplotlib is imported only to draw.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PartitionHistory", "partition_over_stream", "write_partition_plot"]


@dataclass
class PartitionHistory:
    """Cluster ids per label and position.

    Attributes
    ----------
    labels
        Every label, in first-seen order (the rows).
    positions
        The stream positions (instances learned) of the columns.
    odac, learning
        ``(len(labels), len(positions))`` int arrays: the id of the label's cluster (its
        earliest label's row), -1 before the label was seen.
    changes
        ``(n, kind)`` of every ODAC split and merge.
    """

    labels: list[Any]
    positions: list[int]
    odac: np.ndarray
    learning: np.ndarray
    changes: list[tuple[int, str]] = field(default_factory=list)


def _ids(clusters: Iterable[Iterable[Any]], row: Mapping[Any, int], n: int) -> np.ndarray:
    out = np.full(n, -1, dtype=np.int64)
    for cluster in clusters:
        rows = [row[lab] for lab in cluster if lab in row]
        if rows:
            out[rows] = min(rows)  # a cluster is named by its earliest label
    return out


def partition_over_stream(
    stream: Iterable[tuple[dict, dict]],
    every: int = 100,
    max_instances: int | None = None,
    model: Any = None,
) -> PartitionHistory:
    """Learn ``stream`` with ``model`` (default ``IHOMER(partitioning="hierarchy")``), in
    test-then-train order, and record
    the ODAC and the learning clusters every ``every`` instances and at the end.

    Examples
    --------
    >>> from river import datasets
    >>> h = partition_over_stream(datasets.Yeast(), every=200, max_instances=600)
    >>> h.positions, h.odac.shape
    ([200, 400, 600], (14, 3))
    >>> bool((h.learning >= 0).all())
    True
    """
    from ihomer.inspection import hierarchy

    if every < 1:
        raise ValueError(f"every must be >= 1, got {every!r}")
    if model is None:
        from ihomer import IHOMER

        model = IHOMER(partitioning="hierarchy")
    items = stream if max_instances is None else itertools.islice(stream, max_instances)
    snapshots: list[tuple[int, list, list]] = []
    n = 0
    for x, y in items:
        model.predict_one(x)
        model.learn_one(x, y)
        n += 1
        if n % every == 0:
            h = hierarchy(model)
            snapshots.append((n, [nd.labels for nd in h.active], list(h.partition)))
    h = hierarchy(model)
    if not snapshots or snapshots[-1][0] != n:
        snapshots.append((n, [nd.labels for nd in h.active], list(h.partition)))
    labels: list[Any] = []
    seen: set = set()
    for _, _, partition in snapshots:
        for cluster in partition:
            for lab in cluster:
                if lab not in seen:
                    seen.add(lab)
                    labels.append(lab)
    row = {lab: i for i, lab in enumerate(labels)}
    L = len(labels)
    odac = np.stack([_ids(a, row, L) for _, a, _ in snapshots], axis=1) if L else np.zeros((0, 0))
    learn = np.stack([_ids(p, row, L) for _, _, p in snapshots], axis=1) if L else np.zeros((0, 0))
    changes = [(c.n, c.kind) for c in h.history if c.kind in ("cluster_split", "cluster_merge")]
    return PartitionHistory(labels, [s[0] for s in snapshots], odac, learn, changes)


def write_partition_plot(history: PartitionHistory, path: str | Path, title: str = "") -> Path:
    """Draw ``history`` to ``path`` (PNG): ODAC active clusters on top, learning clusters below;
    rows are labels, columns stream positions, one colour per cluster (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    path = Path(path)
    L = len(history.labels)
    height = min(10.0, 2.0 + 0.12 * L)
    fig, axes = plt.subplots(2, 1, figsize=(10, 2 * height), sharex=True, squeeze=False)
    base = plt.get_cmap("tab20").colors
    colours = ListedColormap([(1, 1, 1)] + [base[i % len(base)] for i in range(max(L, 1))])
    xs = history.positions
    edges = [0, *xs]
    for ax, grid, name in zip(axes[:, 0], (history.odac, history.learning),
                              ("ODAC active clusters", "learning clusters")):  # fmt: skip
        ax.pcolormesh(edges, np.arange(L + 1), grid + 1, cmap=colours, vmin=0,
                      vmax=max(L, 1), shading="flat")  # fmt: skip
        for n, kind in history.changes:
            ax.axvline(n, color="black" if kind == "cluster_split" else "red", lw=0.6, alpha=0.5)
        ax.set_ylabel(f"{name}\n(labels, first seen at top)", fontsize=8)
        ax.invert_yaxis()
        if L <= 40:
            ax.set_yticks(np.arange(L) + 0.5)
            ax.set_yticklabels([str(lab) for lab in history.labels], fontsize=6)
        counts = [len(set(col[col >= 0].tolist())) for col in grid.T]
        ax.set_title(f"{name}: {counts[-1] if counts else 0} at the end", fontsize=9)
    axes[-1, 0].set_xlabel("instances learned (black: ODAC split, red: merge)")
    fig.suptitle(title or "iHOMER: label partition over the stream", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
