"""The published whole-stream prequential results (MLHAT paper, 17 methods) as extra table rows.

This module owns reading ``../shared/reference/*.csv`` (rows: data sets, columns: methods,
``999999999999.0``: did not finish) and mapping their data-set names to our stream names. The rows
are marked as published; their time column is the authors' machine's, not comparable with ours.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

__all__ = [
    "PUBLISHED_METRIC_FILES",
    "PUBLISHED_STREAM_NAMES",
    "DNF_VALUE",
    "reference_dir",
    "load_published",
    "load_measured_here",
]

#: Our metric name -> the reference file that holds it.
PUBLISHED_METRIC_FILES: dict[str, str] = {
    "subset_accuracy": "subset_acc.csv",
    "hamming_loss": "hamming.csv",
    "example_precision": "example_prec.csv",
    "example_recall": "example_rec.csv",
    "example_f1": "example_f1.csv",
    "micro_precision": "micro_prec.csv",
    "micro_recall": "micro_rec.csv",
    "micro_f1": "micro_f1.csv",
    "macro_precision": "macro_prec.csv",
    "macro_recall": "macro_rec.csv",
    "macro_f1": "macro_f1.csv",
}

#: Published data-set name -> our stream name.
PUBLISHED_STREAM_NAMES: dict[str, str] = {
    "Flags": "flags",
    "Emotions": "emotions",
    "Yeast": "yeast",
    "Scene": "scene",
    "Birds": "birds",
    "Enron": "enron",
    "Medical": "medical",
    "Slashdot": "slashdot",
    "D20ng": "20ng",
    "Tmc": "tmc2007-500",
    "Corel5k": "corel5k",
    "Cal500": "cal500",
    "CAL500": "cal500",
}

#: The value that marks a run that did not finish in the published tables.
DNF_VALUE = 999999999999.0


def reference_dir() -> Path | None:
    """``IHOMER_REFERENCE`` or ``../shared/reference`` beside the repository, if it exists."""
    env = os.environ.get("IHOMER_REFERENCE")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[3] / "shared" / "reference")
    candidates.append(Path.cwd().parent / "shared" / "reference")
    for c in candidates:
        if (c / "micro_f1.csv").is_file():
            return c
    return None


def _read(path: Path) -> dict[str, dict[str, float | None]]:
    table: dict[str, dict[str, float | None]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        methods = header[1:]
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"{path}:{line_no}: {len(row)} fields, expected {len(header)} as in the header"
                )
            values: dict[str, float | None] = {}
            for method, text in zip(methods, row[1:], strict=True):
                try:
                    v = float(text)
                except ValueError as exc:
                    raise ValueError(f"{path}:{line_no}: {method}: not a number: {text!r}") from exc
                values[method] = None if (v >= DNF_VALUE or not math.isfinite(v)) else v
            table[row[0]] = values
    return table


def load_published(folder: str | os.PathLike | None = None) -> list[dict]:
    """One row per (data set, method) of the reference files.

    Each row: ``stream`` (our name, or the published one when we have no such stream),
    ``dataset`` (published name), ``model`` (``"published:<method>"``), ``method``, ``status``
    (``"ok"`` or ``"dnf"``), ``published_time_s`` and every metric of
    :data:`PUBLISHED_METRIC_FILES` that the folder has (None where DNF). Empty list when there is
    no reference folder.
    """
    folder = Path(folder) if folder is not None else reference_dir()
    if folder is None or not folder.is_dir():
        return []
    tables = {}
    for metric, name in PUBLISHED_METRIC_FILES.items():
        if (folder / name).is_file():
            tables[metric] = _read(folder / name)
    times = _read(folder / "time_s.csv") if (folder / "time_s.csv").is_file() else {}
    if not tables:
        return []
    rows = []
    first = next(iter(tables.values()))
    for dataset, methods in first.items():
        for method in methods:
            row: dict = {
                "stream": PUBLISHED_STREAM_NAMES.get(dataset, dataset),
                "dataset": dataset,
                "model": f"published:{method}",
                "method": method,
                "published_time_s": times.get(dataset, {}).get(method),
            }
            dnf = False
            for metric, table in tables.items():
                value = table.get(dataset, {}).get(method)
                row[metric] = value
                dnf = dnf or value is None
            row["status"] = "dnf" if dnf else "ok"
            if dnf:  # a DNF row's other cells (often 0.0) are not results
                for metric in tables:
                    row[metric] = None
            rows.append(row)
    return rows


#: Columns of the per-stream table of ``measured-here.md`` -> our metric names.
_MEASURED_COLUMNS = {
    "subset acc": "subset_accuracy",
    "example F1": "example_f1",
    "micro F1": "micro_f1",
    "macro F1": "macro_f1",
    "Hamming": "hamming_loss",
    "seconds": "seconds",
    "instances/s": "instances_per_s",
}


def load_measured_here(folder: str | os.PathLike | None = None) -> dict[tuple[str, str], dict]:
    """The per-stream table of ``measured-here.md`` (peers measured earlier on this kind of
    machine): ``(stream, model) -> {metric: value}``; empty when the file is absent."""
    folder = Path(folder) if folder is not None else reference_dir()
    if folder is None or not (folder / "measured-here.md").is_file():
        return {}
    out: dict[tuple[str, str], dict] = {}
    header: list[str] | None = None
    for line in (folder / "measured-here.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|"):
            header = None
            continue
        if cells[:2] == ["stream", "model"]:
            header = cells
            continue
        if header is None or set(cells[0]) <= {"-", ":"}:
            continue
        row = {}
        for name, text in zip(header[2:], cells[2:], strict=False):
            key = _MEASURED_COLUMNS.get(name)
            if key is not None:
                try:
                    row[key] = float(text.replace(",", ""))
                except ValueError:
                    continue
        out[(cells[0], cells[1])] = row
    return out
