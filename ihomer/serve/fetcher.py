"""The learner's fetch process: the labelled topic consumed in a process of its own.

This module owns :class:`FetchProcess`, the learner's side of a child process that runs the
labelled topic's Kafka consumer (manual assignment, the learner's consumer settings) and hands
the records over a pipe, and :func:`fetch_main`, the child. The learner then spends its time on
decoding and learning while the child fetches and parses the next records: on this project's
2-core machines, learning runs faster than with the consumer in the learner's own loop (see
``benchmarks/serve_load.py`` and the commit that added this module).

What crosses the pipe is raw record bytes in a fixed binary framing (never a pickle): per frame
a kind byte, the *epoch* and a count; per record its partition, offset, key and value. With
``encode``, the child also validates and encodes each record for the model
(:class:`ihomer.serve.rows.RowEncoder`: column ids, values, labels, id) and each frame carries
the feature names it met first, so the learner neither parses JSON nor encodes features for
most records (:class:`ihomer.serve.rows.RowResolver`); the raw bytes still cross, for the
dead-letter topic and for the records the learner must decode itself. The learner owns the
positions: :meth:`FetchProcess.seek` starts a new epoch, and frames of an older epoch (fetched
before the seek) are dropped, so a rewind after a failure mid-batch refetches exactly from the
first record not handled. Memory is bounded: the child sends one frame at a time of at most
``max_frame_bytes`` (plus one record) into a pipe of :data:`PIPE_BYTES`, and blocks while the
pipe is full. A child that dies is started again from the learner's positions (with a growing
delay, and said in the log); the child exits when the learner does (its parent pid changes or
the pipe closes).
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import struct
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

from ihomer.serve.rows import Encoded, RowEncoder, RowResolver, pack_names, unpack_names

__all__ = [
    "FetchProcess", "Record", "child_main", "encode_highwaters", "encode_records", "encode_rows",
    "fetch_main",
]  # fmt: skip

log = logging.getLogger("ihomer.serve")

#: frame header: kind (b"R" records, b"X" encoded records, b"H" highwaters, b"E" an error
#: line), epoch, count
_HEAD = struct.Struct("<cqi")
#: an encoded-records frame: the header padded to 16 bytes, so that what follows is 8-aligned
_XPAD = b"\0" * (16 - _HEAD.size)
#: per record: partition, offset, key length, value length (-1: None)
_REC = struct.Struct("<iqii")
#: per highwater: partition, highwater
_HW = struct.Struct("<iq")


class Record:
    """One labelled record as the learner sees it (the attributes of kafka-python's
    ``ConsumerRecord`` that the learner and the dead-letter path read)."""

    __slots__ = ("topic", "partition", "offset", "key", "value", "enc")

    def __init__(self, topic: str, partition: int, offset: int, key: Any, value: Any,
                 enc: Any = None) -> None:  # fmt: skip
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.enc = enc  # the child's encoding (ihomer.serve.rows.Encoded), or None


def _encode(kind: bytes, epoch: int, items: list[bytes], n: int) -> bytes:
    return _HEAD.pack(kind, epoch, n) + b"".join(items)


def encode_records(epoch: int, records: list[tuple[int, int, Any, Any]]) -> bytes:
    """One records frame of ``(partition, offset, key, value)`` (key, value: bytes or None),
    as the child sends it.

    >>> fp = FetchProcess({}, "t", [0], 10)
    >>> frame = encode_records(fp.epoch, [(0, 7, None, b'{"a": 1}')])
    >>> [(r.partition, r.offset, r.key, r.value) for r in fp.decode(frame)[0]]
    [(0, 7, None, b'{"a": 1}')]
    """
    items = []
    for p, o, k, v in records:
        items.append(_REC.pack(p, o, -1 if k is None else len(k), -1 if v is None else len(v)))
        items.extend(b for b in (k, v) if b is not None)
    return _encode(b"R", epoch, items, len(records))


def encode_rows(epoch: int, names: list[str], records: list[tuple[int, int, Any, Any, bytes]]
                ) -> bytes:  # fmt: skip
    """One encoded-records frame: the new ``names``, then per record ``(partition, offset, key,
    value, encoded)`` (``encoded`` from :meth:`ihomer.serve.rows.RowEncoder.encode`).

    >>> from ihomer.serve.rows import RowEncoder
    >>> enc, fp = RowEncoder(1 << 20), FetchProcess({}, "t", [0], 10, encode=True)
    >>> v = b'{"features": {"a": 1.5}, "labels": ["l"]}'
    >>> e = enc.encode(v)
    >>> [r] = fp.decode(encode_rows(fp.epoch, enc.new_names(), [(0, 7, None, v, e)]))[0]
    >>> r.offset, r.value == v, r.enc.idx.tolist(), fp.rows.names
    (7, True, [0], ['a'])
    """
    items = [_XPAD, pack_names(names)]
    for p, o, k, v, e in records:
        kl, vl = -1 if k is None else len(k), -1 if v is None else len(v)
        items.append(_REC.pack(p, o, kl, vl))
        items.extend(b for b in (k, v) if b is not None)
        items.append(b"\0" * (-(_REC.size + max(kl, 0) + max(vl, 0)) % 8))
        items.append(e)
    return _encode(b"X", epoch, items, len(records))


def encode_highwaters(epoch: int, highwaters: dict[int, int]) -> bytes:
    """A highwaters frame (``{partition: highwater}``)."""
    return _encode(b"H", epoch, [_HW.pack(p, h) for p, h in highwaters.items()], len(highwaters))


#: the data pipe's capacity (Linux; 64 KiB by default): a few frames fit, so the child writes the
#: next frames while the learner learns and the learner reads a whole frame without waiting
PIPE_BYTES = 1 << 20


def _grow_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):  # not Linux, or over pipe-max-size
        pass


def _die_with(parent: int) -> None:
    """Be killed when the learner dies, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``; elsewhere
    the loop's parent check and the closed pipe end the child)."""
    import signal

    # the learner decides when the child stops (a Ctrl-C or a SIGTERM sent to the whole
    # process group must not end it while the learner still reads from it)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent:  # died before the call
        os._exit(0)


