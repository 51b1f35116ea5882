"""Benchmark jobs: planning (models x streams x seeds), one subprocess per job, per-job budgets,
and resumability.

This module owns :class:`Job`, :func:`plan_jobs`, :func:`run_jobs` and the job files: every
finished job writes ``<out>/jobs/<stream>/<model>__<seed>.json`` atomically (temporary file then
rename), so an interrupted run resumes where it stopped: a job whose file exists with the same
configuration is not run again (unless ``force``). A job that exceeds its time budget is killed and
recorded as ``"dnf"`` (did not finish), like the published tables; a crash is recorded as
``"error"`` with the traceback and is retried by the next run. Each job runs in its own process
(``python -m ihomer.bench.worker``), so its peak RSS is its own and a crash cannot stop the run.
Job logs and the lock that keeps two live runs off one folder live in ``<out>/_work/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ihomer.bench.suite import resolve

__all__ = [
    "Job",
    "RunLockedError",
    "plan_jobs",
    "run_jobs",
    "load_job_result",
    "write_json_atomic",
    "stream_key",
    "SEED_PLACEHOLDER",
]

#: Sub-folder of the output folder for what is not a result (job logs, the run lock).
WORK_DIR = "_work"

#: In a stream spec, replaced by the job's seed (the stream itself is then stochastic).
SEED_PLACEHOLDER = "{seed}"


def stream_key(spec: str) -> str:
    """A short file-system-safe key for a stream spec.

    Examples
    --------
    >>> stream_key("scene"), stream_key("river:yeast"), stream_key("/data/My Set.arff.gz")
    ('scene', 'river-yeast', 'My-Set')
    >>> stream_key("synth:n_instances=2000,seed={seed}")
    'synth-n_instances-2000-seed-seed'
    """
    text = spec
    if "/" in spec or os.sep in spec or re.search(r"\.(arff|csv|jsonl)(\.(gz|bz2))?$", spec):
        text = Path(spec).name
        text = re.sub(r"\.(gz|bz2)$", "", text)
        text = re.sub(r"\.(arff|csv|jsonl)$", "", text)
    text = re.sub(r"[^A-Za-z0-9_.]+", "-", text).strip("-")
    return text[:80] or "stream"


@dataclass(frozen=True)
class Job:
    """One (model, stream, seed) prequential run.

    ``seed`` is None for a deterministic model on a deterministic stream (run once).
    """

    model: str
    stream: str
    seed: int | None
    max_instances: int | None = None
    trace_every: int = 100
    measure_memory: bool = False

    @property
    def stream_name(self) -> str:
        return stream_key(self.stream)

    @property
    def job_id(self) -> str:
        seed = "det" if self.seed is None else f"seed{self.seed}"
        return f"{self.stream_name}/{self.model}__{seed}"

    def config(self) -> dict[str, Any]:
        return asdict(self)

    def config_hash(self) -> str:
        text = json.dumps(self.config(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def path(self, out: str | os.PathLike) -> Path:
        return Path(out) / "jobs" / f"{self.job_id}.json"


def plan_jobs(
    streams: Sequence[str],
    models: Sequence[str],
    seeds: Sequence[int],
    *,
    stochastic: Callable[[str], bool],
    skip: Callable[[str, str], str | None] = lambda model, stream: None,
    max_instances: int | None = None,
    trace_every: int = 100,
    measure_memory: bool = False,
) -> tuple[list[Job], list[dict[str, str]]]:
    """Every job of the grid, and the (model, stream, reason) combinations left out by ``skip``.

    A model runs once per seed when it is stochastic or when the stream spec contains
    ``{seed}`` (a seeded generator); otherwise once, with seed None.

    Examples
    --------
    >>> jobs, skipped = plan_jobs(["a", "synth:seed={seed}"], ["det", "rnd"], [1, 2],
    ...                           stochastic=lambda m: m == "rnd")
    >>> [(j.model, j.stream_name, j.seed) for j in jobs]  # doctest: +NORMALIZE_WHITESPACE
    [('det', 'a', None), ('rnd', 'a', 1), ('rnd', 'a', 2), ('det', 'synth-seed-seed', 1),
     ('det', 'synth-seed-seed', 2), ('rnd', 'synth-seed-seed', 1), ('rnd', 'synth-seed-seed', 2)]
    """
    if not seeds:
        raise ValueError("at least one seed is needed")
    jobs: list[Job] = []
    skipped: list[dict[str, str]] = []
    for stream in streams:
        for model in models:
            reason = skip(model, stream)
            if reason:
                skipped.append({"model": model, "stream": stream, "reason": reason})
                continue
            if stochastic(model) or SEED_PLACEHOLDER in resolve(stream):
                run_seeds: Iterable[int | None] = seeds
            else:
                run_seeds = [None]
            for seed in run_seeds:
                jobs.append(Job(model, stream, seed, max_instances, trace_every, measure_memory))
    return jobs, skipped


def write_json_atomic(path: str | os.PathLike, data: Any, indent: int | None = None) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temporary file in the same folder, rename);
    compact unless ``indent`` is given; the file is world-readable (mode 644)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            separators = (",", ":") if indent is None else None
            json.dump(data, f, indent=indent, separators=separators, default=str, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_job_result(job: Job, out: str | os.PathLike) -> dict | None:
    """The stored result of ``job`` when it exists and has the same configuration, else None."""
    path = job.path(out)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{path}: unreadable job file ({exc}); delete it to rerun the job"
        ) from exc
    if data.get("config_hash") != job.config_hash():
        return None
    return data


def _is_done(job: Job, out: Path, job_timeout: float) -> bool:
    data = load_job_result(job, out)
    if data is None:
        return False
    status = data.get("status")
    if status == "ok":
        return True
    if status == "dnf":  # retry when the budget has been raised since
        return float(data.get("job_timeout", 0)) >= job_timeout
    return False  # errors are retried


def _dnf_record(job: Job, job_timeout: float, seconds: float, log: Path) -> dict:
    return {
        "status": "dnf",
        "job": job.config(),
        "job_id": job.job_id,
        "config_hash": job.config_hash(),
        "job_timeout": job_timeout,
        "seconds": seconds,
        "reason": f"killed after the per-job budget of {job_timeout:g} s",
        "log": str(log),
    }


def _error_record(job: Job, returncode: int, seconds: float, log: Path) -> dict:
    tail = ""
    try:
        tail = log.read_text(encoding="utf-8", errors="replace")[-4000:]
    except OSError:
        pass
    return {
        "status": "error",
        "job": job.config(),
        "job_id": job.job_id,
        "config_hash": job.config_hash(),
        "seconds": seconds,
        "reason": f"worker exited with code {returncode} without a result",
        "log_tail": tail,
    }


def run_jobs(
    jobs: Sequence[Job],
    out: str | os.PathLike,
    *,
    n_jobs: int = 2,
    job_timeout: float = 900.0,
    force: bool | Callable[[Job], bool] = False,
    on_event: Callable[[str, Job, dict | None], Any] | None = None,
    python: str | None = None,
    poll_seconds: float = 0.05,
) -> dict[str, int]:
    """Run the jobs that are not done yet, ``n_jobs`` processes at a time.

    ``force``: rerun every job (True) or the jobs for which ``force(job)`` is true, even when
    they have a result. ``on_event(kind, job, record)`` is called with kind ``"skip"`` (already
    done), ``"start"`` and ``"done"`` (``record`` is the job's stored result). Returns counts per
    outcome
    (``skipped``, ``ok``, ``dnf``, ``error``).
    """
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1, got {n_jobs}")
    if job_timeout <= 0:
        raise ValueError(f"job_timeout must be > 0, got {job_timeout}")
    out = Path(out)
    notify = on_event or (lambda kind, job, record: None)
    counts = {"skipped": 0, "ok": 0, "dnf": 0, "error": 0}
    pending: list[Job] = []
    for job in jobs:
        forced = force(job) if callable(force) else bool(force)
        if not forced and _is_done(job, out, job_timeout):
            counts["skipped"] += 1
            notify("skip", job, None)
        else:
            pending.append(job)
    pending.reverse()
    running: list[tuple[Job, subprocess.Popen, float, Path, Any]] = []
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[2])] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    if not pending:
        return counts
    lock = _acquire_lock(out)
    previous_handler = _raise_on_sigterm()
    try:
        while pending or running:
            while pending and len(running) < n_jobs:
                job = pending.pop()
                log = out / WORK_DIR / "logs" / f"{job.job_id}.log"
                log.parent.mkdir(parents=True, exist_ok=True)
                job.path(out).unlink(missing_ok=True)  # whatever is there after exit is new
                handle = open(log, "w", encoding="utf-8")  # noqa: SIM115 (closed below)
                cmd = [
                    python or sys.executable,
                    "-m",
                    "ihomer.bench.worker",
                    "--job",
                    json.dumps(job.config()),
                    "--out",
                    str(job.path(out)),
                ]
                proc = subprocess.Popen(
                    cmd, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True
                )
                running.append((job, proc, time.monotonic(), log, handle))
                notify("start", job, None)
            time.sleep(poll_seconds)
            still = []
            for job, proc, started, log, handle in running:
                elapsed = time.monotonic() - started
                code = proc.poll()
                if code is None and elapsed <= job_timeout:
                    still.append((job, proc, started, log, handle))
                    continue
                if code is None:  # over budget: kill the job's whole process group
                    _kill(proc)
                    record = _dnf_record(job, job_timeout, elapsed, log)
                    write_json_atomic(job.path(out), record)
                else:
                    record = load_job_result(job, out)
                    if record is None or record.get("status") not in ("ok", "error"):
                        record = _error_record(job, code, elapsed, log)
                        write_json_atomic(job.path(out), record)
                handle.close()
                counts[record["status"]] = counts.get(record["status"], 0) + 1
                notify("done", job, record)
            running = still
    finally:
        for _job, proc, _started, _log, handle in running:  # interrupted: stop our children
            _kill(proc)
            handle.close()
        _restore_sigterm(previous_handler)
        lock.unlink(missing_ok=True)
    return counts


class RunLockedError(RuntimeError):
    """Another live benchmark process is running jobs into the same output folder."""


def _acquire_lock(out: Path) -> Path:
    """Create ``out/_work/.lock`` holding this PID; a dead process's lock is taken over."""
    (out / WORK_DIR).mkdir(parents=True, exist_ok=True)
    lock = out / WORK_DIR / ".lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and pid != os.getpid() and _alive(pid):
                raise RunLockedError(
                    f"{lock}: another benchmark run (pid {pid}) is running jobs into {out}; "
                    "wait for it, or stop it, or use another --out"
                ) from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return lock
    raise RunLockedError(f"{lock}: could not take the lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _raise_on_sigterm() -> Any:
    """Turn SIGTERM into SystemExit while jobs run, so that ``finally`` stops the children (they
    run in their own sessions and would outlive a parent killed without cleanup)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, handler)


def _restore_sigterm(previous: Any) -> None:
    import signal

    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def _kill(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()
