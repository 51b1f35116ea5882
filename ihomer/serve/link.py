"""The daemon's link to the broker: client settings, retries, probing, the producer, dead letters.

This module owns :class:`BrokerLink`: the kafka-python client configurations built from the
settings, exponential backoff (:class:`Backoff`) and ``retry()`` for calls that fail while the
broker is away, the TCP probe of the bootstrap servers (at start, and while idle to report an
outage once), the one producer, its acknowledgement tracking (``acked()`` without blocking,
``flush()`` re-sending what failed) and the dead-letter send (original bytes, bounded, with the
reason and the coordinates in headers). It knows nothing about the model or checkpoints.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Any

from ihomer.serve.config import ServeConfig
from ihomer.serve.metrics import ServeMetrics

__all__ = ["Backoff", "BrokerLink"]

log = logging.getLogger("ihomer.serve")

#: Room the producer keeps beyond ``max_message_bytes`` for a record's key and headers.
_PRODUCE_OVERHEAD = 64 * 1024


class Backoff:
    """Exponential backoff with a cap; ``wait()`` returns early when ``stopping()`` turns true.

    Examples
    --------
    >>> b = Backoff(0.5, 2.0, lambda: False)
    >>> [b.next_delay() for _ in range(4)]
    [0.5, 1.0, 2.0, 2.0]
    """

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


class BrokerLink:
    """Clients, retries and produced messages of one daemon.

    Parameters
    ----------
    config
        The settings.
    metrics
        Where broker errors, ``ihomer_broker_up`` and dead letters are counted.
    stopping
        ``() -> bool``: true once the daemon must stop (retries and waits end).
    """

    def __init__(
        self, config: ServeConfig, metrics: ServeMetrics, stopping: Callable[[], bool]
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.stopping = stopping
        self.producer: Any = None
        self._pending: list[tuple[Any, tuple]] = []
        self._first_unacked = 0
        self._broker_checked = 0.0
        self._down_since: float | None = None
        self.n_dead = 0

    # ------------------------------------------------------------------ settings
    def backoff(self) -> Backoff:
        return Backoff(self.config.retry_backoff_s, self.config.retry_backoff_max_s, self.stopping)

    def common(self) -> dict[str, Any]:
        c = self.config
        return dict(
            bootstrap_servers=c.bootstrap_servers.split(","),
            client_id=c.client_id,
            reconnect_backoff_ms=int(c.retry_backoff_s * 1000),
            reconnect_backoff_max_ms=int(c.retry_backoff_max_s * 1000),
            **c.kafka_security(),
        )

    def consumer_config(self, group: str, fetch_max_wait_ms: int | None = None) -> dict[str, Any]:
        """Consumer settings; ``fetch_max_wait_ms`` overrides the labelled topic's wait."""
        c = self.config
        return dict(
            self.common(),
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=c.session_timeout_ms,
            heartbeat_interval_ms=c.heartbeat_interval_ms,
            fetch_max_wait_ms=fetch_max_wait_ms if fetch_max_wait_ms is not None
            else c.fetch_max_wait_ms,
            max_poll_records=c.max_poll_records,
            fetch_max_bytes=max(52428800, c.max_message_bytes * 2),
            max_partition_fetch_bytes=max(1048576, c.max_message_bytes * 2),
        )

    # ------------------------------------------------------------------ retries, probing
    def retry(self, what: str, fn: Callable[[], Any]) -> Any:
        """Call ``fn`` until it succeeds (or the daemon stops: returns None), backing off."""
        from kafka.errors import KafkaError

        backoff = self.backoff()
        while not self.stopping():
            try:
                result = fn()
            except (KafkaError, OSError) as e:
                delay = backoff.next_delay()
                self.metrics.broker_errors.labels(operation=what).inc()
                log.warning(
                    "%s failed (broker %s): %s: %s; retrying in %.1f s (attempt %d)",
                    what, self.config.bootstrap_servers, type(e).__name__, e, delay,
                    backoff.attempt,
                )  # fmt: skip
                backoff.wait(delay)
                continue
            if backoff.attempt:
                log.info("%s succeeded after %d retries", what, backoff.attempt)
            return result
        return None

    def probe(self, timeout: float = 2.0) -> tuple[str | None, list[str]]:
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

    def wait_for_broker(self) -> bool:
        """Probe the bootstrap servers until one answers (False if the daemon stops first)."""
        backoff = self.backoff()
        down_since = time.monotonic()
        while not self.stopping():
            up, errors = self.probe()
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
                "; ".join(errors), delay, backoff.attempt,
            )  # fmt: skip
            backoff.wait(delay)
        return False

    def watch(self) -> None:
        """While idle, notice an outage (and its end) and say so once each."""
        now = time.monotonic()
        if now - self._broker_checked < 2.0:
            return
        self._broker_checked = now
        up, errors = self.probe(timeout=0.5)
        self.metrics.broker_up.set(1 if up else 0)
        if up is None and self._down_since is None:
            self._down_since = now
            self.metrics.broker_errors.labels(operation="connect").inc()
            log.warning(
                "broker unreachable (%s); clients keep reconnecting with backoff, records are not "
                "lost (offsets are committed only after a checkpoint)",
                "; ".join(errors),
            )
        elif up is not None and self._down_since is not None:
            log.info("broker %s reachable again after %.1f s", up, now - self._down_since)
            self._down_since = None

    def alive(self) -> None:
        """Records arrived: the broker is back if it was away (said once)."""
        if self._down_since is not None:
            log.info(
                "broker reachable again after %.1f s (records arrived)",
                time.monotonic() - self._down_since,
            )
            self._down_since = None
            self.metrics.broker_up.set(1)

    # ------------------------------------------------------------------ producing
    def connect_producer(self) -> bool:
        from kafka import KafkaProducer

        c = self.config
        self.producer = self.retry(
            "connect producer",
            lambda: KafkaProducer(
                **self.common(),
                linger_ms=c.linger_ms,
                acks="all",
                max_request_size=c.max_message_bytes + _PRODUCE_OVERHEAD,
                batch_size=256 * 1024,
            ),
        )
        return self.producer is not None

    def send(self, topic: str, value: bytes, key: bytes | None, headers: list | None) -> None:
        fut = self.producer.send(topic, value=value, key=key, headers=headers)
        self._pending.append((fut, (topic, value, key, headers)))

    @property
    def n_pending(self) -> int:
        return len(self._pending) - self._first_unacked

    def acked(self) -> bool:
        """True when every message sent so far is acknowledged (never blocks; re-sends failures
        at the next :meth:`flush`)."""
        pending = self._pending
        i = self._first_unacked
        while i < len(pending):
            fut = pending[i][0]
            if not fut.is_done or fut.failed():
                break
            i += 1
        self._first_unacked = i
        if i == len(pending):
            pending.clear()
            self._first_unacked = 0
            return True
        return False

    def flush(self, give_up_after_s: float | None = None) -> bool:
        """Wait until every message sent so far is acknowledged (re-sending failed ones).

        Returns False when ``give_up_after_s`` passed first (the daemon is stopping).
        """
        from kafka.errors import KafkaError

        if self.acked():
            return True
        start = time.monotonic()
        c = self.config
        backoff = Backoff(c.retry_backoff_s, c.retry_backoff_max_s, lambda: False)
        while True:
            if self.stopping() and give_up_after_s is None:  # a signal arrived while waiting
                give_up_after_s, start = 10.0, time.monotonic()
            try:
                self.producer.flush(timeout=5.0)
            except KafkaError as e:
                log.warning("producer flush: %s: %s", type(e).__name__, e)
            pending = self._pending[self._first_unacked :]
            failed = [(f, m) for f, m in pending if f.is_done and f.failed()]
            waiting = [(f, m) for f, m in pending if not f.is_done]
            if not failed and not waiting:
                self._pending.clear()
                self._first_unacked = 0
                return True
            self.metrics.broker_errors.labels(operation="produce").inc()
            if give_up_after_s is not None and time.monotonic() - start > give_up_after_s:
                log.error(
                    "%d messages not acknowledged after %.0f s; offsets stay uncommitted",
                    len(failed) + len(waiting), give_up_after_s,
                )  # fmt: skip
                return False
            if failed:
                delay = backoff.next_delay()
                log.warning(
                    "%d messages failed (%s); re-sending in %.1f s",
                    len(failed), failed[0][0].exception, delay,
                )  # fmt: skip
                backoff.wait(delay)
                self._pending, self._first_unacked = waiting, 0
                for _f, m in failed:
                    self.send(*m)
            else:
                log.warning("waiting for the broker to acknowledge %d messages", len(waiting))

    def dead_letter(self, msg: Any, category: str, reason: str, source: str) -> None:
        """Send ``msg``'s original bytes (cut at ``max_message_bytes``) to the dead-letter topic
        with the reason, its category and its coordinates in headers."""
        c = self.config
        value = msg.value or b""
        headers = [
            ("ihomer.reason", reason[:1000].encode("utf-8", "replace")),
            ("ihomer.category", category.encode()),
            ("ihomer.source", source.encode("utf-8", "replace")),
            ("ihomer.topic", msg.topic.encode("utf-8", "replace")),
            ("ihomer.partition", str(msg.partition).encode()),
            ("ihomer.offset", str(msg.offset).encode()),
        ]
        if len(value) > c.max_message_bytes:
            headers.append(("ihomer.original_bytes", str(len(value)).encode()))
            value = value[: c.max_message_bytes]
        key = msg.key if msg.key is None or len(msg.key) <= 4096 else msg.key[:4096]
        self.send(c.dead_letter_topic, value, key, headers)
        self.n_dead += 1
        self.metrics.records.labels(topic=msg.topic, outcome="dead_lettered").inc()
        self.metrics.dead_letters.labels(topic=msg.topic, reason=category).inc()
        log.warning("dead-lettered %s: %s", source, reason[:300])

    def close(self) -> None:
        if self.producer is not None:
            try:
                self.producer.close(timeout=5)
            except Exception:  # noqa: BLE001 - closing on the way out
                pass
