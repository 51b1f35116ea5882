import pytest

from ihomer.bench.jobs import Job
from ihomer.bench.report import fmt_cell, measured_here_check, published_for, summarize


def _record(model, stream, seed, status, micro=None, seconds=1.0):
    job = Job(model, stream, seed)
    rec = {"status": status, "_job": job, "job_id": job.job_id}
    if status == "ok":
        metrics = {"micro_f1": micro, "subset_accuracy": micro / 2, "hamming_loss": 0.1}
        rec["result"] = {"metrics": metrics, "n": 10, "seconds": seconds,
                         "instances_per_s": 10 / seconds, "peak_rss_bytes": 2**20}  # fmt: skip
    else:
        rec["reason"] = "killed"
    return rec


def test_summary_averages_seeds_and_propagates_dnf():
    records = [
        _record("a", "s", 1, "ok", 0.5),
        _record("a", "s", 2, "ok", 0.7),
        _record("b", "s", 1, "ok", 0.9),
        _record("b", "s", 2, "dnf"),
        _record("c", "s", None, "ok", 0.4),
        _record("d", "s", None, "missing"),
    ]
    runs, summary = summarize(records)
    assert len(runs) == 6
    by = {r["model"]: r for r in summary}
    assert by["a"]["micro_f1"] == pytest.approx(0.6)
    assert by["a"]["micro_f1_std"] == pytest.approx(0.1414213, rel=1e-5)
    assert by["a"]["seeds"] == "1 2" and by["a"]["peak_rss_mb"] == 1.0
    assert by["b"]["status"] == "dnf" and by["b"]["micro_f1"] is None
    assert by["c"]["micro_f1_std"] is None and by["c"]["seeds"] == "det"
    assert by["d"]["status"] == "missing"
    assert fmt_cell(by["a"], "micro_f1") == "0.600 ± 0.141"
    assert fmt_cell(by["b"], "micro_f1") == "DNF"


def test_published_rows_follow_our_stream_names():
    rows = [{"stream": "yeast", "model": "p:A"}, {"stream": "flags", "model": "p:A"}]
    assert published_for(rows, ["river-yeast", "yeast", "other"]) == [
        {"stream": "river-yeast", "model": "p:A"},
        {"stream": "yeast", "model": "p:A"},
    ]


def test_measured_here_check_pairs_our_rows_with_theirs():
    _, summary = summarize([_record("moa-br-ht", "yeast", None, "ok", 0.6, seconds=2.0)])
    ref = {"micro_f1": 0.614, "subset_accuracy": 0.095, "hamming_loss": 0.217, "seconds": 0.9}
    checks = measured_here_check(summary, {("yeast", "moa-br-ht"): ref})
    assert len(checks) == 1
    assert checks[0]["micro_f1"] == 0.6 and checks[0]["micro_f1_ref"] == 0.614
    assert checks[0]["seconds"] == 2.0 and checks[0]["seconds_ref"] == 0.9
    assert measured_here_check(summary, {}) == []


def test_pairs_left_out_as_too_slow_rank_like_a_dnf(tmp_path):
    from ihomer.bench.report import not_run_rows, rank_tables

    skipped = [
        {"model": "b", "stream": "s2", "reason": "too slow: left out of the default set"},
        {"model": "c", "stream": "s2", "reason": "MOA unavailable (no Java)"},
    ]
    rows = not_run_rows(skipped)
    assert [(r["model"], r["status"]) for r in rows] == [("b", "not-run")]
    _, summary = summarize(
        [
            _record("a", "s1", None, "ok", 0.5),
            _record("b", "s1", None, "ok", 0.7),
            _record("a", "s2", None, "ok", 0.1),
        ]
    )
    ranks = rank_tables(summary + rows)["run"]["micro_f1"]
    assert ranks["streams"] == ["s1", "s2"]  # s2 is ranked: b counts as DNF there
    assert ranks["ranks"] == {"a": 1.5, "b": 1.5}
    assert fmt_cell(rows[0], "micro_f1") == "not run"
