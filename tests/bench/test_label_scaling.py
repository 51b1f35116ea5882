"""benchmarks/label_scaling.py: a --quick run writes its JSON, Markdown and plot with the numbers
of every (stream, model); the growth-exponent fit and the stream plan. No timing assertions."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys

import pytest

from tests.bench.scripts import ROOT, load_script

SCRIPT = ROOT / "benchmarks" / "label_scaling.py"


def _module():
    return load_script("label_scaling")


def test_docstring_examples():
    assert doctest.testmod(_module()).failed == 0


def test_growth_exponent_is_the_log_log_slope():
    ls = _module()
    rows = []
    for labels, t in [(10, 5.0), (100, 50.0), (1000, 500.0)]:  # linear in labels
        rows.append(
            {
                "stream": {"series": ["dense-labels"]},
                "model": "a",
                "labels": labels,
                "features": 100,
                "cpu_us_per_inst": t,
                "status": "ok",
            }
        )
        rows.append(
            {
                "stream": {"series": ["dense-labels"]},
                "model": "b",
                "labels": labels,
                "features": 100,
                "cpu_us_per_inst": 7.0,
                "status": "dnf",
            }
        )
    rows.append(
        {
            "stream": {"series": ["text-features", "text-labels"]},
            "model": "a",
            "labels": 10,
            "features": 1000,
            "cpu_us_per_inst": 9.0,
            "status": "ok",
        }
    )
    got = {(e["series"], e["model"]): e for e in ls.growth_exponents(rows)}
    assert set(got) == {("dense-labels", "a"), ("dense-labels", "b")}
    assert got["dense-labels", "a"]["exponent"] == pytest.approx(1.0)
    assert got["dense-labels", "b"]["exponent"] == pytest.approx(0.0)
    assert got["dense-labels", "b"]["dnf_points"] == 3


def test_plan_shares_the_common_text_stream_between_both_series():
    ls = _module()
    args = ls.parse_args(
        [
            "--labels",
            "10",
            "--features",
            "1000",
            "20000",
            "--text-labels",
            "100",
            "1000",
            "--streams",
            "delicious",
        ]
    )
    plan = {s["name"]: s["series"] for s in ls.stream_specs(args)}
    assert plan == {
        "dense-100f-10l": ["dense-labels"],
        "text-1000f-100l": ["text-features"],
        "text-20000f-100l": ["text-features", "text-labels"],
        "text-20000f-1000l": ["text-labels"],
        "delicious": ["named"],
    }


def test_quick_run_writes_every_output_with_its_numbers(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out), "--name", "q"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "q.png").stat().st_size > 0
    data = json.loads((out / "q.json").read_text())
    table = (out / "q.md").read_text()
    assert data["models"] == ["ihomer", "vw-hinge"]
    vw_ok = data["vowpalwabbit"] is not None  # what the run saw (another process)
    streams = {r["stream"]["name"] for r in data["results"]}
    assert len(streams) == 6 and len(data["results"]) == 12 and "river:yeast" in streams
    assert "Named streams (all metrics)" in table
    for r in data["results"]:
        if r["model"] == "vw-hinge" and not vw_ok:
            assert r["status"] == "unavailable" and "pip install ihomer[vw]" in r["reason"]
            continue
        assert r["status"] == "ok", r
        assert r["n"] == r["n_planned"] == 150
        assert r["cpu_s"] > 0 and r["inst_per_cpu_s"] == pytest.approx(r["n"] / r["cpu_s"])
        assert r["peak_rss_bytes"] > 2**20
        assert 0.0 <= r["micro_f1"] <= 1.0
        assert f"| {r['model']} | ok | 150 / 150 | {r['inst_per_cpu_s']:,.1f} |" in table
        assert [t["n"] for t in r["trace"]] == [100]
        assert r["metrics"]["micro_f1"] == r["micro_f1"]
    series = {(e["series"], e["model"]) for e in data["exponents"]}
    for name in ("dense-labels", "text-features", "text-labels"):
        assert (name, "ihomer") in series
        assert ((name, "vw-hinge") in series) == vw_ok
    assert data["digest_mismatch"] == []
