"""One benchmark job in its own process: ``python -m ihomer.bench.worker --job JSON --out FILE``.

This module owns the body of a job: open the stream, build the model, run
:func:`ihomer.evaluate.prequential` on it, and write the result file atomically (status ``"ok"``,
or ``"error"`` with the traceback). It computes no metric and knows nothing of other jobs; the
parent (:mod:`ihomer.bench.jobs`) enforces the time budget.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ihomer.bench.jobs import SEED_PLACEHOLDER, Job, write_json_atomic

__all__ = ["run_job", "main"]

#: At most this many global (label-space) and local (tree) structural events are kept per job
#: file; ``event_counts_run`` stays exact.
MAX_GLOBAL_EVENTS = 5_000
MAX_LOCAL_EVENTS = 500


def _keep_events(events: list[dict]) -> list[dict]:
    """The global events (up to a cap) and the first local ones, in their order.

    Examples
    --------
    >>> kept = _keep_events([{"kind": "node_split"}] * 600 + [{"kind": "cluster_split"}])
    >>> len(kept), kept[-1]["kind"]
    (501, 'cluster_split')
    """
    from ihomer.events import EVENT_KINDS

    n_global = n_local = 0
    kept = []
    for e in events:
        if EVENT_KINDS.get(e.get("kind"), "local") == "global":
            n_global += 1
            if n_global <= MAX_GLOBAL_EVENTS:
                kept.append(e)
        else:
            n_local += 1
            if n_local <= MAX_LOCAL_EVENTS:
                kept.append(e)
    return kept


def _stream_info(stream: Any, spec: str, n: int) -> dict[str, Any]:
    drifts = getattr(stream, "drift_points", None)
    return {
        "spec": spec,
        "name": getattr(stream, "name", spec),
        "source": str(getattr(stream, "source", "")),
        "n_labels": len(getattr(stream, "labels", []) or []),
        "n_features": len(getattr(stream, "features", []) or []),
        "sparse": bool(getattr(stream, "sparse", False)),
        "drift_points": [int(d) for d in drifts if d < n] if drifts else [],
    }


def run_job(job: Job) -> dict[str, Any]:
    """Run ``job`` in this process and return its result record (status ``"ok"``)."""
    from ihomer.bench.models import MODELS, make_model
    from ihomer.bench.suite import open_bench_stream, resolve
    from ihomer.evaluate import peak_rss_bytes, prequential

    spec = resolve(job.stream)
    if SEED_PLACEHOLDER in spec:
        spec = spec.replace(SEED_PLACEHOLDER, str(job.seed if job.seed is not None else 0))
    stream = open_bench_stream(spec)
    model_spec = MODELS[job.model]
    if model_spec.needs_scan:
        from ihomer.bench.moa import scan_features

        prefix = (
            stream if job.max_instances is None else itertools.islice(stream, job.max_instances)
        )
        scan = scan_features(prefix)
        stream.scanned_features, stream.scanned_labels, stream.scanned_nominal = scan
        if not stream.scanned_labels:
            stream.scanned_labels = list(getattr(stream, "labels", []))
    model = make_model(job.model, seed=job.seed, stream=stream)
    if hasattr(model, "start"):  # MOA: start the JVM before the timed run
        model.start()
    # Read (and parse) the stream before the clock starts: the figures measure the learners.
    records = list(
        stream if job.max_instances is None else itertools.islice(stream, job.max_instances)
    )
    rss_before = peak_rss_bytes()
    started = time.time()
    result = prequential(
        model,
        records,
        max_instances=None,
        trace_every=job.trace_every,
        measure_memory=job.measure_memory,
    )
    data = result.to_dict()
    # the trace feeds plots: 6 significant digits keep job files small (final metrics stay exact)
    data["trace"] = [
        {k: float(f"{v:.6g}") if isinstance(v, float) else v for k, v in entry.items()}
        for entry in data.get("trace", [])
    ]
    data["peak_rss_bytes"] = peak_rss_bytes()
    events = data.pop("events", [])
    counts = getattr(getattr(model, "events", None), "counts", None)
    n_clusters = None
    try:
        n_clusters = getattr(model, "n_clusters", None)
    except Exception:
        pass
    return {
        "status": "ok",
        "job": job.config(),
        "job_id": job.job_id,
        "config_hash": job.config_hash(),
        "model": {
            "name": job.model,
            "family": model_spec.family,
            "stochastic": model_spec.stochastic,
            "description": model_spec.description,
            "repr": repr(model)[:500],
            "n_clusters": None if n_clusters is None else int(n_clusters),
            "event_counts": dict(counts) if counts else {},
        },
        "stream": _stream_info(stream, spec, result.n),
        "result": data,
        "events": _keep_events(events),
        "event_counts_run": dict(Counter(e.get("kind") for e in events)),
        "n_events": len(events),
        "rss_before_run_bytes": rss_before,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "host": platform.node(),
        "python": sys.version.split()[0],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", required=True, help="the job's configuration (JSON)")
    parser.add_argument("--out", required=True, help="where to write the result (JSON)")
    args = parser.parse_args(argv)
    job = Job(**json.loads(args.job))
    try:
        record = run_job(job)
    except Exception as exc:
        record = {
            "status": "error",
            "job": job.config(),
            "job_id": job.job_id,
            "config_hash": job.config_hash(),
            "reason": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }
        write_json_atomic(args.out, record)
        traceback.print_exc()
        return 1
    write_json_atomic(args.out, record)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
