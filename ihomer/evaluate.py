"""Prequential (test-then-train) evaluation: the step the daemon and the benchmark share, and the
loop over a whole stream.

This module owns :class:`PrequentialStep` (predict, score, learn, with timings),
:func:`prequential` (the loop: traces for plots, structural events, wall time, memory) and
:func:`format_table`. It defines no metric itself: every figure comes from
:class:`ihomer.metrics.MultiLabelReport`, so metrics mean the same in every caller. It must not read
files or topics: a stream is any iterable of ``(x, y)`` pairs.
"""

from __future__ import annotations

import itertools
import math
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ihomer.events import EventLog, StructuralEvent
from ihomer.metrics import METRIC_NAMES, MultiLabelReport, window_metrics

try:  # resource is Unix-only
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

__all__ = [
    "PrequentialStep",
    "PrequentialResult",
    "prequential",
    "format_table",
    "peak_rss_bytes",
    "TRACE_WINDOW_METRICS",
]

#: Metrics of the trace computed over the last ``trace_every`` instances only (prefixed "window_").
TRACE_WINDOW_METRICS: tuple[str, ...] = (
    "subset_accuracy",
    "hamming_loss",
    "example_f1",
    "micro_f1",
)

_PROGRESS_EVERY = 100


class PrequentialStep:
    """One test-then-train step: ``predict_one``, score, ``learn_one``.

    Parameters
    ----------
    model
        Any river-style multi-label classifier (``predict_one(x) -> dict``, ``learn_one(x, y)``).
    report
        Where the predictions are scored; a new :class:`~ihomer.metrics.MultiLabelReport` if None.

    Attributes
    ----------
    n : int
        Instances processed.
    predict_seconds, learn_seconds : float
        Time spent in ``predict_one`` and ``learn_one`` (``time.perf_counter``).

    Examples
    --------
    >>> from river import linear_model, multioutput
    >>> model = multioutput.ClassifierChain(linear_model.LogisticRegression(), order=["a", "b"])
    >>> step = PrequentialStep(model)
    >>> step({"x": 1.0}, {"a": True, "b": False})
    {'a': False, 'b': False}
    >>> step.n, step.report.n
    (1, 1)
    """

    def __init__(self, model: Any, report: MultiLabelReport | None = None) -> None:
        self.model = model
        self.report = report if report is not None else MultiLabelReport()
        self.n = 0
        self.predict_seconds = 0.0
        self.learn_seconds = 0.0

    def __call__(self, x: Mapping, y: Mapping) -> dict:
        """Predict ``x``, score the prediction against ``y``, learn ``(x, y)``; return the
        prediction (an empty prediction is scored like any other)."""
        clock = time.perf_counter
        try:
            t0 = clock()
            y_pred = self.model.predict_one(x)
            t1 = clock()
        except Exception as exc:
            exc.add_note(f"ihomer.evaluate: in predict_one of instance {self.n} of the stream")
            raise
        if y_pred is None:
            y_pred = {}
        self.report.update(y, y_pred)
        try:
            t2 = clock()
            self.model.learn_one(x, y)
            t3 = clock()
        except Exception as exc:
            exc.add_note(f"ihomer.evaluate: in learn_one of instance {self.n} of the stream")
            raise
        self.predict_seconds += t1 - t0
        self.learn_seconds += t3 - t2
        self.n += 1
        return y_pred


@dataclass
class PrequentialResult:
    """What :func:`prequential` measured.

    Attributes
    ----------
    metrics
        The final value of every metric of :data:`ihomer.metrics.METRIC_NAMES`.
    n
        Instances scored (all of them: test-then-train over the whole stream).
    seconds
        Wall time of the whole loop, reading the stream included.
    instances_per_s
        ``n / seconds``.
    peak_memory_bytes
        Peak of the Python allocations traced by ``tracemalloc`` during the loop when
        ``measure_memory`` was set (which slows the run several times), else None.
    peak_rss_bytes
        The process's resident-set high-water mark after the loop (``ru_maxrss``); it covers the
        whole process life, not only this run. None where ``resource`` is unavailable.
    trace
        Every ``trace_every`` instances and at the end: ``n``, ``seconds`` since the start, the
        cumulative metrics, ``n_clusters`` (the model's, or None) and ``window_*`` metrics over
        the instances since the previous entry.
    events
        Structural events recorded by the model's :class:`~ihomer.events.EventLog` (attribute
        ``events``) during the run: ``{"n", "kind", **detail}`` plus ``step``, the number of
        instances this run had processed when the event was received.
    predict_seconds, learn_seconds
        Time spent in ``predict_one`` and ``learn_one``.
    """

    metrics: dict[str, float]
    n: int
    seconds: float
    instances_per_s: float
    peak_memory_bytes: int | None = None
    peak_rss_bytes: int | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    predict_seconds: float = 0.0
    learn_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy (numpy values become Python numbers, unknown objects strings;
        non-finite floats become None)."""
        return _jsonable(asdict(self))


def peak_rss_bytes() -> int | None:
    """The process's peak resident set size in bytes: ``VmHWM`` where /proc has it (Linux: per
    address space, so unlike ``ru_maxrss`` it does not inherit the parent's peak across fork +
    exec), else ``ru_maxrss`` (KiB on Linux, bytes on macOS)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if resource is None:  # pragma: no cover - Windows
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss) if sys.platform == "darwin" else int(rss) * 1024


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k) if not isinstance(k, str) else k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def _n_clusters(model: Any) -> int | None:
    try:
        value = getattr(model, "n_clusters", None)
    except Exception:  # a property that is not ready before the first learn_one
        return None
    return None if value is None else int(value)


