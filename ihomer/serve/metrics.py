"""The daemon's Prometheus collectors, built on a registry passed in (never the global one).

This module owns the metric names, their help texts and label sets, and the small helpers that
read the model (number of label clusters, structural-event counts) with ``getattr`` fallbacks so
any river multi-label classifier works. Labels are bounded dimensions only (topic, partition,
outcome, reason category, event kind, metric name), never label or cluster ids. It must not talk to
Kafka.
"""

from __future__ import annotations

import math
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["ServeMetrics", "LATENCY_BUCKETS"]

#: Seconds; fine at the bottom because one prediction takes tens of microseconds.
LATENCY_BUCKETS = (
    1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25,
    0.5, 1.0, 2.5, 5.0,
)  # fmt: skip


class ServeMetrics:
    """All collectors of one daemon.

    Examples
    --------
    >>> from prometheus_client import CollectorRegistry, generate_latest
    >>> m = ServeMetrics(CollectorRegistry())
    >>> m.records.labels(topic="events", outcome="learned").inc()
    >>> b'ihomer_records_total{outcome="learned",topic="events"} 1.0' in generate_latest(m.registry)
    True
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        r = registry
        self.records = Counter(
            "ihomer_records",
            "Records handled, by topic and outcome (learned, predicted, dead_lettered).",
            ["topic", "outcome"],
            registry=r,
        )
        self.replayed = Counter(
            "ihomer_replayed_records",
            "Labelled records learned again after a restart (consumed after the last checkpoint"
            " by an earlier run).",
            ["topic"],
            registry=r,
        )
        self.dead_letters = Counter(
            "ihomer_dead_letter_records",
            "Records sent to the dead-letter topic, by source topic and reason category.",
            ["topic", "reason"],
            registry=r,
        )
        self.learn_seconds = Histogram(
            "ihomer_learn_duration_seconds",
            "Time of the model's learn_one per labelled record (observed once per poll batch: its"
            " mean).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predict_seconds = Histogram(
            "ihomer_predict_duration_seconds",
            "Model time to predict one record: a request, or a labelled record before learning it"
            " (path=prequential); observed once per poll batch (its mean per record).",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.request_seconds = Histogram(
            "ihomer_request_duration_seconds",
            "Per request: from the record's Kafka timestamp to the prediction handed to the"
            " producer.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.prequential = Gauge(
            "ihomer_prequential_metric",
            "Live prequential (test-then-train) metrics over every labelled record learned.",
            ["metric"],
            registry=r,
        )
        self.learned = Gauge(
            "ihomer_model_instances",
            "Labelled records in the model state (its version number).",
            registry=r,
        )
        self.clusters = Gauge(
            "ihomer_label_clusters",
            "Number of label clusters in the model's partition (NaN when the model has none).",
            registry=r,
        )
        self.labels_seen = Gauge(
            "ihomer_labels", "Number of distinct labels seen by the model.", registry=r
        )
        self.events = Counter(
            "ihomer_structural_events",
            "Structural and drift events of the model, by kind.",
            ["kind"],
            registry=r,
        )
        self.lag = Gauge(
            "ihomer_consumer_lag_records",
            "High-water mark minus the daemon's position, per assigned partition.",
            ["topic", "partition"],
            registry=r,
        )
        self.assigned = Gauge(
            "ihomer_assigned_partitions",
            "Partitions currently assigned to this daemon, per topic.",
            ["topic"],
            registry=r,
        )
        self.checkpoint_seconds = Histogram(
            "ihomer_checkpoint_duration_seconds",
            "Time to write and fsync one checkpoint.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.checkpoints = Counter(
            "ihomer_checkpoints", "Checkpoints written, by outcome.", ["outcome"], registry=r
        )
        self.checkpoint_bytes = Gauge(
            "ihomer_checkpoint_bytes", "Size of the last checkpoint written.", registry=r
        )
        self.checkpoint_timestamp = Gauge(
            "ihomer_checkpoint_timestamp_seconds",
            "Unix time of the last checkpoint written or loaded.",
            registry=r,
        )
        self._last_checkpoint = math.nan
        self.checkpoint_age = Gauge(
            "ihomer_checkpoint_age_seconds",
            "Seconds since the last checkpoint was written or loaded (NaN before any).",
            registry=r,
        )
        self.checkpoint_age.set_function(lambda: time.time() - self._last_checkpoint)
        self.commits = Counter(
            "ihomer_offset_commits", "Offset commits, by outcome.", ["outcome"], registry=r
        )
        self.broker_errors = Counter(
            "ihomer_broker_errors",
            "Broker operations that failed and were retried, by operation.",
            ["operation"],
            registry=r,
        )
        self.broker_up = Gauge(
            "ihomer_broker_up",
            "1 when a bootstrap server accepted a TCP connection at the last check, else 0.",
            registry=r,
        )
        self.snapshot_loads = Counter(
            "ihomer_snapshot_loads",
            "Model snapshots (checkpoints) loaded by a serving replica, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.checkpoint_fallbacks = Counter(
            "ihomer_checkpoint_fallbacks",
            "Checkpoint files refused at start (corrupt, truncated, edited): the learner fell back"
            " to an older generation.",
            registry=r,
        )
        self.known_features = Gauge(
            "ihomer_features",
            "Distinct features admitted into the model (names; name=value for strings).",
            registry=r,
        )
        self._event_counts: dict[str, int] = {}

    def mark_checkpoint(self, unix_time: float) -> None:
        self._last_checkpoint = unix_time
        self.checkpoint_timestamp.set(unix_time)

    def observe_model(
        self, model: Any, n_learned: int, n_labels: int | None = None,
        n_features: int | None = None,
    ) -> None:  # fmt: skip
        """Read cluster count, label count and new structural events from ``model``.

        ``n_labels`` / ``n_features``: the distinct labels / features admitted (the limits'
        count); without it the model's ``labels_`` or ``labels`` attribute is asked.
        """
        self.learned.set(n_learned)
        n_clusters = getattr(model, "n_clusters", None)
        self.clusters.set(math.nan if n_clusters is None else float(n_clusters))
        if n_features is not None:
            self.known_features.set(n_features)
        if n_labels is None:
            labels = getattr(model, "labels_", None)
            if labels is None:
                labels = getattr(model, "labels", None)
            try:
                n_labels = len(labels) if labels is not None else None
            except TypeError:
                n_labels = None
        self.labels_seen.set(math.nan if n_labels is None else n_labels)
        log = getattr(model, "events", None)
        counts = getattr(log, "counts", None)
        if counts is None:
            return
        for kind, c in counts.items():
            prev = self._event_counts.get(kind)
            if prev is None or c < prev:  # first look, or a model restored from a checkpoint
                prev = 0 if prev is None else c
                self._event_counts[kind] = prev
            if c > prev:
                self.events.labels(kind=kind).inc(c - prev)
                self._event_counts[kind] = c

    def reset_event_baseline(self, model: Any) -> None:
        """Count only events that happen from now on (after loading a checkpoint)."""
        counts = getattr(getattr(model, "events", None), "counts", None) or {}
        self._event_counts = dict(counts)

    def set_report(self, values: dict[str, float]) -> None:
        for name, v in values.items():
            try:
                self.prequential.labels(metric=name).set(float(v))
            except (TypeError, ValueError):
                continue

    def serve_http(self, addr: str = "127.0.0.1", port: int = 0) -> tuple[Any, int]:
        """Serve ``/metrics`` on ``addr:port`` (0 = a free port); returns ``(server, port)``."""
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        return server, server.server_address[1]
