"""End to end: the quick mode on a tiny synthetic stream and a river:yeast prefix."""

import csv
import json

import numpy as np
import pytest

from ihomer.bench.cli import auto_trace_every, main

pytest.importorskip("matplotlib")

ARGS = [
    "--quick",
    "--streams", "synth:n_instances=300,n_features=5,n_labels=4,n_clusters=2,seed={seed},"
    "drifts=150:labels", "river:yeast",
    "--models", "majority-labelset", "river-cc-lr",
    "--max-instances", "200",
    "--jobs", "2",
]  # fmt: skip


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    code = main([*ARGS, "--out", str(out)])
    return code, out


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_quick_mode_writes_every_output(quick_run):
    code, out = quick_run
    assert code == 0
    for name in ("runs.csv", "summary.csv", "ranks.csv", "traces.csv.gz", "events.csv",
                 "results.json", "summary.md"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    pngs = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert "throughput.png" in pngs and "micro_f1_overview.png" in pngs
    assert any(name.startswith("micro_f1_synth") for name in pngs)
    for png in (out / "plots").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_runs_and_summary_agree(quick_run):
    _, out = quick_run
    runs = _rows(out / "runs.csv")
    # synthetic stream is seeded: 2 models x 2 seeds; yeast: 2 deterministic models once each
    assert len(runs) == 6 and all(r["status"] == "ok" for r in runs)
    assert {r["n"] for r in runs} == {"200"}
    summary = [r for r in _rows(out / "summary.csv") if r["kind"] == "run"]
    assert len(summary) == 4
    synth = [r for r in runs if r["stream"].startswith("synth") and r["model"] == "river-cc-lr"]
    row = next(
        r for r in summary if r["stream"].startswith("synth") and r["model"] == "river-cc-lr"
    )
    values = [float(r["micro_f1"]) for r in synth]
    assert float(row["micro_f1"]) == pytest.approx(np.mean(values), rel=1e-5)
    assert float(row["micro_f1_std"]) == pytest.approx(np.std(values, ddof=1), rel=1e-4, abs=1e-9)
    yeast = next(r for r in summary if r["stream"] == "river-yeast" and r["model"] == "river-cc-lr")
    assert yeast["seeds"] == "det" and yeast["micro_f1_std"] == ""


def test_results_json_records_environment_command_and_ranks(quick_run):
    _, out = quick_run
    data = json.loads((out / "results.json").read_text())
    meta = data["meta"]
    assert "river" in meta["environment"]["packages"] and meta["environment"]["cpu"]
    assert meta["command"] and meta["settings"]["max_instances"] == 200
    assert any("cut to 200 instances" in n for n in meta["notes"])  # prefixes: no published rows
    assert data["published"] == []
    ranks = data["ranks"]["run"]["micro_f1"]
    assert ranks["n_streams"] == 2 and set(ranks["ranks"]) == {"majority-labelset", "river-cc-lr"}
    synth = next(v for k, v in data["streams"].items() if k.startswith("synth"))
    assert synth["drift_points"] == [150]
    text = (out / "summary.md").read_text()
    assert "## micro F1" in text and "Average ranks" in text and "plots/throughput.png" in text


def test_rerun_skips_finished_jobs(quick_run, capsys):
    _, out = quick_run
    assert main([*ARGS, "--out", str(out)]) == 0
    assert "'skipped': 6" in capsys.readouterr().out


def test_unknown_model_is_an_error(tmp_path, capsys):
    assert main(["--models", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown models" in capsys.readouterr().err


def test_auto_trace_every_spaces_points_over_the_stream():
    assert auto_trace_every("tmc2007-500", None) == 28596 // 200
    assert auto_trace_every("tmc2007-500", 1000) == 5
    assert auto_trace_every("synth:n_instances=4000,seed=1", None) == 20
    assert auto_trace_every("my.arff", None) == 100


def test_report_only_keeps_the_command_that_computed_the_jobs(tmp_path):
    import json

    from ihomer.bench.cli import _previous_command

    assert _previous_command(tmp_path) is None
    (tmp_path / "results.json").write_text(json.dumps({"command": "python x.py --jobs 2"}))
    assert _previous_command(tmp_path) == "python x.py --jobs 2"
    (tmp_path / "results.json").write_text("{not json")
    assert _previous_command(tmp_path) is None
