"""Records from Kafka topics: the JSON event schema, its validation, and a consuming stream.

This module owns the wire format of labelled events and prediction requests (JSON objects), the
checks that turn bad bytes into a :class:`EventSchemaError` naming ``topic[partition]@offset`` and
the reason, and :class:`KafkaStream`, which iterates ``(x, y)`` from topics while keeping each
record's ``(topic, partition, offset)`` for errors and commits. It never unpickles anything:
messages are JSON only. It knows nothing about models, checkpoints or metrics.

Labelled event::

    {"features": {"f1": 0.5, "colour": "red", "f3": null},
     "labels": ["a", "c"],            # or {"a": true, "b": false, "c": true}
     "id": "evt-17",                  # optional, string or integer
     "timestamp": 1732770000.0}       # optional, number (seconds) or string

A prediction request is the same object without ``labels``.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from streams.errors import StreamFormatError

try:  # optional (the ``serve`` extra): parses Kafka messages ~3x faster than the stdlib
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - the stdlib parser decides alone
    _orjson_loads = None

__all__ = [
    "EventSchemaError",
    "KafkaRecord",
    "KafkaStream",
    "decode_event",
    "encode_event",
    "position",
    "ERROR_CATEGORIES",
    "DEFAULT_MAX_MESSAGE_BYTES",
]

DEFAULT_MAX_MESSAGE_BYTES = 1 << 20

#: Bounded categories of bad input (used as a metric label; the free-text reason says more).
ERROR_CATEGORIES = (
    "oversized",
    "malformed_json",
    "wrong_type",
    "non_finite",
    "unknown_field",
    "missing_field",
    "invalid_text",
)

#: Longest accepted ``id`` (it becomes the prediction's Kafka key and an audit-log field).
MAX_ID_CHARS = 1024
#: Integers beyond this magnitude cannot become a float (``float(10**400)`` raises).
_MAX_FLOAT = 1.7976931348623157e308
#: A JSON ``\uD800``-``\uDFFF`` escape: only then can a decoded string hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_LABELLED_FIELDS = frozenset({"features", "labels", "id", "timestamp"})
_REQUEST_FIELDS = frozenset({"features", "id", "timestamp"})


class EventSchemaError(StreamFormatError):
    """A bad Kafka message: where (``topic[partition]@offset``), why, and a bounded ``category``.

    Examples
    --------
    >>> e = EventSchemaError("events[0]@5", "features is missing", "missing_field")
    >>> str(e), e.category
    ('events[0]@5: features is missing', 'missing_field')
    """

    def __init__(self, source: str, reason: str, category: str = "wrong_type") -> None:
        super().__init__(source, None, reason)
        self.category = category

    def __reduce__(self):
        return (type(self), (self.source, self.reason, self.category))


def position(topic: str, partition: int, offset: int) -> str:
    """The canonical location string of a record, ``topic[partition]@offset``."""
    return f"{topic}[{partition}]@{offset}"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} is not allowed")


def _check_feature(source: str, name: str, v: Any) -> Any:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, int | float):
        if isinstance(v, float) and not math.isfinite(v):
            raise EventSchemaError(source, f"feature {name!r} is not finite: {v}", "non_finite")
        if isinstance(v, int) and not -_MAX_FLOAT <= v <= _MAX_FLOAT:
            raise EventSchemaError(
                source, f"feature {name!r} is an integer beyond the float range", "non_finite"
            )
        return v
    raise EventSchemaError(
        source,
        f"feature {name!r} must be a number, a string or null, not {type(v).__name__}",
        "wrong_type",
    )


_NUMBER_TYPES = ({float}, {float, int}, {int})
_FLOATS = {float}


def _all_finite_numbers(x: dict, parsed_finite: bool = False) -> bool:
    """The common case in C loops: only floats/ints, whose float sum is finite (any inf, nan or
    integer beyond the float range makes ``fsum`` raise or return a non-finite sum). Floats
    only: the plain ``sum`` (a third of ``fsum``'s time; a sum that overflows sends the record
    to the per-feature check, which accepts it). ``parsed_finite``: the numbers come from
    orjson, which refuses non-finite numbers (``NaN``, ``1e999``) and returns integers only
    within 64 bits (larger ones as finite floats), so the types alone decide (tested in
    ``tests/serve/test_wire_format.py``): a loop that stops at the first other type (as fast
    as ``set(map(type, ...))`` in the interpreter, a third of it in the compiled twin)."""
    if parsed_finite:
        for v in x.values():
            t = type(v)
            if t is not float and t is not int:
                return False
        return True
    types = set(map(type, x.values()))
    if types not in _NUMBER_TYPES:
        return not x
    try:
        total = sum(x.values()) if types == _FLOATS else math.fsum(x.values())
    except (OverflowError, ValueError):
        return False
    return total - total == 0.0


def _check_features(source: str, x: dict) -> None:
    """The slow path, feature by feature: raises on the first bad value, converts booleans."""
    for k, v in x.items():
        t = type(v)
        if t is float:
            if v - v != 0.0:  # inf or nan
                _check_feature(source, k, v)
        elif t is int:
            if not -_MAX_FLOAT <= v <= _MAX_FLOAT:
                _check_feature(source, k, v)
        elif t is not str and v is not None:
            x[k] = _check_feature(source, k, v)


def _labels(source: str, raw: Any) -> dict[str, bool]:
    if isinstance(raw, list):
        y: dict[str, bool] = {}
        for lab in raw:
            if not isinstance(lab, str | int) or isinstance(lab, bool):
                raise EventSchemaError(
                    source,
                    f"labels must be strings or integers, got {type(lab).__name__}",
                    "wrong_type",
                )
            y[str(lab)] = True
        return y
    if isinstance(raw, dict):
        for lab, v in raw.items():
            if not isinstance(v, bool):
                raise EventSchemaError(
                    source,
                    f"label {lab!r} must map to true/false, not {type(v).__name__}",
                    "wrong_type",
                )
        return dict(raw)
    raise EventSchemaError(
        source, f"labels must be a list or an object, not {type(raw).__name__}", "wrong_type"
    )


@dataclass
class KafkaRecord:
    """One decoded message and where it came from."""

    topic: str
    partition: int
    offset: int
    x: dict
    y: dict[str, bool] | None = None
    id: str | None = None
    timestamp: float | str | None = None
    key: bytes | None = None
    kafka_timestamp_ms: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def position(self) -> str:
        return position(self.topic, self.partition, self.offset)


def decode_event(
    value: bytes | None,
    source: str = "<message>",
    *,
    labelled: bool = True,
    max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> tuple[dict, dict[str, bool] | None, str | None, float | str | None]:
    """Validate one JSON message; returns ``(x, y, id, timestamp)`` (``y`` is None for requests).

    Raises :class:`EventSchemaError` (a :class:`streams.errors.StreamFormatError`) naming
    ``source`` and the reason: oversized, malformed JSON (NaN/Infinity literals included), not an
    object, unknown or missing fields, wrong types, non-finite numbers.

    Examples
    --------
    >>> decode_event(b'{"features": {"a": 1, "b": "x"}, "labels": ["l1"], "id": 7}', "t[0]@3")
    ({'a': 1, 'b': 'x'}, {'l1': True}, '7', None)
    >>> decode_event(b'{"features": {"a": NaN}, "labels": []}', "t[0]@4")
    Traceback (most recent call last):
    ...
    streams.kafka.EventSchemaError: t[0]@4: malformed JSON: non-finite number NaN is not allowed
    """
    if value is None:
        raise EventSchemaError(source, "empty message (null value)", "malformed_json")
    if len(value) > max_bytes:
        raise EventSchemaError(
            source, f"message is {len(value)} bytes, over the {max_bytes}-byte limit", "oversized"
        )
    if _orjson_loads is not None:
        # The fast parser first; whatever it refuses, or what fails validation after it, is
        # decided by the standard library's parser, so the answer (and its category) is the same.
        try:
            return _validate(_orjson_loads(value), value, source, labelled, True)
        except (ValueError, EventSchemaError):
            pass
    try:
        obj = json.loads(value, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as e:
        raise EventSchemaError(source, f"malformed JSON: {e}", "malformed_json") from None
    except RecursionError:
        raise EventSchemaError(
            source, "malformed JSON: nested too deeply", "malformed_json"
        ) from None
    return _validate(obj, value, source, labelled)


def _validate(
    obj: Any, value: bytes, source: str, labelled: bool, parsed_finite: bool = False
) -> tuple[dict, dict[str, bool] | None, str | None, float | str | None]:
    if not isinstance(obj, dict):
        raise EventSchemaError(
            source, f"expected a JSON object, got {type(obj).__name__}", "wrong_type"
        )
    allowed = _LABELLED_FIELDS if labelled else _REQUEST_FIELDS
    if not obj.keys() <= allowed:
        unknown = sorted(set(obj) - allowed)
        raise EventSchemaError(
            source, f"unknown field(s) {unknown}; allowed: {sorted(allowed)}", "unknown_field"
        )
    if "features" not in obj:
        raise EventSchemaError(source, "field 'features' is missing", "missing_field")
    if labelled and "labels" not in obj:
        raise EventSchemaError(source, "field 'labels' is missing", "missing_field")
    raw_x = obj["features"]
    if not isinstance(raw_x, dict):
        raise EventSchemaError(
            source, f"features must be an object, not {type(raw_x).__name__}", "wrong_type"
        )
    x = raw_x  # checked in place
    if not _all_finite_numbers(raw_x, parsed_finite):
        _check_features(source, raw_x)
    y = _labels(source, obj["labels"]) if labelled else None
    rid = obj.get("id")
    if rid is not None:
        if isinstance(rid, bool) or not isinstance(rid, str | int):
            raise EventSchemaError(
                source, f"id must be a string or an integer, not {type(rid).__name__}", "wrong_type"
            )
        rid = str(rid)
        if len(rid) > MAX_ID_CHARS:
            raise EventSchemaError(
                source, f"id is {len(rid)} characters, over {MAX_ID_CHARS}", "invalid_text"
            )
        if _CONTROL.search(rid):
            raise EventSchemaError(
                source, "id holds a control character (newline, tab...)", "invalid_text"
            )
    ts = obj.get("timestamp")
    if ts is not None:
        if isinstance(ts, bool) or not isinstance(ts, int | float | str):
            raise EventSchemaError(
                source,
                f"timestamp must be a number or a string, not {type(ts).__name__}",
                "wrong_type",
            )
        if isinstance(ts, float) and not math.isfinite(ts):
            raise EventSchemaError(source, f"timestamp is not finite: {ts}", "non_finite")
        if isinstance(ts, int) and not -_MAX_FLOAT <= ts <= _MAX_FLOAT:
            raise EventSchemaError(source, "timestamp is beyond the float range", "non_finite")
    if b"\\" in value and _SURROGATE_ESCAPE.search(value):  # memchr first: most have no escape
        _check_encodable(source, x, y, rid, ts)
    return x, y, rid, ts


def _check_encodable(source: str, x: dict, y: dict | None, rid: Any, ts: Any) -> None:
    """Refuse strings that are not valid Unicode text (lone surrogates such as ``"\\ud800"``):
    they cannot be encoded as UTF-8 when the id becomes a Kafka key or a log field."""
    texts: list[Any] = [rid, ts, *x]
    texts += [v for v in x.values() if type(v) is str]
    if y is not None:
        texts += list(y)
    for t in texts:
        if type(t) is str:
            try:
                t.encode("utf-8")
            except UnicodeEncodeError:
                raise EventSchemaError(
                    source, f"string {t[:40]!r} is not valid Unicode (a lone surrogate)",
                    "invalid_text",
                ) from None


def encode_event(
    x: dict,
    y: dict | None = None,
    id: str | int | None = None,
    timestamp: float | str | None = None,
) -> bytes:
    """The JSON bytes of an event (``y`` given) or a request (``y`` None); labels as a list.

    Examples
    --------
    >>> encode_event({"a": 1.0}, {"l1": True, "l2": False}, id=3)
    b'{"features": {"a": 1.0}, "labels": ["l1"], "id": 3}'
    """
    obj: dict[str, Any] = {"features": x}
    if y is not None:
        obj["labels"] = [str(k) for k, v in y.items() if v]
    if id is not None:
        obj["id"] = id
    if timestamp is not None:
        obj["timestamp"] = timestamp
    return json.dumps(obj, allow_nan=False).encode()


class KafkaStream:
    """Iterate ``(x, y)`` from Kafka topics; ``.last`` is the :class:`KafkaRecord` just yielded.

    Consumes with a consumer group (offsets are committed only by :meth:`commit`, never
    automatically) from the earliest offset. Stops after ``max_records`` records or when no record
    arrived for ``idle_timeout_s`` seconds once partitions are assigned (``TimeoutError`` if none
    is assigned within ``join_timeout_s``). Bad messages raise :class:`EventSchemaError` with
    ``on_error="raise"`` (default) or are skipped and counted in ``.n_errors`` with ``"skip"``.

    Parameters
    ----------
    topics
        A topic name or a list of them.
    bootstrap_servers
        ``"host:port"`` of the broker(s).
    group_id
        Consumer group; ``None`` consumes without a group (nothing can be committed).
    labelled
        Expect labelled events (``True``) or requests (``False``, ``y`` is then ``None``).
    consumer
        An existing ``kafka.KafkaConsumer`` to read from instead of creating one.

    Examples
    --------
    >>> stream = KafkaStream("events", "127.0.0.1:9092", idle_timeout_s=1.0)  # doctest: +SKIP
    >>> for x, y in stream:  # doctest: +SKIP
    ...     model.learn_one(x, y)
    """

    def __init__(
        self,
        topics: str | list[str],
        bootstrap_servers: str = "127.0.0.1:9092",
        group_id: str | None = "ihomer-stream",
        *,
        labelled: bool = True,
        max_records: int | None = None,
        idle_timeout_s: float | None = 5.0,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        on_error: str = "raise",
        consumer: Any = None,
        consumer_config: dict | None = None,
        join_timeout_s: float = 60.0,
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
        self.topics = [topics] if isinstance(topics, str) else list(topics)
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.labelled = labelled
        self.max_records = max_records
        self.idle_timeout_s = idle_timeout_s
        self.max_message_bytes = max_message_bytes
        self.on_error = on_error
        self.consumer = consumer
        self.consumer_config = consumer_config or {}
        self.join_timeout_s = join_timeout_s
        self.last: KafkaRecord | None = None
        self.n_errors = 0
        self._next: dict = {}

    @property
    def position(self) -> str | None:
        """``topic[partition]@offset`` of the record last yielded."""
        return None if self.last is None else self.last.position

    def _consumer(self) -> Any:
        if self.consumer is None:
            from kafka import KafkaConsumer

            cfg = dict(
                bootstrap_servers=self.bootstrap_servers,
                group_id=self.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=6000,
                heartbeat_interval_ms=1000,
                fetch_max_wait_ms=50,
            )
            cfg.update(self.consumer_config)
            self.consumer = KafkaConsumer(**cfg)
            self.consumer.subscribe(self.topics)
        return self.consumer

    def records(self) -> Iterator[KafkaRecord]:
        """Decoded records with their positions (bad ones raise or are skipped)."""
        consumer = self._consumer()
        n = 0
        started = last_data = time.monotonic()
        while self.max_records is None or n < self.max_records:
            batch = consumer.poll(timeout_ms=100)
            if not batch:
                if not consumer.assignment():  # still joining the group: not idle yet
                    last_data = time.monotonic()
                    if last_data - started > self.join_timeout_s:
                        raise TimeoutError(
                            f"no partition of {self.topics} assigned within "
                            f"{self.join_timeout_s} s (broker {self.bootstrap_servers})"
                        )
                    continue
                if (
                    self.idle_timeout_s is not None
                    and time.monotonic() - last_data > self.idle_timeout_s
                ):
                    return
                continue
            last_data = time.monotonic()
            for tp, msgs in batch.items():
                for m in msgs:
                    self._next[tp] = m.offset + 1
                    src = position(m.topic, m.partition, m.offset)
                    try:
                        x, y, rid, ts = decode_event(
                            m.value,
                            src,
                            labelled=self.labelled,
                            max_bytes=self.max_message_bytes,
                        )
                    except EventSchemaError:
                        self.n_errors += 1
                        if self.on_error == "raise":
                            raise
                        continue
                    rec = KafkaRecord(
                        m.topic, m.partition, m.offset, x, y, rid, ts, m.key, m.timestamp
                    )
                    self.last = rec
                    yield rec
                    n += 1
                    if self.max_records is not None and n >= self.max_records:
                        return

    def __iter__(self) -> Iterator[tuple[dict, dict | None]]:
        for rec in self.records():
            yield rec.x, rec.y

    def commit(self) -> None:
        """Commit the offsets after the records consumed so far."""
        from kafka.structs import OffsetAndMetadata

        if self._next and self.consumer is not None:
            self.consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in self._next.items()})

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None
