"""benchmarks/ablation.py: the quick run end to end (files, every variant and metric, resuming),
the sign of the deltas, the empty-set baseline and the best-of-published target row."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.scripts import ROOT, load_script

SCRIPT = ROOT / "benchmarks" / "ablation.py"

ablation = load_script("ablation")


def _run(out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(SCRIPT), "--quick", "--jobs", "2", "--out", str(out)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ablation")
    done = _run(out)
    return done, out


def test_quick_run_writes_results_and_summary(quick_run):
    done, out = quick_run
    assert done.returncode == 0, done.stderr
    assert (out / "summary.md").stat().st_size > 0
    text = (out / "summary.md").read_text()
    for heading in ("## 1. Means", "## 2. Per stream", "## 3. Hamming loss of the empty"):
        assert heading in text
    for v in ablation.VARIANTS:
        assert f"| {v} |" in text, v
    assert "| default |" in done.stdout  # the means table is printed


def test_every_variant_and_metric_present_and_finite(quick_run):
    _, out = quick_run
    results = json.loads((out / "results.json").read_text())
    by = {(r["stream"], r["variant"]): r for r in results["records"]}
    streams = list(ablation.QUICK_STREAMS)
    for s in streams:
        for v in [*ablation.VARIANTS, ablation.EMPTY]:
            r = by[s, v]
            assert r["n"] == 300
            for m in ablation.SUMMARY_METRICS:
                assert math.isfinite(r["metrics"][m]), (s, v, m)
                assert 0.0 <= r["metrics"][m] <= 1.0
            assert math.isfinite(r["cpu_seconds"]) and r["cpu_seconds"] >= 0
    means = results["summary"]["means"]
    assert set(means) == set(ablation.VARIANTS)
    for v, row in means.items():
        assert row["streams"] == len(streams)
        for m in ablation.SUMMARY_METRICS:
            assert math.isfinite(row[m]) and math.isfinite(row[f"delta_{m}"]), (v, m)
    assert all(means["default"][f"delta_{m}"] == 0.0 for m in ablation.SUMMARY_METRICS)


def test_variants_are_different_models(quick_run):
    _, out = quick_run
    results = json.loads((out / "results.json").read_text())
    by = {(r["stream"], r["variant"]): r for r in results["records"]}
    # singleton clusters: one cluster per label, whatever the stream
    for s in ablation.QUICK_STREAMS:
        n_labels = len(next(iter(ablation._open(ablation.QUICK_STREAMS[s], None)))[1])
        assert by[s, "binary-relevance"]["n_clusters"] == n_labels
        assert by[s, "default"]["n_clusters"] == 1  # one cluster of every label
        assert by[s, "default"]["events"]["label_added"] == n_labels  # events are counted


def test_empty_set_hamming_is_the_label_density(quick_run):
    _, out = quick_run
    results = json.loads((out / "results.json").read_text())
    row = next(e for e in results["summary"]["empty_set"] if e["stream"] == "yeast-river-300")
    data = ablation._open(ablation.QUICK_STREAMS["yeast-river-300"], None)
    density = sum(sum(y.values()) for _, y in data) / sum(len(y) for _, y in data)
    assert row["empty_hamming"] == pytest.approx(density)


def test_a_second_run_resumes_without_rerunning(quick_run):
    _, out = quick_run
    files = sorted((out / "jobs").glob("*/*.json"))
    before = {p: p.stat().st_mtime_ns for p in files}
    done = _run(out)
    assert done.returncode == 0, done.stderr
    assert f"{len(files)} already done, 0 to run" in done.stderr
    assert {p: p.stat().st_mtime_ns for p in files} == before


def _record(stream, variant, **metrics):
    values = {m: 0.5 for m in ablation.SUMMARY_METRICS} | metrics
    return {"stream": stream, "group": "dev", "variant": variant, "metrics": values,
            "cpu_seconds": 1.0, "n": 10, "limit": None}


def test_delta_is_positive_when_default_is_better():
    records = [
        _record("a", "default", micro_f1=0.6, hamming_loss=0.10),
        _record("a", "hierarchy", micro_f1=0.5, hamming_loss=0.15),
        _record("a", ablation.EMPTY, hamming_loss=0.12),
    ]
    summary = ablation.summarise(records, ["default", "hierarchy"], None)
    row = summary["means"]["hierarchy"]
    assert row["delta_micro_f1"] == pytest.approx(0.1)
    assert row["delta_hamming_loss"] == pytest.approx(0.05)
    assert summary["empty_set"][0]["worse_than_empty"] == ["hierarchy"]
    notable = {(n["variant"], n["metric"]) for n in summary["notable"]}
    assert notable == {("hierarchy", "micro_f1"), ("hierarchy", "hamming_loss")}


def test_best_published_takes_the_best_per_stream_and_skips_dnf(tmp_path):
    dnf = "999999999999.0"
    cells = {  # Flags: A, B; Yeast: A did not finish
        "subset_acc.csv": ("0.1,0.3", f"{dnf},0.2"),
        "example_f1.csv": ("0.5,0.4", f"{dnf},0.6"),
        "micro_f1.csv": ("0.5,0.4", f"{dnf},0.6"),
        "macro_f1.csv": ("0.5,0.4", f"{dnf},0.6"),
        "hamming.csv": ("0.2,0.1", f"{dnf},0.3"),
    }
    for name, (flags, yeast) in cells.items():
        (tmp_path / name).write_text(f"Dataset,A,B\nFlags,{flags}\nYeast,{yeast}\n")
    target = ablation.best_published(tmp_path)
    assert target["streams"] == ["flags", "yeast"]
    assert target["subset_accuracy"] == pytest.approx((0.3 + 0.2) / 2)
    assert target["micro_f1"] == pytest.approx((0.5 + 0.6) / 2)
    assert target["hamming_loss"] == pytest.approx((0.1 + 0.3) / 2)  # lower is better