class _EventCollector:
    """Collects the events a model's EventLog records during one run (the log may be created
    lazily by the model, so attaching is retried until it exists)."""

    def __init__(self, model: Any, step: PrequentialStep, enabled: bool) -> None:
        self.model = model
        self.step = step
        self.enabled = enabled
        self.events: list[dict[str, Any]] = []
        self.log: EventLog | None = None
        self.active = False

    def attach(self, during_run: bool) -> None:
        if not self.enabled or self.log is not None:
            return
        log = getattr(self.model, "events", None)
        if not isinstance(log, EventLog):
            return
        self.log = log
        self.active = True
        if during_run:  # created during this run: what it holds happened during this run
            for event in list(log.events):
                self._receive(event)
        log.subscribe(self._receive)

    def _receive(self, event: StructuralEvent) -> None:
        if self.active:
            self.events.append({**event.detail, "n": event.n, "kind": event.kind,
                                "step": self.step.n})

    def detach(self) -> None:
        self.active = False
        unsubscribe = getattr(self.log, "unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe(self._receive)


def _check_params(max_instances: int | None, trace_every: int | None) -> None:
    if max_instances is not None and (not isinstance(max_instances, int) or max_instances < 0):
        raise ValueError(f"max_instances must be None or an int >= 0, got {max_instances!r}")
    if trace_every is not None and (not isinstance(trace_every, int) or trace_every < 0):
        raise ValueError(f"trace_every must be None or an int >= 0, got {trace_every!r}")


def prequential(
    model: Any,
    stream: Iterable[tuple[Mapping, Mapping]],
    *,
    max_instances: int | None = None,
    trace_every: int | None = 500,
    progress: bool | Callable[[int], Any] = False,
    measure_memory: bool = False,
    events: bool = True,
    total: int | None = None,
) -> PrequentialResult:
    """Test-then-train ``model`` on every ``(x, y)`` of ``stream``, in order, no warm-up excluded.

    Parameters
    ----------
    model
        A river-style multi-label classifier; it is trained in place.
    stream
        Any iterable of ``(x, y)`` pairs (``y``: label -> bool).
    max_instances
        Stop after this many instances (None: the whole stream).
    trace_every
        Add a trace entry every this many instances (and always one at the end); None or 0: only
        at the end.
    progress
        True: a tqdm bar on stderr with instances/s, the running micro-F1 and, when the length
        is known (``total``, ``max_instances`` or ``len(stream)``), the total and the ETA; a
        callable: called with the number of instances processed every 100 instances and at
        the end.
    measure_memory
        Trace Python allocations with ``tracemalloc`` to report ``peak_memory_bytes``. This slows
        the run several times: do not use the same run for throughput figures.
    events
        Collect the structural events of ``model.events`` (an :class:`~ihomer.events.EventLog`).
    total
        The stream's length when the caller knows it (the progress bar's total); the bar uses
        the smaller of it and ``max_instances``.

    Examples
    --------
    >>> from river import linear_model, multioutput
    >>> model = multioutput.ClassifierChain(linear_model.LogisticRegression(), order=["a", "b"])
    >>> stream = [({"x": float(i % 2)}, {"a": i % 2 == 0, "b": True}) for i in range(40)]
    >>> result = prequential(model, stream, trace_every=10)
    >>> result.n, len(result.trace), result.trace[-1]["micro_f1"] == result.metrics["micro_f1"]
    (40, 4, True)
    """
    _check_params(max_instances, trace_every)
    step = PrequentialStep(model)
    report = step.report
    collector = _EventCollector(model, step, events)
    collector.attach(during_run=False)

    items = iter(stream) if max_instances is None else itertools.islice(stream, max_instances)
    bar = None
    callback: Callable[[int], Any] | None = None
    if progress is True:
        from tqdm.auto import tqdm

        length = total
        if length is None and hasattr(stream, "__len__"):
            length = len(stream)  # type: ignore[arg-type]
        if max_instances is not None:
            length = max_instances if length is None else min(length, max_instances)
        bar = tqdm(total=length, file=sys.stderr, unit="inst", smoothing=0.1)
    elif callable(progress):
        callback = progress
    elif progress is not False:
        raise ValueError(f"progress must be a bool or a callable, got {progress!r}")

    started_tracing = False
    if measure_memory:
        if tracemalloc.is_tracing():
            tracemalloc.reset_peak()
        else:
            tracemalloc.start()
            started_tracing = True

    trace: list[dict[str, Any]] = []
    last_snapshot = first_snapshot = report.snapshot()
    every = trace_every or 0
    start = time.perf_counter()

    def add_trace() -> None:
        nonlocal last_snapshot
        snapshot = report.snapshot()
        entry: dict[str, Any] = {"n": step.n, "seconds": time.perf_counter() - start}
        entry.update(report.get())
        entry["n_clusters"] = _n_clusters(model)
        window = window_metrics(last_snapshot, snapshot)
        for name in TRACE_WINDOW_METRICS:
            entry[f"window_{name}"] = window[name]
        trace.append(entry)
        last_snapshot = snapshot

    try:
        for x, y in items:
            step(x, y)
            n = step.n
            if collector.log is None and collector.enabled:
                collector.attach(during_run=True)
            if every and n % every == 0:
                add_trace()
            if n % _PROGRESS_EVERY == 0:
                if bar is not None:
                    mf1 = window_metrics(first_snapshot, report.snapshot())["micro_f1"]
                    bar.set_postfix_str(f"micro-F1 {mf1:.3f}", refresh=False)
                    bar.update(_PROGRESS_EVERY)
                elif callback is not None:
                    callback(n)
        seconds = time.perf_counter() - start
        if not trace or trace[-1]["n"] != step.n:
            add_trace()
        # the final entry must carry the final metrics exactly, even if taken a moment later
        trace[-1]["seconds"] = seconds
        peak_memory = None
        if measure_memory:
            peak_memory = tracemalloc.get_traced_memory()[1]
    finally:
        if started_tracing:
            tracemalloc.stop()
        collector.detach()
        if bar is not None:
            bar.update(step.n - bar.n)
            bar.close()
    if callback is not None and step.n % _PROGRESS_EVERY:
        callback(step.n)

    return PrequentialResult(
        metrics=report.get(),
        n=step.n,
        seconds=seconds,
        instances_per_s=step.n / seconds if seconds > 0 else 0.0,
        peak_memory_bytes=peak_memory,
        peak_rss_bytes=peak_rss_bytes(),
        trace=trace,
        events=collector.events,
        predict_seconds=step.predict_seconds,
        learn_seconds=step.learn_seconds,
    )


_SHORT_NAMES = {
    "subset_accuracy": "subset_acc",
    "hamming_loss": "hamming",
    "example_precision": "ex_P",
    "example_recall": "ex_R",
    "example_f1": "ex_F1",
    "micro_precision": "mi_P",
    "micro_recall": "mi_R",
    "micro_f1": "mi_F1",
    "macro_precision": "ma_P",
    "macro_recall": "ma_R",
    "macro_f1": "ma_F1",
}


def format_table(
    results: Mapping[str, PrequentialResult], metrics: Iterable[str] = METRIC_NAMES
) -> str:
    """A fixed-width table: one row per model, one column per metric, then the wall seconds of
    the whole loop (reading the stream included), the seconds spent inside the model's
    ``predict_one`` and ``learn_one`` (``model_s``), and instances per wall second.

    Examples
    --------
    >>> r = PrequentialResult(metrics={m: 0.5 for m in METRIC_NAMES}, n=10, seconds=2.0,
    ...                       instances_per_s=5.0, predict_seconds=0.5, learn_seconds=1.0)
    >>> print(format_table({"BR": r}, metrics=["subset_accuracy", "micro_f1"]))
    model  subset_acc   mi_F1  seconds  model_s  inst/s
    BR         0.5000  0.5000     2.00     1.50       5
    """
    metrics = list(metrics)
    headers = ["model"] + [_SHORT_NAMES.get(m, m) for m in metrics]
    headers += ["seconds", "model_s", "inst/s"]
    rows = []
    for name, result in results.items():
        row = [str(name)]
        row += [f"{result.metrics.get(m, float('nan')):.4f}" for m in metrics]
        model_s = result.predict_seconds + result.learn_seconds
        row += [f"{result.seconds:.2f}", f"{model_s:.2f}", f"{result.instances_per_s:,.0f}"]
        rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in [headers, *rows]
    ]
    return "\n".join(lines)
