"""The learner's fetch process: framing, epochs, restarts, and that it dies with the learner."""

from __future__ import annotations

import multiprocessing
import os
import pathlib
import signal
import time

import pytest

from ihomer.serve.config import ServeConfig
from ihomer.serve.fetcher import FetchProcess, encode_highwaters, encode_records

from .conftest import producer, wait_for
from .test_learning import learned, learner_args, yeast_messages


class _Alive:
    """A stand-in child that never exits (the protocol tests feed the pipe themselves)."""

    def poll(self) -> None:
        return None


def _wired(partitions=(0, 1)) -> tuple[FetchProcess, object]:
    fp = FetchProcess({}, "labelled", list(partitions), max_records=100)
    fp.seek({p: 0 for p in partitions}, start=False)
    recv, send = multiprocessing.Pipe(duplex=False)
    fp._proc, fp._conn = _Alive(), recv
    return fp, send


def test_frames_round_trip_every_key_and_value_shape():
    fp, _ = _wired()
    records = [(0, 0, None, b'{"features": {}}'), (1, 5, b"", b""), (0, 1, b"\xff\x00k", None),
               (1, 2**40, b"k" * 70_000, bytes(range(256)) * 300)]  # fmt: skip
    got = [r for rs in fp.decode(encode_records(fp.epoch, records)) for r in rs]
    assert sorted((r.partition, r.offset, r.key, r.value) for r in got) == sorted(records)
    assert {r.topic for r in got} == {"labelled"}
    with pytest.raises(ValueError, match="not a records frame"):
        fp.decode(encode_highwaters(fp.epoch, {0: 3}))


def test_poll_drops_frames_fetched_before_a_seek_and_keeps_highwaters():
    fp, send = _wired()
    old = fp.epoch
    fp.seek({0: 3, 1: 0}, start=False)  # a rewind: what was in flight is stale
    send.send_bytes(encode_records(old, [(0, 7, None, b"stale")]))
    send.send_bytes(encode_highwaters(fp.epoch, {0: 9, 1: 4}))
    send.send_bytes(encode_records(fp.epoch, [(0, 3, None, b"a"), (1, 0, None, b"b")]))
    batch = fp.poll(1000, {0: 3, 1: 0})
    assert {tp.partition: [(r.offset, r.value) for r in rs] for tp, rs in batch.items()} == {
        0: [(3, b"a")],
        1: [(0, b"b")],
    }
    assert fp.highwaters == {0: 9, 1: 4}
    assert fp.poll(50, {0: 4, 1: 1}) == {}  # nothing more: an empty batch after the timeout


def test_a_child_that_cannot_be_started_is_retried_not_raised(monkeypatch, caplog):
    import subprocess

    def no_fork(*args, **kwargs):
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(subprocess, "Popen", no_fork)
    fds = len(os.listdir("/proc/self/fd"))
    fp = FetchProcess({}, "labelled", [0], max_records=10)
    fp.start({0: 5})  # does not raise
    assert "cannot start the fetch process" in caplog.text
    assert fp.poll(10, {0: 5}) == {}  # nothing yet, and no exception: retried later
    assert fp._restart_at > 0 and fp.restarts == 0
    assert len(os.listdir("/proc/self/fd")) == fds, "the pipes of the failed start leaked"


def test_learner_fetch_setting_is_validated_and_auto_follows_the_cpus(monkeypatch):
    assert ServeConfig().learner_fetch == "auto"
    with pytest.raises(ValueError, match="learner_fetch must be one of"):
        ServeConfig(learner_fetch="thread").validate()
    assert ServeConfig(learner_fetch="process").learner_fetches_in_a_process()
    assert not ServeConfig(learner_fetch="inline").learner_fetches_in_a_process()
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert not ServeConfig().learner_fetches_in_a_process()
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert ServeConfig().learner_fetches_in_a_process()


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out.update(int(c) for c in text)
    return out


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie (reaped by init later) has stopped running too
    stat = pathlib.Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def _produce(bootstrap: str, topic: str, messages: list[bytes], partitions: int = 2) -> None:
    p = producer(bootstrap)
    for i, m in enumerate(messages):
        p.send(topic, m, partition=i % partitions)
    p.flush()
    p.close()


services = pytest.mark.services


@services
@pytest.mark.timeout(180)
def test_killed_fetch_process_is_restarted_and_nothing_is_lost_or_doubled(
    broker, topics, daemons, tmp_path
):
    topic = topics("fetchkill", partitions=2)
    messages = yeast_messages(1200)
    _produce(broker.bootstrap, topic, messages)
    audit = tmp_path / "audit.tsv"
    d = daemons(*learner_args(broker, topic, tmp_path, audit_log=audit, max_poll_records=20))
    wait_for(lambda: (learned(d, topic) or 0) >= 100, 120, "the learner to start learning")
    (child,) = _children(d.proc.pid)
    os.kill(child, signal.SIGKILL)
    wait_for(lambda: (learned(d, topic) or 0) >= len(messages), 120, "learning the rest")
    assert d.alive()
    assert "the fetch process of" in d.log() and "restarting it" in d.log()
    (again,) = _children(d.proc.pid)
    assert again != child
    assert d.terminate() == 0
    ids = [line.split("\t")[3] for line in audit.read_text().splitlines()]
    assert sorted(ids, key=int) == [str(i) for i in range(len(messages))], "lost or doubled"


@services
@pytest.mark.timeout(120)
def test_fetch_process_dies_with_a_killed_learner(broker, topics, daemons, tmp_path):
    topic = topics("fetchorphan", partitions=1)
    _produce(broker.bootstrap, topic, yeast_messages(300), partitions=1)
    d = daemons(*learner_args(broker, topic, tmp_path))
    wait_for(lambda: (learned(d, topic) or 0) >= 300, 120, "learning")
    (child,) = _children(d.proc.pid)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child), "the fetch process outlived its learner"


@services
@pytest.mark.timeout(120)
def test_inline_fetch_learns_the_same_records(broker, topics, daemons, tmp_path):
    topic = topics("inline", partitions=2)
    messages = yeast_messages(400)
    _produce(broker.bootstrap, topic, messages)
    audit = tmp_path / "audit.tsv"
    d = daemons(*learner_args(broker, topic, tmp_path, audit_log=audit, learner_fetch="inline"))
    wait_for(lambda: (learned(d, topic) or 0) >= len(messages), 120, "learning")
    assert not _children(d.proc.pid), "inline fetching started a fetch process"
    assert d.terminate() == 0
    ids = [line.split("\t")[3] for line in audit.read_text().splitlines()]
    assert sorted(ids, key=int) == [str(i) for i in range(len(messages))]
