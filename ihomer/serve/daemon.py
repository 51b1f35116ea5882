"""The consume-predict-learn loop of ``ihomer serve``.

This module owns :class:`Daemon`: it consumes the labelled topic (one learner owns all of its
partitions) and runs the shared prequential step on each record (predict, score, learn: the live
metrics mean what the benchmark's mean); it consumes the request topic in a consumer group
(replicas share its partitions) and produces predictions; it sends bad input to the dead-letter
topic; it checkpoints the model and *then* commits offsets (at-least-once); it retries with backoff
when the broker is away; it stops cleanly on SIGTERM/SIGINT. Metrics live in
:mod:`ihomer.serve.metrics`, settings in :mod:`ihomer.serve.config`, the wire format in
:mod:`streams.kafka`. See ``DESIGN.md`` beside this file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from ihomer.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ihomer.serve.config import ServeConfig
from ihomer.serve.metrics import ServeMetrics
from ihomer.serve.models import make_model
from ihomer.serve.progress import ProgressFile
from streams.kafka import EventSchemaError, decode_event, position

__all__ = ["Daemon", "LearnerLockedError"]

log = logging.getLogger("ihomer.serve")


class LearnerLockedError(RuntimeError):
    """Another learner process holds the checkpoint's lock."""


class _Backoff:
    """Exponential backoff with a cap; ``wait()`` returns early when ``stopping()`` turns true."""

    def __init__(self, first: float, cap: float, stopping: Callable[[], bool]) -> None:
        self.first, self.cap, self.stopping = first, cap, stopping
        self.attempt = 0

    def next_delay(self) -> float:
        d = min(self.cap, self.first * (2**self.attempt))
        self.attempt += 1
        return d

    def wait(self, delay: float) -> None:
        end = time.monotonic() + delay
        while not self.stopping() and time.monotonic() < end:
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))

    def reset(self) -> None:
        self.attempt = 0


def _model_error(e: Exception) -> str:
    return f"the model raised {type(e).__name__}: {e}"[:1000]


def _json_float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


