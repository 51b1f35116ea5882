import json

import pytest

from ihomer.bench.jobs import Job, load_job_result, plan_jobs, run_jobs, stream_key

TINY = "synth:n_instances=200,n_features=4,n_labels=4,n_clusters=2,seed={seed}"


def test_plan_runs_deterministic_models_once_and_stochastic_ones_per_seed():
    jobs, skipped = plan_jobs(
        ["flags", "synth:seed={seed}"],
        ["det", "rnd", "gone"],
        [1, 2, 3],
        stochastic=lambda m: m == "rnd",
        skip=lambda m, s: "not here" if m == "gone" else None,
    )
    seeds = {(j.stream_name, j.model): [] for j in jobs}
    for j in jobs:
        seeds[(j.stream_name, j.model)].append(j.seed)
    assert seeds[("flags", "det")] == [None]
    assert seeds[("flags", "rnd")] == [1, 2, 3]
    assert seeds[("synth-seed-seed", "det")] == [1, 2, 3]  # a seeded stream varies with the seed
    assert {s["model"] for s in skipped} == {"gone"} and len(skipped) == 2
    with pytest.raises(ValueError):
        plan_jobs(["flags"], ["det"], [], stochastic=lambda m: False)


def test_job_identity_depends_on_its_configuration():
    a = Job("m", "flags", None)
    assert a.job_id == "flags/m__det"
    assert a.config_hash() == Job("m", "flags", None).config_hash()
    assert a.config_hash() != Job("m", "flags", None, max_instances=10).config_hash()
    assert stream_key("../data/x.arff.bz2") == "x"


def _mtimes(jobs, out):
    return {j.job_id: j.path(out).stat().st_mtime_ns for j in jobs}


def test_rerun_only_computes_the_missing_job(tmp_path):
    jobs = [Job("majority-labelset", TINY, s, trace_every=50) for s in (1, 2)]
    counts = run_jobs(jobs, tmp_path, n_jobs=2, job_timeout=120)
    assert counts == {"skipped": 0, "ok": 2, "dnf": 0, "error": 0}
    first = _mtimes(jobs, tmp_path)
    record = load_job_result(jobs[0], tmp_path)
    assert record["result"]["n"] == 200 and record["stream"]["n_labels"] == 4

    before = load_job_result(jobs[1], tmp_path)["result"]["metrics"]
    jobs[1].path(tmp_path).unlink()
    events = []
    counts = run_jobs(
        jobs,
        tmp_path,
        n_jobs=2,
        job_timeout=120,
        on_event=lambda kind, job, rec: events.append((kind, job.job_id)),
    )
    assert counts["skipped"] == 1 and counts["ok"] == 1
    assert ("start", jobs[1].job_id) in events and ("start", jobs[0].job_id) not in events
    second = _mtimes(jobs, tmp_path)
    assert second[jobs[0].job_id] == first[jobs[0].job_id]  # untouched
    # same seed, same stream: the recomputed job gives the same figures
    assert load_job_result(jobs[1], tmp_path)["result"]["metrics"] == before

    counts = run_jobs(jobs, tmp_path, n_jobs=1, job_timeout=120, force=True)
    assert counts["ok"] == 2 and counts["skipped"] == 0


def test_a_job_over_budget_is_recorded_as_dnf_and_retried_with_a_larger_budget(tmp_path):
    job = Job("river-br-ht", TINY.replace("200", "100000"), 1, trace_every=1000)
    counts = run_jobs([job], tmp_path, job_timeout=0.5)
    assert counts["dnf"] == 1
    record = json.loads(job.path(tmp_path).read_text())
    assert record["status"] == "dnf" and "0.5 s" in record["reason"]
    # same budget: not retried; larger budget: retried (and killed again here)
    assert run_jobs([job], tmp_path, job_timeout=0.5)["skipped"] == 1
    assert run_jobs([job], tmp_path, job_timeout=0.6)["dnf"] == 1


def test_a_crashing_job_is_recorded_with_its_reason_and_retried(tmp_path):
    job = Job("majority-labelset", str(tmp_path / "missing.arff"), None)
    counts = run_jobs([job], tmp_path, job_timeout=60)
    assert counts["error"] == 1
    record = json.loads(job.path(tmp_path).read_text())
    assert record["status"] == "error"
    assert "missing.arff" in record["reason"] and "Traceback" in record["traceback"]
    assert run_jobs([job], tmp_path, job_timeout=60)["error"] == 1  # retried, not skipped


def test_bad_parameters_are_rejected(tmp_path):
    with pytest.raises(ValueError):
        run_jobs([], tmp_path, n_jobs=0)
    with pytest.raises(ValueError):
        run_jobs([], tmp_path, job_timeout=0)


def _processes_mentioning(text):
    from pathlib import Path

    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(int(proc.name))
    return found


def test_terminating_the_run_stops_its_job_processes(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    if not Path("/proc/self/cmdline").exists():
        pytest.skip("needs /proc to find the job processes")
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "prequential.py"
    out = tmp_path / "interrupted"
    parent = subprocess.Popen(
        [sys.executable, str(script), "--streams", TINY.replace("200", "1000000"),
         "--models", "river-br-ht", "--seeds", "1", "--no-plots", "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _processes_mentioning(str(out / "jobs")):
            time.sleep(0.1)
        assert _processes_mentioning(str(out / "jobs")), "the job never started"
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=30)
    finally:
        if parent.poll() is None:
            parent.kill()
    time.sleep(0.5)
    assert _processes_mentioning(str(out / "jobs")) == []
    assert not list(out.glob("jobs/**/*.json"))  # nothing half-written counts as done


def test_force_can_pick_the_jobs_to_rerun(tmp_path):
    jobs = [Job("majority-labelset", TINY, 1), Job("river-cc-lr", TINY, 1)]
    assert run_jobs(jobs, tmp_path, n_jobs=2)["ok"] == 2
    counts = run_jobs(jobs, tmp_path, n_jobs=2, force=lambda job: job.model == "river-cc-lr")
    assert counts["skipped"] == 1 and counts["ok"] == 1


def test_a_second_live_run_on_the_same_folder_is_refused(tmp_path):
    import os
    import subprocess
    import sys

    from ihomer.bench.jobs import RunLockedError

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "_work").mkdir()
        (tmp_path / "_work" / ".lock").write_text(str(sleeper.pid))
        with pytest.raises(RunLockedError, match=f"pid {sleeper.pid}"):
            run_jobs([Job("majority-labelset", TINY, 1)], tmp_path)
    finally:
        sleeper.kill()
        sleeper.wait()
    # the lock of a dead process is stale: taken over, and removed at the end
    assert run_jobs([Job("majority-labelset", TINY, 1)], tmp_path)["ok"] == 1
    assert not (tmp_path / "_work" / ".lock").exists() and os.getpid()
