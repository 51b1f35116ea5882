"""Broker faults with persistent (S3) storage: start before the broker, broker restart, outage."""

from __future__ import annotations

import time

import pytest

from .conftest import load_ckpt, producer, wait_for
from .test_learning import learned, learner_args, yeast_messages

pytestmark = [pytest.mark.services]


@pytest.mark.timeout(240)
def test_daemon_survives_broker_absence_and_restart(s3_broker, daemons, tmp_path):
    topic = "faults"
    audit = tmp_path / "audit.tsv"
    args = learner_args(
        s3_broker, topic, tmp_path, checkpoint_interval=100, audit_log=audit,
        retry_backoff_s=0.2, retry_backoff_max_s=2,
    )  # fmt: skip
    # 1. The daemon starts before the broker: it retries with backoff and does not exit.
    d = daemons(*args)
    wait_for(lambda: "retrying in" in d.log(), 60, "a retry log line")
    time.sleep(1.0)  # let it retry a few times while the broker is absent
    assert d.alive()
    s3_broker.start()
    s3_broker.create_topic(topic, 1)
    messages = yeast_messages(600)
    p = producer(s3_broker.bootstrap)
    for m in messages[:300]:
        p.send(topic, m, partition=0)
    p.flush()
    p.close()
    wait_for(lambda: learned(d, topic) >= 300, 90, "the first half to be learned")

    # 2. The broker dies (SIGKILL) and stays away for a while; the daemon keeps running.
    s3_broker.kill()
    # the daemon probes the broker every 2 s while idle: wait until it has noticed the outage
    # (a fixed sleep raced with the probe and made this test flaky)
    wait_for(lambda: "broker unreachable" in d.log(), 30, "the outage to be noticed")
    time.sleep(1.0)
    assert d.alive()
    s3_broker.start()
    p = producer(s3_broker.bootstrap)
    for m in messages[300:]:
        p.send(topic, m, partition=0)
    p.flush()
    p.close()
    wait_for(lambda: learned(d, topic) >= len(messages), 120, "the second half to be learned")
    assert d.alive()
    assert d.terminate() == 0
    log = d.log()
    assert "broker not reachable" in log and "retrying in" in log
    assert "broker unreachable" in log and "reachable again" in log
    assert log.count("effective configuration") == 1, "the daemon restarted itself"

    ids = {line.split("\t")[3] for line in audit.read_text().splitlines()}
    assert ids == {str(i) for i in range(len(messages))}
    _, meta = load_ckpt(tmp_path / "model.ckpt")
    assert meta["n_learned"] == len(messages) and meta["offsets"] == {"0": len(messages)}
