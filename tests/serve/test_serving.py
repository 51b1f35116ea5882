"""Serving against a real broker and a real Prometheus: dead letters, predictions, scale-out."""

from __future__ import annotations

import json
import time

import pytest

from streams.kafka import encode_event

from .conftest import SESSION, consume_all, consume_until, producer, wait_for
from .test_learning import MODEL, learned, learner_args, produce, yeast_messages

pytestmark = [pytest.mark.services]

BAD = {
    b"{not json": "malformed_json",
    b'{"features": {"a": NaN}, "labels": ["x"]}': "malformed_json",
    b'{"features": {"a": 1e999}, "labels": ["x"]}': "non_finite",
    b'{"features": {"a": [1, 2]}, "labels": ["x"]}': "wrong_type",
    b'{"features": {"a": 1}, "labels": "x"}': "wrong_type",
    b'{"features": {"a": 1}}': "missing_field",
    b'{"features": {"a": 1}, "labels": [], "colour": 3}': "unknown_field",
    b"[1, 2, 3]": "wrong_type",
    b'{"features": {"a": "' + b"z" * 5000 + b'"}, "labels": []}': "oversized",
}


@pytest.mark.timeout(180)
def test_bad_records_go_to_the_dead_letter_topic_and_the_daemon_goes_on(
    broker, topics, daemons, tmp_path
):
    topic = topics("dlq", partitions=1)
    good = yeast_messages(60)
    bad = list(BAD)
    stream = []
    for i, m in enumerate(good):
        stream.append(m)
        if i % 6 == 0 and bad:
            stream.append(bad.pop())
    assert not bad
    produce(broker.bootstrap, topic, stream)
    d = daemons(*learner_args(broker, topic, tmp_path, max_message_bytes=4096))
    wait_for(lambda: learned(d, topic) >= len(good), 90, "the good records to be learned")
    assert d.alive()
    dead = consume_all(broker.bootstrap, topic + "-dlq", len(BAD))
    assert len(dead) == len(BAD)
    for m in dead:
        h = {k: v.decode() for k, v in m.headers}
        original = stream[int(h["ihomer.offset"])]
        assert BAD[original] == h["ihomer.category"], (m.value[:60], h)
        assert h["ihomer.reason"]
        assert h["ihomer.topic"] == topic and h["ihomer.partition"] == "0"
        if len(original) > 4096:  # the original bytes, cut at the size limit
            assert m.value == original[:4096] and h["ihomer.original_bytes"] == str(len(original))
        else:
            assert m.value == original
        assert h["ihomer.source"] == f"{topic}[0]@{h['ihomer.offset']}"
    metrics = d.scrape()
    total = sum(v for k, v in metrics.items() if k.startswith("ihomer_dead_letter_records_total{"))
    assert total == len(BAD)
    key = f'ihomer_records_total{{outcome="dead_lettered",topic="{topic}"}}'
    assert metrics[key] == len(BAD)
    assert d.terminate() == 0


@pytest.mark.timeout(180)
def test_prometheus_scrapes_the_daemon(broker, topics, daemons, prometheus, tmp_path):
    topic = topics("prom", partitions=1)
    messages = yeast_messages(300)
    produce(broker.bootstrap, topic, messages)
    d = daemons(*learner_args(broker, topic, tmp_path))
    wait_for(lambda: learned(d, topic) >= len(messages), 90, "the daemon to learn")
    prom = prometheus(d.metrics_port)
    expr = f'ihomer_records_total{{topic="{topic}",outcome="learned"}}'
    result = wait_for(lambda: prom.query(expr), 60, "Prometheus to scrape the counter")
    assert float(result[0]["value"][1]) == len(messages)
    lag_expr = f'ihomer_consumer_lag_records{{topic="{topic}",partition="0"}} == 0'
    wait_for(lambda: prom.query(lag_expr), 30, "the scraped lag to reach 0")
    assert prom.query("ihomer_checkpoint_age_seconds")
    assert d.terminate() == 0


def request(i: int, x: dict) -> bytes:
    return encode_event(x, None, id=f"req-{i}", timestamp=time.time())


