"""The server role: answer prediction requests, a poll batch at a time, with the newest model.

This module owns :class:`ServerRole`: the request consumer (a consumer group: replicas share the
partitions), the batch path (every request of a poll batch decoded by
:func:`streams.kafka.decode_event`, checked against the per-record feature limit, then scored by
**one** model call, ``predict_batch``, which gives probabilities and the label set from one pass;
models without it are scored record by record, and a batch whose call fails is retried record by
record so that only the failing requests are dead-lettered), the prediction messages, and the
commit policy: the offsets of answered requests are committed once every prediction before them
is acknowledged, at most every ``--commit-interval-ms`` (or when ``--commit-max-pending``
predictions wait), never blocking the loop on the producer otherwise. A serving replica
(``--role server``) loads the learner's checkpoint as its model snapshot, verified with the
checkpoint key, whenever the file changes.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ihomer.checkpoint import CheckpointError, load_checkpoint
from ihomer.serve.checkpointer import CheckpointKeyError, read_key
from ihomer.serve.config import ServeConfig
from ihomer.serve.guard import model_error, settle_heap
from ihomer.serve.limits import LimitExceeded, Limits
from ihomer.serve.link import BrokerLink
from ihomer.serve.metrics import ServeMetrics
from streams.kafka import EventSchemaError, decode_event, position

__all__ = ["ServerRole", "predict_many"]

try:  # optional (the ``serve`` extra): encodes predictions ~5x faster than the stdlib
    from orjson import dumps as _dumps
except ImportError:  # pragma: no cover

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj).encode()

log = logging.getLogger("ihomer.serve")

Prediction = tuple[dict[Any, float], dict[Any, bool]]


def _one(model: Any, x: dict) -> Prediction:
    proba = model.predict_proba_one(x)
    on = model.predict_one(x)
    return {k: p.get(True, 0.0) for k, p in proba.items()}, on


def predict_many(model: Any, xs: list[dict]) -> list[Prediction | Exception]:
    """``(P(label) per label, label set)`` for each ``x``: one ``predict_batch`` call when the
    model has it, else (or when that call fails) one record at a time; a record whose prediction
    raises gets the exception in its place.

    Examples
    --------
    >>> from ihomer.serve.models import LabelwiseLogistic
    >>> m = LabelwiseLogistic()
    >>> m.learn_one({"a": 1.0}, {"x": True})
    >>> [(p, on)] = predict_many(m, [{"a": 1.0}])
    >>> sorted(p) == sorted(on) == ["x"]
    True
    """
    batch = getattr(model, "predict_batch", None)
    if batch is not None:
        try:
            return list(batch(xs))
        except Exception:  # noqa: BLE001 - find the request that fails, record by record
            log.debug("predict_batch failed; retrying the batch record by record", exc_info=True)
    out: list[Prediction | Exception] = []
    for x in xs:
        try:
            out.append(_one(model, x))
        except Exception as e:  # noqa: BLE001 - a model bug must not crash the daemon
            out.append(e)
    return out


def _finite(v: float) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f - f == 0.0 else None


class ServerRole:
    """Serve the request topic.

    Parameters
    ----------
    config, metrics, link
        Settings, collectors, broker link (predictions and dead letters).
    model_source
        ``() -> (model, version)`` when this process also learns (``--role both``); ``None`` for a
        replica, which loads the checkpoint as its snapshot.
    model_factory
        ``() -> model``: what a replica serves before its first snapshot.
    """

    def __init__(
        self,
        config: ServeConfig,
        metrics: ServeMetrics,
        link: BrokerLink,
        model_source: Callable[[], tuple[Any, int]] | None,
        model_factory: Callable[[], Any],
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.link = link
        self.model_source = model_source
        self.model_factory = model_factory
        self.instance_id = f"{socket.gethostname()}-{os.getpid()}"
        self.limits = Limits(config.limit_settings())
        self.consumer: Any = None
        self._model: Any = None
        self._version = 0
        self._snapshot_mtime: float | None = None
        self._snapshot_checked = 0.0
        self._snapshot_error: str | None = None
        self._uncommitted: dict[Any, Any] = {}
        self._last_commit = time.monotonic()
        self._next: dict[Any, int] = {}
        self._batch_start: dict[Any, int] = {}

    def current(self) -> tuple[Any, int]:
        if self.model_source is not None:
            return self.model_source()
        return self._model, self._version

    # ------------------------------------------------------------------ consumer
    def connect(self) -> bool:
        from kafka import KafkaConsumer
        from kafka.consumer.subscription_state import ConsumerRebalanceListener

        c = self.config
        consumer = self.link.retry(
            "connect server consumer",
            lambda: KafkaConsumer(
                **self.link.consumer_config(c.server_group, c.request_fetch_max_wait_ms)
            ),
        )
        if consumer is None:
            return False
        role = self

        class _Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked: Any) -> None:
                if revoked:
                    log.info("request partitions revoked: %s", sorted(t.partition for t in revoked))
                    role.commit(force=True)

            def on_partitions_assigned(self, assigned: Any) -> None:
                log.info("request partitions assigned: %s", sorted(t.partition for t in assigned))
                # Joining the group leaves thousands of garbage cycles (kafka-python's join
                # raises and catches a KafkaTimeoutError per short poll: exception, traceback,
                # frame); left to the collector, they and the unfrozen heap made full
                # collections of 50-310 ms while serving (each one a latency spike). Collect
                # now, before serving, and freeze what is alive.
                settle_heap()

        consumer.subscribe([c.request_topic], listener=_Listener())
        self.consumer = consumer
        if self.model_source is None:
            self._model = self.model_factory()
            self.reload_snapshot(force=True)
        return True

    def poll(self, timeout_ms: int) -> int:
        batch = self.consumer.poll(timeout_ms=timeout_ms, max_records=self.config.max_poll_records)
        n = 0
        if batch:
            try:
                n = self.handle(batch)
            except BaseException:
                self.rewind()
                raise
        if self.model_source is None:
            self.reload_snapshot()
        self.commit()
        return n

    def rewind(self) -> None:
        """After a failure mid-batch: fetch the batch again (at-least-once: some requests may
        be answered twice, with the same key)."""
        self._next.clear()
        for tp, o in self._batch_start.items():
            try:
                self.consumer.seek(tp, o)
            except Exception as e:  # noqa: BLE001 - a revoked partition: its next owner serves it
                log.warning("cannot seek back %s to %d: %s", tp, o, e)

    # ------------------------------------------------------------------ requests
    def handle(self, batch: dict) -> int:
        from kafka.structs import OffsetAndMetadata

        c = self.config
        link = self.link
        items: list[tuple[Any, dict, str | None, str]] = []
        self._batch_start = {tp: msgs[0].offset for tp, msgs in batch.items() if msgs}
        for tp, msgs in batch.items():
            for m in msgs:
                src = position(m.topic, m.partition, m.offset)
                try:
                    x, _y, rid, _ts = decode_event(
                        m.value, src, labelled=False, max_bytes=c.max_message_bytes
                    )
                    self.limits.check_request(x)
                except EventSchemaError as e:
                    link.dead_letter(m, e.category, e.reason, src)
                except LimitExceeded as e:
                    link.dead_letter(m, e.category, e.reason, src)
                else:
                    items.append((m, x, rid, src))
            if msgs:
                self._next[tp] = msgs[-1].offset + 1
        if items:
            self._answer(items)
        for tp, o in self._next.items():
            self._uncommitted[tp] = OffsetAndMetadata(o, "", -1)
        n = sum(len(msgs) for msgs in batch.values())
        self._next.clear()
        return n

    def _answer(self, items: list[tuple[Any, dict, str | None, str]]) -> None:
        c = self.config
        model, version = self.current()
        t0 = time.perf_counter()
        results = predict_many(model, [x for _, x, _, _ in items])
        per_request = (time.perf_counter() - t0) / len(items)
        predicted = self.metrics.records.labels(topic=c.request_topic, outcome="predicted")
        self.metrics.predict_seconds.labels(path="request").observe(per_request)
        request_s = self.metrics.request_seconds
        send, topic, served_by = self.link.send, c.prediction_topic, self.instance_id
        dumps = _dumps
        now = time.time()
        n_ok = 0
        for (m, _x, rid, src), res in zip(items, results, strict=True):
            if isinstance(res, Exception):
                log.error("the model failed on %s: %s", src, model_error(res))
                self.link.dead_letter(m, "model_error", model_error(res), src)
                continue
            proba, on = res
            if rid is None:
                key = m.key
                rid = m.key.decode("utf-8", "replace") if m.key else src
            else:
                key = rid.encode("utf-8", "replace")
            latency = max(0.0, now - m.timestamp / 1000.0) if m.timestamp else None
            out = {
                "id": rid,
                "labels": sorted(str(k) for k, v in on.items() if v),
                "probabilities": {str(k): _finite(p) for k, p in proba.items()},
                "model_version": version,
                "latency_seconds": latency,
                "predict_seconds": per_request,
                "source": src,
                "served_by": served_by,
            }
            send(topic, dumps(out), key, None)
            if latency is not None:
                request_s.observe(latency)
            n_ok += 1
        predicted.inc(n_ok)

    def commit(self, force: bool = False) -> None:
        """Commit the answered requests' offsets once their predictions are acknowledged."""
        from kafka.errors import KafkaError

        if not self._uncommitted:
            return
        c, link = self.config, self.link
        now = time.monotonic()
        if not force and (now - self._last_commit) * 1000 < c.commit_interval_ms:
            if link.n_pending < c.commit_max_pending or not c.commit_max_pending:
                return
        if not link.acked():
            if not force and link.n_pending < c.commit_max_pending:
                return  # not yet: the next loop looks again, without blocking
            if not link.flush(give_up_after_s=10.0 if link.stopping() else None):
                return
        offsets, self._uncommitted = self._uncommitted, {}
        self._last_commit = now
        try:
            self.consumer.commit(offsets, timeout_ms=5000)
            self.metrics.commits.labels(outcome="ok").inc()
        except KafkaError as e:  # a rebalance or an absent broker: the requests are re-served
            self.metrics.commits.labels(outcome="failed").inc()
            self.metrics.broker_errors.labels(operation="commit").inc()
            log.warning("commit of request offsets failed (%s: %s)", type(e).__name__, e)

    # ------------------------------------------------------------------ snapshots
    def reload_snapshot(self, force: bool = False) -> None:
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
            key = read_key(self.config, create=False)
            if key is None:
                raise CheckpointKeyError(
                    f"no checkpoint key: give --checkpoint-key or --checkpoint-key-file (the "
                    f"learner generates {self.config.checkpoint_path}.key)"
                )
            obj, meta = load_checkpoint(path, key=key)
        except (CheckpointError, CheckpointKeyError) as e:
            self.metrics.snapshot_loads.labels(outcome="failed").inc()
            if str(e) != self._snapshot_error:  # once per distinct problem, not every poll
                log.warning("cannot load model snapshot: %s", e)
                self._snapshot_error = str(e)
            return
        self._snapshot_error = None
        self._model = obj["model"]
        self._version = int(meta.get("n_learned", 0))
        settle_heap()
        self.limits.restore(obj.get("limits"))
        self._snapshot_mtime = mtime
        self.metrics.snapshot_loads.labels(outcome="ok").inc()
        self.metrics.observe_model(
            self._model, self._version, len(self.limits.labels) or None,
            len(self.limits.features),
        )  # fmt: skip
        self.metrics.mark_checkpoint(float(meta.get("written_at", time.time())))
        log.info("loaded model snapshot %s (version %d)", path, self._version)

    # ------------------------------------------------------------------ gauges, shutdown
    def lag(self) -> None:
        assignment = self.consumer.assignment()
        self.metrics.assigned.labels(topic=self.config.request_topic).set(len(assignment))
        for tp in assignment:
            hw = self.consumer.highwater(tp)
            if hw is None:
                continue
            try:
                pos = self.consumer.position(tp, timeout_ms=0)
            except Exception:  # noqa: BLE001 - position unknown during a rebalance
                pos = None
            if pos is not None:
                self.metrics.lag.labels(topic=tp.topic, partition=str(tp.partition)).set(
                    max(0, hw - pos)
                )

    def close(self) -> None:
        if self.consumer is not None:
            self.commit(force=True)
            try:
                self.consumer.close(autocommit=False, timeout_ms=5000)
            except Exception:  # noqa: BLE001 - closing on the way out
                pass
