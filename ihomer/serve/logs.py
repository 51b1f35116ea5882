"""Logging for the daemon process: one format, and kafka-python's reconnect chatter rate-limited.

While the broker is away kafka-python logs an error on every reconnect attempt (several per
second). :class:`RateLimitFilter` lets the first record of each message through, then at most one
per ``interval_s`` with the number of records suppressed since, so an outage reads as a few clear
lines and not a flood. This module must not know about Kafka itself.
"""

from __future__ import annotations

import logging
import re
import sys
import time

__all__ = ["RateLimitFilter", "configure_logging"]

_DIGITS = re.compile(r"\d+")


class RateLimitFilter(logging.Filter):
    """Pass a message (numbers ignored when grouping) at most once per ``interval_s`` seconds.

    Examples
    --------
    >>> f = RateLimitFilter(interval_s=60)
    >>> rec = lambda: logging.LogRecord("kafka", 40, "f", 1, "Connection lost: port 9", None, None)
    >>> [f.filter(rec()) for _ in range(3)]
    [True, False, False]
    """

    def __init__(self, interval_s: float = 30.0) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._last: dict[tuple, float] = {}
        self._suppressed: dict[tuple, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, _DIGITS.sub("N", str(record.msg)))
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        self._last[key] = now
        n = self._suppressed.pop(key, 0)
        if n:
            record.msg = f"{record.msg} ({n} similar messages suppressed)"
        return True


def configure_logging(level: str = "INFO", kafka_interval_s: float = 30.0) -> None:
    """Log to stderr with timestamps; kafka-python's warnings and errors rate-limited."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    kafka_log = logging.getLogger("kafka")
    kafka_log.setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING)
    limiter = RateLimitFilter(kafka_interval_s)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_only_kafka(limiter))


def _only_kafka(limiter: RateLimitFilter) -> logging.Filter:
    class _KafkaOnly(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if record.name == "kafka" or record.name.startswith("kafka."):
                return limiter.filter(record)
            return True

    return _KafkaOnly()