class Daemon:
    """Learn from a labelled topic and serve predictions for a request topic.

    Parameters
    ----------
    config
        The settings (:class:`ihomer.serve.config.ServeConfig`).
    registry
        Prometheus registry for the collectors (a fresh one when ``None``).
    model_factory
        ``() -> model`` for a fresh model; defaults to ``make_model(config.model, config.seed)``.

    Examples
    --------
    >>> from ihomer.serve.config import ServeConfig
    >>> d = Daemon(ServeConfig(model="br-logreg", metrics_port=0))
    >>> d.stop()
    >>> d.stopping
    True
    """

    def __init__(
        self,
        config: ServeConfig,
        registry: CollectorRegistry | None = None,
        model_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.config = config
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = ServeMetrics(self.registry)
        self.model_factory = model_factory or (lambda: make_model(config.model, config.seed))
        self.instance_id = f"{socket.gethostname()}-{os.getpid()}"
        self.metrics_port: int | None = None
        self._stopping = False
        self._learn_consumer: Any = None
        self._serve_consumer: Any = None
        self._producer: Any = None
        self._pending: list[tuple[Any, tuple]] = []
        self._step: Any = None
        self._model: Any = None
        self._report: Any = None
        self._serve_model: Any = None
        self._serve_version = 0
        self._snapshot_mtime: float | None = None
        self._snapshot_checked = 0.0
        self._n_learned = 0
        self._n_replayed = 0
        self._n_dead = 0
        self._offsets: dict[int, int] = {}  # labelled partition -> next offset to learn
        self._replay_until: dict[int, int] = {}
        self._since_checkpoint = 0
        self._last_checkpoint = time.monotonic()
        self._checkpoint_seq = 0
        self._lock_fd: int | None = None
        self._audit: Any = None
        self._progress: Any = None
        self._lag_checked = 0.0
        self._broker_checked = 0.0
        self._broker_down_since: float | None = None
        self._http: Any = None

    # ------------------------------------------------------------------ control
    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self, *_: Any) -> None:
        """Ask the loop to finish the record in hand, checkpoint, commit and leave."""
        self._stopping = True

    def install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: Any) -> None:
            if not self._stopping:
                log.info("received %s: finishing the record in hand", signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    @property
    def progress_path(self) -> Path:
        return Path(self.config.checkpoint_path + ".progress")

    # ------------------------------------------------------------------ setup
    def _kafka_common(self) -> dict[str, Any]:
        c = self.config
        return dict(
            bootstrap_servers=c.bootstrap_servers.split(","),
            client_id=c.client_id,
            reconnect_backoff_ms=int(c.retry_backoff_s * 1000),
            reconnect_backoff_max_ms=int(c.retry_backoff_max_s * 1000),
            **c.kafka_security(),
        )

    def _consumer_config(self, group: str) -> dict[str, Any]:
        c = self.config
        return dict(
            self._kafka_common(),
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=c.session_timeout_ms,
            heartbeat_interval_ms=c.heartbeat_interval_ms,
            fetch_max_wait_ms=c.fetch_max_wait_ms,
            max_poll_records=c.max_poll_records,
            fetch_max_bytes=max(52428800, c.max_message_bytes * 2),
            max_partition_fetch_bytes=max(1048576, c.max_message_bytes * 2),
        )

    def _with_retry(self, what: str, fn: Callable[[], Any]) -> Any:
        """Call ``fn`` until it succeeds (or the daemon stops: returns None), backing off."""
        from kafka.errors import KafkaError

        backoff = _Backoff(
            self.config.retry_backoff_s, self.config.retry_backoff_max_s, self.stopping_fn
        )
        while not self._stopping:
            try:
                result = fn()
            except (KafkaError, OSError) as e:
                delay = backoff.next_delay()
                self.metrics.broker_errors.labels(operation=what).inc()
                log.warning(
                    "%s failed (broker %s): %s: %s; retrying in %.1f s (attempt %d)",
                    what,
                    self.config.bootstrap_servers,
                    type(e).__name__,
                    e,
                    delay,
                    backoff.attempt,
                )
                backoff.wait(delay)
                continue
            if backoff.attempt:
                log.info("%s succeeded after %d retries", what, backoff.attempt)
            return result
        return None

    def stopping_fn(self) -> bool:
        return self._stopping

    def _take_lock(self) -> None:
        import fcntl

        path = self.config.checkpoint_path + ".lock"
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise LearnerLockedError(
                f"{path}: another learner holds this checkpoint; run exactly one learner per "
                "labelled topic (serving replicas use --role server)"
            ) from None
        self._lock_fd = fd

    def _load_state(self) -> dict:
        """Load the checkpoint if there is one; returns its metadata (empty when starting fresh)."""
        from ihomer.evaluate import PrequentialStep
        from ihomer.metrics import MultiLabelReport

        path = Path(self.config.checkpoint_path)
        meta: dict = {}
        if path.exists():
            obj, meta = load_checkpoint(path, key=self._key())
            self._model, self._report = obj["model"], obj["report"]
            self._n_learned = int(meta.get("n_learned", 0))
            self._n_replayed = int(meta.get("n_replayed", 0))
            self._n_dead = int(meta.get("n_dead_lettered", 0))
            self._checkpoint_seq = int(meta.get("seq", 0))
            written = float(meta.get("written_at", time.time()))
            self.metrics.mark_checkpoint(written)
            self.metrics.reset_event_baseline(self._model)
            log.info(
                "loaded checkpoint %s: %d records learned, written %.1f s ago",
                path,
                self._n_learned,
                time.time() - written,
            )
        else:
            self._model, self._report = self.model_factory(), MultiLabelReport()
            log.info("no checkpoint at %s: starting a fresh %s model", path, self.config.model)
        self._step = PrequentialStep(self._model, self._report)
        self.metrics.observe_model(self._model, self._n_learned)
        if self._n_learned:
            self.metrics.set_report(self._report.get())
        return meta

    def _key(self) -> bytes | None:
        return self.config.checkpoint_key.encode() if self.config.checkpoint_key else None

    def _setup_learner(self, meta: dict) -> bool:
        from kafka import KafkaConsumer, TopicPartition

        c = self.config
        consumer = self._with_retry(
            "connect learner consumer",
            lambda: KafkaConsumer(**self._consumer_config(c.learner_group)),
        )
        if consumer is None:
            return False
        self._learn_consumer = consumer
        backoff = _Backoff(c.retry_backoff_s, c.retry_backoff_max_s, self.stopping_fn)
        parts = None
        while not self._stopping:
            parts = consumer.partitions_for_topic(c.labelled_topic)
            if parts:
                break
            delay = backoff.next_delay()
            log.warning(
                "labelled topic %r has no partitions yet (not created?); retrying in %.1f s",
                c.labelled_topic,
                delay,
            )
            backoff.wait(delay)
        if not parts:
            return False
        tps = [TopicPartition(c.labelled_topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        previous = ProgressFile.read(self.progress_path)
        saved = {int(k): int(v) for k, v in meta.get("offsets", {}).items()}
        for tp in tps:
            start = saved.get(tp.partition)
            source = "checkpoint"
            if start is None:
                start = self._with_retry(
                    "read committed offset", lambda tp=tp: consumer.committed(tp)
                )
                source = "committed offset"
            if start is None:
                consumer.seek_to_beginning(tp)
                log.info(
                    "%s: no checkpoint or committed offset; from the beginning",
                    position(tp.topic, tp.partition, 0),
                )
                self._offsets[tp.partition] = 0
            else:
                consumer.seek(tp, start)
                self._offsets[tp.partition] = start
                seen = previous.get(tp.partition, start)
                if seen > start:
                    self._replay_until[tp.partition] = seen
                log.info(
                    "%s: resuming from the %s; %d records consumed by the last run after it will "
                    "be replayed",
                    position(tp.topic, tp.partition, start),
                    source,
                    max(0, seen - start),
                )
        self._progress = ProgressFile(self.progress_path, max(parts) + 1)
        for p, o in self._offsets.items():
            self._progress[p] = o
        return True

    def _setup_server(self) -> bool:
        from kafka import KafkaConsumer
        from kafka.consumer.subscription_state import ConsumerRebalanceListener

        c = self.config
        consumer = self._with_retry(
            "connect server consumer",
            lambda: KafkaConsumer(**self._consumer_config(c.server_group)),
        )
        if consumer is None:
            return False

        class _Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked: Any) -> None:
                if revoked:
                    log.info("request partitions revoked: %s", sorted(t.partition for t in revoked))

            def on_partitions_assigned(self, assigned: Any) -> None:
                log.info("request partitions assigned: %s", sorted(t.partition for t in assigned))

        consumer.subscribe([c.request_topic], listener=_Listener())
        self._serve_consumer = consumer
        if not c.learns:
            self._serve_model = self.model_factory()
            self._maybe_reload_snapshot(force=True)
        return True

    def _probe_broker(self, timeout: float = 2.0) -> tuple[str | None, list[str]]:
        """TCP-connect to the bootstrap servers: ``(first reachable or None, errors)``."""
        errors = []
        for hp in self.config.bootstrap_servers.split(","):
            host, _, port = hp.strip().rpartition(":")
            host = host.strip("[]") or "127.0.0.1"
            try:
                socket.create_connection((host, int(port or 9092)), timeout=timeout).close()
            except (OSError, ValueError) as e:
                errors.append(f"{hp.strip()}: {getattr(e, 'strerror', None) or e}")
                continue
            return hp.strip(), errors
        return None, errors

    def _watch_broker(self) -> None:
        """While idle, notice an outage (and its end) and say so once each."""
        now = time.monotonic()
        if now - self._broker_checked < 2.0:
            return
        self._broker_checked = now
        up, errors = self._probe_broker(timeout=0.5)
        self.metrics.broker_up.set(1 if up else 0)
        if up is None and self._broker_down_since is None:
            self._broker_down_since = now
            self.metrics.broker_errors.labels(operation="connect").inc()
            log.warning(
                "broker unreachable (%s); clients keep reconnecting with backoff, records are not "
                "lost (offsets are committed only after a checkpoint)",
                "; ".join(errors),
            )
        elif up is not None and self._broker_down_since is not None:
            log.info("broker %s reachable again after %.1f s", up, now - self._broker_down_since)
            self._broker_down_since = None

    def _wait_for_broker(self) -> bool:
        """Probe the bootstrap servers over TCP until one answers (clients time out slowly)."""
        c = self.config
        backoff = _Backoff(c.retry_backoff_s, c.retry_backoff_max_s, self.stopping_fn)
        down_since = time.monotonic()
        while not self._stopping:
            up, errors = self._probe_broker()
            if up is not None:
                if backoff.attempt:
                    log.info("broker %s reachable after %.1f s", up, time.monotonic() - down_since)
                self.metrics.broker_up.set(1)
                return True
            self.metrics.broker_up.set(0)
            delay = backoff.next_delay()
            self.metrics.broker_errors.labels(operation="connect").inc()
            log.warning(
                "broker not reachable (%s); retrying in %.1f s (attempt %d)",
                "; ".join(errors),
                delay,
                backoff.attempt,
            )
            backoff.wait(delay)
        return False

    def _setup_producer(self) -> bool:
        from kafka import KafkaProducer

        self._producer = self._with_retry(
            "connect producer",
            lambda: KafkaProducer(**self._kafka_common(), linger_ms=5, acks="all"),
        )
        return self._producer is not None

    # ------------------------------------------------------------------ producing
    def _send(self, topic: str, value: bytes, key: bytes | None, headers: list | None) -> None:
        msg = (topic, value, key, headers)
        fut = self._producer.send(topic, value=value, key=key, headers=headers)
        self._pending.append((fut, msg))

    def _flush(self, give_up_after_s: float | None = None) -> bool:
        """Wait until every message sent so far is acknowledged (re-sending failed ones)."""
        from kafka.errors import KafkaError

        if not self._pending:
            return True
        start = time.monotonic()
        backoff = _Backoff(
            self.config.retry_backoff_s, self.config.retry_backoff_max_s, lambda: False
        )
        while True:
            if self._stopping and give_up_after_s is None:  # a signal arrived while waiting
                give_up_after_s, start = 10.0, time.monotonic()
            try:
                self._producer.flush(timeout=5.0)
            except KafkaError as e:
                log.warning("producer flush: %s: %s", type(e).__name__, e)
            failed = [(f, m) for f, m in self._pending if f.is_done and f.failed()]
            waiting = [(f, m) for f, m in self._pending if not f.is_done]
            if not failed and not waiting:
                self._pending.clear()
                return True
            self.metrics.broker_errors.labels(operation="produce").inc()
            if give_up_after_s is not None and time.monotonic() - start > give_up_after_s:
                log.error(
                    "%d messages not acknowledged after %.0f s; offsets stay uncommitted",
                    len(failed) + len(waiting),
                    give_up_after_s,
                )
                return False
            if failed:
                delay = backoff.next_delay()
                log.warning(
                    "%d messages failed (%s); re-sending in %.1f s",
                    len(failed),
                    failed[0][0].exception,
                    delay,
                )
                backoff.wait(delay)
                self._pending = waiting
                for _f, m in failed:
                    self._send(*m)
            else:
                log.warning("waiting for the broker to acknowledge %d messages", len(waiting))

    def _dead_letter(self, msg: Any, err: EventSchemaError) -> None:
        c = self.config
        headers = [
            ("ihomer.reason", err.reason.encode()),
            ("ihomer.category", err.category.encode()),
            ("ihomer.source", err.source.encode()),
            ("ihomer.topic", msg.topic.encode()),
            ("ihomer.partition", str(msg.partition).encode()),
            ("ihomer.offset", str(msg.offset).encode()),
        ]
        self._send(c.dead_letter_topic, msg.value or b"", msg.key, headers)
        self._n_dead += 1
        self.metrics.records.labels(topic=msg.topic, outcome="dead_lettered").inc()
        self.metrics.dead_letters.labels(topic=msg.topic, reason=err.category).inc()
        log.warning("dead-lettered %s", err)

    # ------------------------------------------------------------------ learning
    def _learn_batch(self, batch: dict) -> int:
        c = self.config
        n = 0
        records = self.metrics.records.labels(topic=c.labelled_topic, outcome="learned")
        replayed = self.metrics.replayed.labels(topic=c.labelled_topic)
        predict_s = self.metrics.predict_seconds.labels(path="prequential")
        for tp, msgs in batch.items():
            for m in msgs:
                if self._stopping:
                    break
                if m.offset < self._offsets.get(tp.partition, 0):
                    continue  # already in the model (a fetch from before a seek)
                src = position(m.topic, m.partition, m.offset)
                try:
                    x, y, rid, _ts = decode_event(
                        m.value, src, labelled=True, max_bytes=c.max_message_bytes
                    )
                except EventSchemaError as e:
                    self._dead_letter(m, e)
                else:
                    step = self._step
                    p0, l0 = step.predict_seconds, step.learn_seconds
                    try:
                        step(x, y)
                    except Exception as e:  # noqa: BLE001 - a model bug must not crash-loop
                        log.exception("the model failed on %s", src)
                        self._dead_letter(m, EventSchemaError(src, _model_error(e), "model_error"))
                        self._offsets[m.partition] = m.offset + 1
                        self._progress[m.partition] = m.offset + 1
                        self._since_checkpoint += 1
                        n += 1
                        continue
                    predict_s.observe(step.predict_seconds - p0)
                    self.metrics.learn_seconds.observe(step.learn_seconds - l0)
                    self._n_learned += 1
                    records.inc()
                    if m.offset < self._replay_until.get(m.partition, -1):
                        self._n_replayed += 1
                        replayed.inc()
                    if self._audit is not None:
                        self._audit.write(f"{m.topic}\t{m.partition}\t{m.offset}\t{rid}\n")
                self._offsets[m.partition] = m.offset + 1
                self._progress[m.partition] = m.offset + 1
                self._since_checkpoint += 1
                n += 1
        if n:
            # the report first: once ihomer_model_instances reads N, the metrics cover N records
            self.metrics.set_report(self._report.get())
            self.metrics.observe_model(self._model, self._n_learned)
        return n

    def _checkpoint(self, reason: str) -> bool:
        """Flush dead letters, write the checkpoint, then commit the labelled offsets."""
        from kafka import TopicPartition
        from kafka.errors import KafkaError
        from kafka.structs import OffsetAndMetadata

        c = self.config
        if not self._flush(give_up_after_s=10.0 if self._stopping else None):
            self.metrics.checkpoints.labels(outcome="skipped").inc()
            return False
        t0 = time.perf_counter()
        now = time.time()
        meta = {
            "topic": c.labelled_topic,
            "offsets": {str(p): o for p, o in self._offsets.items()},
            "n_learned": self._n_learned,
            "n_replayed": self._n_replayed,
            "n_dead_lettered": self._n_dead,
            "seq": self._checkpoint_seq + 1,
            "written_at": now,
            "model": c.model,
            "reason": reason,
        }
        try:
            size = save_checkpoint(
                c.checkpoint_path,
                {"model": self._model, "report": self._report},
                metadata=meta,
                key=self._key(),
            )
        except OSError as e:
            self.metrics.checkpoints.labels(outcome="failed").inc()
            log.error("checkpoint %s failed: %s; offsets stay uncommitted", c.checkpoint_path, e)
            return False
        self._checkpoint_seq += 1
        dt = time.perf_counter() - t0
        self.metrics.checkpoint_seconds.observe(dt)
        self.metrics.checkpoints.labels(outcome="written").inc()
        self.metrics.checkpoint_bytes.set(size)
        self.metrics.mark_checkpoint(now)
        self._since_checkpoint = 0
        self._last_checkpoint = time.monotonic()
        log.debug("checkpoint %d (%s): %d bytes in %.3f s", self._checkpoint_seq, reason, size, dt)
        offsets = {
            TopicPartition(c.labelled_topic, p): OffsetAndMetadata(o, "", -1)
            for p, o in self._offsets.items()
        }
        try:
            self._learn_consumer.commit(offsets, timeout_ms=5000)
            self.metrics.commits.labels(outcome="ok").inc()
        except KafkaError as e:
            # The checkpoint holds the offsets; the next checkpoint commits again.
            self.metrics.commits.labels(outcome="failed").inc()
            self.metrics.broker_errors.labels(operation="commit").inc()
            log.warning(
                "commit of labelled offsets failed (%s: %s); will retry", type(e).__name__, e
            )
        return True

    # ------------------------------------------------------------------ serving
    def _maybe_reload_snapshot(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._snapshot_checked < self.config.snapshot_poll_s:
            return
        self._snapshot_checked = now
        path = Path(self.config.checkpoint_path)
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return
        if mtime == self._snapshot_mtime:
            return
        try:
            obj, meta = load_checkpoint(path, key=self._key())
        except CheckpointError as e:
            self.metrics.snapshot_loads.labels(outcome="failed").inc()
            log.warning("cannot load model snapshot: %s", e)
            return
        self._serve_model = obj["model"]
        self._serve_version = int(meta.get("n_learned", 0))
        self._snapshot_mtime = mtime
        self.metrics.snapshot_loads.labels(outcome="ok").inc()
        self.metrics.observe_model(self._serve_model, self._serve_version)
        self.metrics.mark_checkpoint(float(meta.get("written_at", time.time())))
        log.info("loaded model snapshot %s (version %d)", path, self._serve_version)

    def _serve_batch(self, batch: dict) -> int:
        from kafka.structs import OffsetAndMetadata

        c = self.config
        model = self._model if c.learns else self._serve_model
        version = self._n_learned if c.learns else self._serve_version
        predicted = self.metrics.records.labels(topic=c.request_topic, outcome="predicted")
        predict_s = self.metrics.predict_seconds.labels(path="request")
        done: dict = {}
        n = 0
        for tp, msgs in batch.items():
            for m in msgs:
                if self._stopping:
                    break
                src = position(m.topic, m.partition, m.offset)
                try:
                    x, _y, rid, _ts = decode_event(
                        m.value, src, labelled=False, max_bytes=c.max_message_bytes
                    )
                except EventSchemaError as e:
                    self._dead_letter(m, e)
                else:
                    t0 = time.perf_counter()
                    try:
                        labels = model.predict_one(x)
                        proba = model.predict_proba_one(x)
                    except Exception as e:  # noqa: BLE001 - a model bug must not crash-loop
                        log.exception("the model failed on %s", src)
                        self._dead_letter(m, EventSchemaError(src, _model_error(e), "model_error"))
                        done[tp] = OffsetAndMetadata(m.offset + 1, "", -1)
                        n += 1
                        continue
                    model_s = time.perf_counter() - t0
                    predict_s.observe(model_s)
                    if rid is None:
                        rid = m.key.decode("utf-8", "replace") if m.key else src
                    latency = max(0.0, time.time() - m.timestamp / 1000.0) if m.timestamp else None
                    out = {
                        "id": rid,
                        "labels": sorted(str(k) for k, v in labels.items() if v),
                        "probabilities": {
                            str(k): _json_float(p.get(True, 0.0)) for k, p in proba.items()
                        },
                        "model_version": version,
                        "latency_seconds": latency,
                        "predict_seconds": model_s,
                        "source": src,
                        "served_by": self.instance_id,
                    }
                    self._send(c.prediction_topic, json.dumps(out).encode(), rid.encode(), None)
                    if latency is not None:
                        self.metrics.request_seconds.observe(latency)
                    predicted.inc()
                done[tp] = OffsetAndMetadata(m.offset + 1, "", -1)
                n += 1
        if done and self._flush(give_up_after_s=10.0 if self._stopping else None):
            self._commit_requests(done)
        return n

    def _commit_requests(self, offsets: dict) -> None:
        from kafka.errors import KafkaError

        try:
            self._serve_consumer.commit(offsets, timeout_ms=5000)
            self.metrics.commits.labels(outcome="ok").inc()
        except KafkaError as e:  # a rebalance or an absent broker: the requests are re-served
            self.metrics.commits.labels(outcome="failed").inc()
            self.metrics.broker_errors.labels(operation="commit").inc()
            log.warning("commit of request offsets failed (%s: %s)", type(e).__name__, e)

    # ------------------------------------------------------------------ gauges
    def _update_lag(self) -> None:
        now = time.monotonic()
        if now - self._lag_checked < 1.0:
            return
        self._lag_checked = now
        for consumer in (self._learn_consumer, self._serve_consumer):
            if consumer is None:
                continue
            assignment = consumer.assignment()
            topic = self.config.labelled_topic
            if consumer is self._serve_consumer:
                topic = self.config.request_topic
            self.metrics.assigned.labels(topic=topic).set(len(assignment))
            for tp in assignment:
                hw = consumer.highwater(tp)
                if hw is None:
                    continue
                if consumer is self._learn_consumer:
                    pos = self._offsets.get(tp.partition, 0)
                else:
                    try:
                        pos = consumer.position(tp, timeout_ms=0)
                    except Exception:  # noqa: BLE001 - position unknown during a rebalance
                        pos = None
                    if pos is None:
                        continue
                self.metrics.lag.labels(topic=tp.topic, partition=str(tp.partition)).set(
                    max(0, hw - pos)
                )

    # ------------------------------------------------------------------ main loop
    def run(self) -> int:
        """Run until stopped (signal, :meth:`stop` or ``max_run_s``); returns an exit status."""
        c = self.config
        log.info(
            "ihomer serve %s starting; effective configuration: %s",
            self.instance_id,
            json.dumps(c.redacted(), sort_keys=True),
        )
        if c.learns:
            try:
                self._take_lock()
            except LearnerLockedError as e:
                log.error("%s", e)
                return 3
        try:
            meta = self._load_state() if c.learns else {}
        except CheckpointError as e:
            log.error("refusing to start: %s", e)
            return 4
        self._http, self.metrics_port = self.metrics.serve_http(c.metrics_addr, c.metrics_port)
        log.info("metrics on http://%s:%d/metrics", c.metrics_addr, self.metrics_port)
        if c.audit_log:
            # line-buffered: every learned record reaches the kernel before the next one
            self._audit = open(c.audit_log, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        try:
            ok = self._wait_for_broker()
            ok = ok and self._setup_producer()
            ok = ok and (not c.learns or self._setup_learner(meta))
            ok = ok and (not c.serves or self._setup_server())
            if ok:
                self._loop()
        finally:
            self._shutdown()
        return 0

    def _loop(self) -> None:
        from kafka.errors import KafkaError

        c = self.config
        t_end = time.monotonic() + c.max_run_s if c.max_run_s > 0 else math.inf
        idle = True
        backoff = _Backoff(c.retry_backoff_s, c.retry_backoff_max_s, self.stopping_fn)
        log.info("running (role %s)", c.role)
        while not self._stopping and time.monotonic() < t_end:
            got = 0
            try:
                # With two consumers in one loop, an idle wait on one delays the other: keep the
                # waits short (10 ms) so requests are answered promptly while the learner idles.
                both = self._learn_consumer is not None and self._serve_consumer is not None
                wait_ms = min(10, c.poll_timeout_ms) if both else c.poll_timeout_ms
                if self._learn_consumer is not None:
                    timeout = wait_ms if idle else 0
                    batch = self._learn_consumer.poll(
                        timeout_ms=timeout, max_records=c.max_poll_records
                    )
                    got += self._learn_batch(batch)
                if self._serve_consumer is not None and not self._stopping:
                    timeout = wait_ms if idle and not got else 0
                    batch = self._serve_consumer.poll(
                        timeout_ms=timeout, max_records=c.max_poll_records
                    )
                    got += self._serve_batch(batch)
                    if not c.learns:
                        self._maybe_reload_snapshot()
                backoff.reset()
            except KafkaError as e:
                delay = backoff.next_delay()
                self.metrics.broker_errors.labels(operation="poll").inc()
                log.warning("poll failed: %s: %s; retrying in %.1f s", type(e).__name__, e, delay)
                backoff.wait(delay)
            idle = got == 0
            if idle:
                self._watch_broker()
            if (
                self._learn_consumer is not None
                and self._since_checkpoint
                and (
                    self._since_checkpoint >= c.checkpoint_interval
                    or time.monotonic() - self._last_checkpoint >= c.checkpoint_interval_s
                )
            ):
                self._checkpoint("interval")
            self._update_lag()
        if time.monotonic() >= t_end:
            log.info("max_run_s=%.1f reached", c.max_run_s)

    def _shutdown(self) -> None:
        log.info("shutting down")
        if self._learn_consumer is not None and (
            self._since_checkpoint or not self._checkpoint_seq
        ):
            self._checkpoint("shutdown")
        elif self._producer is not None:
            self._flush(give_up_after_s=10.0)
        for consumer in (self._serve_consumer, self._learn_consumer):
            if consumer is not None:
                with contextlib.suppress(Exception):
                    consumer.close(autocommit=False, timeout_ms=5000)
        if self._producer is not None:
            with contextlib.suppress(Exception):
                self._producer.close(timeout=5)
        if self._audit is not None:
            self._audit.close()
        if self._progress is not None:
            self._progress.close()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        log.info(
            "stopped: %d records learned (%d replayed), %d dead-lettered, checkpoint %d",
            self._n_learned,
            self._n_replayed,
            self._n_dead,
            self._checkpoint_seq,
        )