@pytest.mark.timeout(240)
def test_learner_and_two_serving_replicas_split_and_take_over(broker, topics, daemons, tmp_path):
    from river import datasets

    labelled = topics("lab", partitions=1)
    requests = topics("req", partitions=4)
    predictions = topics("pred", partitions=1)
    messages = yeast_messages(400)
    produce(broker.bootstrap, labelled, messages)
    learner = daemons(
        *learner_args(broker, labelled, tmp_path, checkpoint_interval=100), name="learner"
    )
    wait_for(lambda: learned(learner, labelled) >= len(messages), 90, "the learner")
    server_args = [
        f"--bootstrap-servers={broker.bootstrap}",
        "--role=server",
        f"--request-topic={requests}",
        f"--prediction-topic={predictions}",
        f"--dead-letter-topic={requests}-dlq",
        f"--server-group={requests}-g",
        f"--model={MODEL}",
        f"--checkpoint-path={tmp_path / 'model.ckpt'}",
        "--snapshot-poll-s=0.5",
        f"--session-timeout-ms={SESSION['session_timeout_ms']}",
        f"--heartbeat-interval-ms={SESSION['heartbeat_interval_ms']}",
    ]
    a = daemons(*server_args, name="server-a")
    b = daemons(*server_args, name="server-b")

    def assigned(d):
        return d.metric(f'ihomer_assigned_partitions{{topic="{requests}"}}', 0.0) or 0.0

    wait_for(lambda: assigned(a) == 2 == assigned(b), 60, "the replicas to split 4 partitions")
    xs = [x for x, _ in datasets.Yeast().take(80)]
    p = producer(broker.bootstrap)
    for i, x in enumerate(xs):
        p.send(requests, request(i, x), partition=i % 4)
    p.flush()
    def keys(msgs):
        return {m.key.decode() for m in msgs}

    first = {f"req-{i}" for i in range(len(xs))}
    out = consume_until(broker.bootstrap, predictions, lambda ms: keys(ms) >= first)
    preds = {m.key.decode(): json.loads(m.value) for m in out}
    assert set(preds) == {f"req-{i}" for i in range(len(xs))}
    served = {v["served_by"] for v in preds.values()}
    assert len(served) == 2, "both replicas should have served"
    for v in preds.values():
        assert v["model_version"] == len(messages), "replicas serve the learner's snapshot"
        assert set(v["probabilities"]) >= set(v["labels"])
        assert v["latency_seconds"] is not None and v["latency_seconds"] >= 0
    by_partition = {}
    for v in preds.values():
        by_partition.setdefault(v["served_by"], set()).add(v["source"].split("[")[1].split("]")[0])
    assert all(len(s) == 2 for s in by_partition.values())

    a.kill()
    wait_for(lambda: assigned(b) == 4, 60, "the surviving replica to take all partitions")
    for i in range(len(xs), 2 * len(xs)):
        p.send(requests, request(i, xs[i - len(xs)]), partition=i % 4)
    p.flush()
    p.close()
    second = {f"req-{i}" for i in range(len(xs), 2 * len(xs))}
    out = consume_until(broker.bootstrap, predictions, lambda ms: keys(ms) >= first | second)
    new = {m.key.decode(): json.loads(m.value) for m in out if m.key.decode() in second}
    assert {v["served_by"] for v in new.values()} <= served - {None}
    assert len({v["served_by"] for v in new.values()}) == 1
    assert b.terminate() == 0
    assert learner.terminate() == 0


@pytest.mark.timeout(180)
def test_both_role_learns_serves_and_survives_a_failing_model(broker, topics, daemons, tmp_path):
    labelled = topics("lab", partitions=1)
    requests = topics("req", partitions=2)
    predictions = topics("pred", partitions=1)
    messages = yeast_messages(200)
    boom = encode_event({"boom": 1.0}, {"x": True}, id="boom")
    produce(broker.bootstrap, labelled, messages[:100] + [boom] + messages[100:])
    args = learner_args(
        broker, labelled, tmp_path, role="both", model="tests.serve.faulty_model:make"
    )
    args += [
        f"--request-topic={requests}",
        f"--prediction-topic={predictions}",
        f"--server-group={requests}-g",
    ]
    d = daemons(*args)
    wait_for(lambda: learned(d, labelled) >= len(messages), 90, "learning past the failing record")
    p = producer(broker.bootstrap)
    p.send(requests, request(0, {"Att1": 0.1}), partition=0)
    p.send(requests, b'{"features": {}, "labels": []}', partition=1)  # labels: not a request
    p.send(requests, encode_event({"boom": 2.0}, None, id="r-boom"), partition=1)
    p.flush()
    p.close()
    out = consume_until(broker.bootstrap, predictions, lambda ms: len(ms) >= 1)
    pred = json.loads(out[0].value)
    assert pred["id"] == "req-0" and pred["model_version"] == len(messages)
    assert pred["source"] == f"{requests}[0]@0"
    dead = consume_until(broker.bootstrap, labelled + "-dlq", lambda ms: len(ms) >= 3)
    cats = sorted(dict(m.headers)["ihomer.category"].decode() for m in dead)
    assert cats == ["model_error", "model_error", "unknown_field"]
    reasons = [dict(m.headers)["ihomer.reason"].decode() for m in dead]
    assert any("RuntimeError: boom feature" in r for r in reasons)
    assert d.alive()
    assert d.terminate() == 0