def fetch_main(data_fd: int, ctrl_fd: int) -> None:
    """The child (see :func:`child_main`): read the settings from
    the control pipe, consume the topic's partitions where the learner says, send frames."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    conn, ctrl = Connection(data_fd, readable=False), Connection(ctrl_fd, writable=False)
    try:
        cfg = json.loads(ctrl.recv_bytes())
    except (EOFError, OSError):
        return
    _die_with(int(cfg["parent"]))
    from ihomer.serve.logs import configure_logging

    configure_logging(cfg.get("log_level", "WARNING"))  # kafka-python's chatter rate-limited
    parent, topic, partitions = int(cfg["parent"]), cfg["topic"], cfg["partitions"]
    max_records, max_frame_bytes = int(cfg["max_records"]), int(cfg["max_frame_bytes"])
    poll_ms = int(cfg["poll_ms"])
    consumer = KafkaConsumer(**cfg["consumer"])
    tps = {p: TopicPartition(topic, p) for p in partitions}
    consumer.assign(list(tps.values()))
    encoder = None
    if cfg.get("encode"):
        encoder = RowEncoder(int(cfg["max_bytes"]), int(cfg["max_features"]),
                             int(cfg["max_names"]))  # fmt: skip
    epoch, waiting = 0, True  # nothing is fetched before the learner's first seek
    hw_sent, delay = 0.0, 0.5
    send = conn.send_bytes
    while True:
        if os.getppid() != parent:
            return
        while ctrl.poll(0 if not waiting else 0.1):
            try:
                msg = json.loads(ctrl.recv_bytes())
            except (EOFError, OSError):  # the learner is gone
                return
            if msg["op"] == "stop":
                consumer.close(autocommit=False)
                return
            epoch = int(msg["epoch"])
            for p, o in msg["offsets"].items():
                consumer.seek(tps[int(p)], int(o))
            waiting = False
        if waiting:
            continue
        try:
            batch = consumer.poll(timeout_ms=poll_ms, max_records=max_records)
        except KafkaError as e:
            send(_encode(b"E", epoch, [f"{type(e).__name__}: {e}".encode()[:4096]], 1))
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
            continue
        delay = 0.5
        if encoder is not None:
            _send_encoded(send, encoder, epoch, batch, max_frame_bytes)
        else:
            recs: list[tuple[int, int, Any, Any]] = []
            size = 0
            for tp, msgs in batch.items():
                p = tp.partition
                for m in msgs:
                    recs.append((p, m.offset, m.key, m.value))
                    size += len(m.key or b"") + len(m.value or b"")
                    if size >= max_frame_bytes:
                        send(encode_records(epoch, recs))
                        recs, size = [], 0
            if recs:
                send(encode_records(epoch, recs))
        now = time.monotonic()
        if now - hw_sent >= 1.0:
            hw_sent = now
            hws = {p: consumer.highwater(tp) for p, tp in tps.items()}
            hws = {p: h for p, h in hws.items() if h is not None}
            if hws:
                send(encode_highwaters(epoch, hws))


def _send_encoded(send: Any, encoder: RowEncoder, epoch: int, batch: dict,
                  max_frame_bytes: int) -> None:  # fmt: skip
    """One poll batch as encoded-records frames (each cut at ``max_frame_bytes``)."""
    recs: list[tuple[int, int, Any, Any, bytes]] = []
    size = 0
    encode = encoder.encode
    for tp, msgs in batch.items():
        p = tp.partition
        for m in msgs:
            e = encode(m.value)
            recs.append((p, m.offset, m.key, m.value, e))
            size += len(m.key or b"") + len(m.value or b"") + len(e)
            if size >= max_frame_bytes:
                send(encode_rows(epoch, encoder.new_names(), recs))
                recs, size = [], 0
    if recs:
        send(encode_rows(epoch, encoder.new_names(), recs))


class FetchProcess:
    """The learner's side of the fetch process.

    Parameters
    ----------
    consumer_config
        The labelled consumer's kafka-python settings (plain values: they reach the child as
        JSON over the control pipe).
    topic, partitions
        What to consume (manual assignment).
    max_records
        Records per poll of the child's consumer.
    max_frame_bytes
        A frame is cut once its keys and values reach this size.
    poll_ms
        The child's poll timeout.
    log_level
        The child's log level (its lines go to the learner's stderr).
    encode
        The child also validates and encodes each record for the model (see
        :mod:`ihomer.serve.rows`); the records then carry ``enc``, and :attr:`rows` maps them to
        the model's columns.
    max_bytes, max_features, max_names
        With ``encode``: the learner's message size and features-per-record limits, and the most
        feature names the child's vocabulary may hold (what the child leaves to the learner;
        see :class:`ihomer.serve.rows.RowEncoder`).

    Examples
    --------
    Frames of an older epoch (fetched before a seek) are dropped by :meth:`poll`; a frame of
    the current one decodes into records:

    >>> fp = FetchProcess({}, "labelled", [0, 1], max_records=500)
    >>> fp.seek({0: 10, 1: 0}, start=False)
    >>> frame = encode_records(fp.epoch, [(0, 10, b"k", b"{}"), (1, 0, None, None)])
    >>> [[(r.topic, r.partition, r.offset) for r in rs] for rs in fp.decode(frame)]
    [[('labelled', 0, 10)], [('labelled', 1, 0)]]
    """

    def __init__(
        self,
        consumer_config: dict,
        topic: str,
        partitions: list[int],
        max_records: int,
        max_frame_bytes: int = 256 << 10,
        poll_ms: int = 100,
        log_level: str = "WARNING",
        encode: bool = False,
        max_bytes: int = 1 << 20,
        max_features: int = 0,
        max_names: int = 100_000,
    ) -> None:
        self.consumer_config = consumer_config
        self.topic = topic
        self.partitions = sorted(partitions)
        self.max_records = max_records
        self.max_frame_bytes = max_frame_bytes
        self.poll_ms = poll_ms
        self.log_level = log_level
        self.encode = encode
        self.max_bytes = max_bytes
        self.max_features = max_features
        self.max_names = max_names
        self.rows = RowResolver()
        self.epoch = 0
        self.highwaters: dict[int, int] = {}
        self.restarts = 0
        self._positions: dict[int, int] = {}
        self._proc: Any = None
        self._conn: Any = None
        self._ctrl: Any = None
        self._restart_at = 0.0
        self._delay = 0.5
        self._last_error = ""
        self._tps: dict[int, Any] = {}

    # ------------------------------------------------------------------ child
    def _start(self) -> None:
        # A plain subprocess with two pipes (not multiprocessing: no resource tracker, nothing
        # inherited but the pipes); the settings go over the control pipe, never on the
        # command line (they may hold a SASL password).
        data_r, data_w = os.pipe()
        ctrl_r, ctrl_w = os.pipe()
        _grow_pipe(data_w)
        root = str(pathlib.Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(data_w), str(ctrl_r)],
                pass_fds=(data_w, ctrl_r), stdin=subprocess.DEVNULL, env=env,
            )  # fmt: skip
        except BaseException:
            os.close(data_r)
            os.close(ctrl_w)
            raise
        finally:
            os.close(data_w)
            os.close(ctrl_r)
        self._proc = proc
        self._conn = Connection(data_r, writable=False)
        self._ctrl = Connection(ctrl_w, readable=False)
        settings = {
            "op": "config", "consumer": self.consumer_config, "topic": self.topic,
            "partitions": self.partitions, "parent": os.getpid(),
            "max_records": self.max_records, "max_frame_bytes": self.max_frame_bytes,
            "poll_ms": self.poll_ms, "log_level": self.log_level, "encode": self.encode,
            "max_bytes": self.max_bytes, "max_features": self.max_features,
            "max_names": self.max_names,
        }  # fmt: skip
        self.rows.reset()  # a new child: a new vocabulary
        self._ctrl.send_bytes(json.dumps(settings).encode())
        self._send_seek()
        log.info("labelled topic %r: fetched by process %d", self.topic, proc.pid)

    def _send_seek(self) -> None:
        msg = {"op": "seek", "epoch": self.epoch, "offsets": self._positions}
        self._ctrl.send_bytes(json.dumps(msg).encode())

    def start(self, positions: dict[int, int]) -> None:
        """Start the child, fetching each partition from ``positions[p]``."""
        self.seek(positions, start=False)
        self._try_start()

    def _try_start(self) -> None:
        try:
            self._start()
        except OSError as e:  # cannot spawn now (fds, memory): poll() tries again later
            log.error("cannot start the fetch process of %r: %s", self.topic, e)
            self._close_child()
            self._restart_at = time.monotonic() + self._delay
            self._delay = min(self._delay * 2, 30.0)

    def seek(self, positions: dict[int, int], start: bool = True) -> None:
        """Fetch again from ``positions`` (a new epoch: what was fetched before is dropped)."""
        self.epoch += 1
        self._positions = {int(p): int(o) for p, o in positions.items()}
        if start and self._ctrl is not None:
            try:
                self._send_seek()
            except OSError:  # the child is gone: poll() restarts it from these positions
                pass

    def _child_gone(self) -> None:
        code = self._proc.poll() if self._proc is not None else None
        now = time.monotonic()
        if self._restart_at == 0.0:
            log.warning(
                "the fetch process of %r stopped (exit status %s); restarting it in %.1f s",
                self.topic, code, self._delay,
            )  # fmt: skip
            self._restart_at = now + self._delay
            self._delay = min(self._delay * 2, 30.0)
            self._close_child()
            return
        if now >= self._restart_at:
            self._restart_at = 0.0
            self.restarts += 1
            self._try_start()

    # ------------------------------------------------------------------ records
    def poll(self, timeout_ms: int, positions: dict[int, int]) -> dict[Any, list[Record]]:
        """The records of the frames at hand (``{TopicPartition: [Record, ...]}``): the first
        frame waited for up to ``timeout_ms`` (else ``{}``), then those already in the pipe, up
        to ``max_records`` records; ``positions`` are the learner's next offsets (where a
        restarted child starts)."""
        if self._proc is None or self._proc.poll() is not None:
            if self._proc is not None or self._restart_at:
                self._positions = dict(positions)
                self._child_gone()
            if self._proc is None:
                time.sleep(min(timeout_ms, 100) / 1000.0)
                return {}
        conn = self._conn
        deadline = time.monotonic() + timeout_ms / 1000.0
        out: dict[Any, list[Record]] = {}
        got = 0
        while True:
            try:
                wait = 0.0 if got else max(0.0, deadline - time.monotonic())
                if not conn.poll(wait):
                    return out
                buf = conn.recv_bytes()
            except (EOFError, OSError):
                return out
            kind, epoch, n = _HEAD.unpack_from(buf, 0)
            if kind == b"X":
                names, pos = unpack_names(buf, 16)
                self.rows.add_names(names)  # (kept from a stale frame too: ids are in order)
                if epoch == self.epoch:
                    self._delay = 0.5
                    self._records(buf, n, pos, out)
                    got += n
            elif epoch != self.epoch:
                pass  # fetched before the last seek
            elif kind == b"R":
                self._delay = 0.5
                self._records(buf, n, 0, out)
                got += n
            elif kind == b"H":
                pos = _HEAD.size
                for _ in range(n):
                    p, h = _HW.unpack_from(buf, pos)
                    pos += _HW.size
                    self.highwaters[p] = h
            elif kind == b"E":
                text = bytes(buf[_HEAD.size :]).decode("utf-8", "replace")
                if text != self._last_error:
                    log.warning("fetch process: poll failed: %s; retrying", text)
                    self._last_error = text
            if got >= self.max_records or (not got and time.monotonic() >= deadline):
                return out

    def decode(self, frame: bytes) -> list[list[Record]]:
        """The records of one records frame, per partition (what :meth:`poll` returns, as a
        list)."""
        kind, _epoch, n = _HEAD.unpack_from(frame, 0)
        if kind == b"X":
            names, pos = unpack_names(frame, 16)
            self.rows.add_names(names)
            return list(self._records(frame, n, pos).values())
        if kind != b"R":
            raise ValueError(f"not a records frame: {kind!r}")
        return list(self._records(frame, n).values())

    def _records(
        self, buf: bytes, n: int, encoded: int = 0, out: dict[Any, list[Record]] | None = None
    ) -> dict[Any, list[Record]]:
        """The records of a frame, added to ``out`` (a new dict if None); ``encoded``: where the
        records of an encoded-records frame start (0: a plain records frame)."""
        from kafka import TopicPartition

        if out is None:
            out = {}
        topic, unpack, size, tps = self.topic, _REC.unpack_from, _REC.size, self._tps
        pos = encoded or _HEAD.size
        unpack_enc = Encoded.unpack
        enc = None
        for _ in range(n):
            p, o, kl, vl = unpack(buf, pos)
            pos += size
            key = None
            if kl >= 0:
                key = buf[pos : pos + kl]
                pos += kl
            value = None
            if vl >= 0:
                value = buf[pos : pos + vl]
                pos += vl
            if encoded:
                pos += -pos % 8
                enc, pos = unpack_enc(buf, pos)
            tp = tps.get(p)
            if tp is None:
                tp = tps[p] = TopicPartition(topic, p)
            lst = out.get(tp)
            if lst is None:
                lst = out[tp] = []
            lst.append(Record(topic, p, o, key, value, enc))
        return out

    def close(self) -> None:
        """Stop the child: a stop message, the data pipe closed (a child blocked on a full
        pipe gets EPIPE and ends), then a kill if it has not exited within 5 s."""
        if self._ctrl is not None:
            try:
                self._ctrl.send_bytes(json.dumps({"op": "stop"}).encode())
            except OSError:
                pass
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            try:
                self._proc.wait(5.0)
            except subprocess.TimeoutExpired:
                pass
        self._close_child()

    def _close_child(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.wait(5.0)
        for c in (self._conn, self._ctrl):
            if c is not None:
                c.close()
        self._conn = self._ctrl = None


def child_main(argv: list[str]) -> None:
    """The child's entry point: ``fetch_main`` on the two pipe descriptors in ``argv``."""
    try:
        fetch_main(int(argv[0]), int(argv[1]))
    except (BrokenPipeError, EOFError, KeyboardInterrupt):  # the learner is gone
        pass


#: the child's command (imported, not run as ``-m``: the module may be a compiled twin)
_CHILD = "import sys; from ihomer.serve.fetcher import child_main; child_main(sys.argv[1:])"
