"""The learner's batched path, in process (no broker): a poll batch is learned record by record
with the bookkeeping per batch; it equals ``ihomer.evaluate.prequential`` on the same records and
loses nothing when a failure interrupts it mid-batch."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry

from ihomer.evaluate import prequential
from ihomer.serve.config import ServeConfig
from ihomer.serve.learner import LearnerRole
from ihomer.serve.link import BrokerLink
from ihomer.serve.metrics import ServeMetrics
from ihomer.serve.models import make_model
from streams.kafka import decode_event, encode_event

TOPIC = "events"


def yeast(n: int) -> list[bytes]:
    from river import datasets

    out = []
    for i, (x, y) in enumerate(datasets.Yeast()):
        if i >= n:
            break
        out.append(encode_event(x, y, id=i))
    return out


class FailingLink(BrokerLink):
    """A link whose sends are kept in a list; the ``fail_at``-th dead letter raises once."""

    def __init__(self, config, metrics, fail_at: int | None = None) -> None:
        super().__init__(config, metrics, lambda: False)
        self.sent: list[tuple] = []
        self.fail_at = fail_at
        self.n_letters = 0

    def send(self, topic, value, key, headers) -> None:  # noqa: D102
        self.sent.append((topic, value, key, headers))

    def dead_letter(self, msg, category, reason, source) -> None:  # noqa: D102
        self.n_letters += 1
        if self.n_letters == self.fail_at:
            raise RuntimeError("producer failed mid-batch")
        super().dead_letter(msg, category, reason, source)


def learner(tmp_path, fail_at: int | None = None) -> LearnerRole:
    cfg = ServeConfig(model="ihomer", labelled_topic=TOPIC, metrics_port=0,
                      checkpoint_path=str(tmp_path / "m.ckpt"))  # fmt: skip
    metrics = ServeMetrics(CollectorRegistry())
    role = LearnerRole(cfg, metrics, FailingLink(cfg, metrics, fail_at),
                       lambda: make_model("ihomer", 42))  # fmt: skip
    role.load()
    role.checkpointer.offsets[0] = 0
    role.checkpointer.open_progress(1)
    return role


def batch(values: list[bytes], start: int = 0) -> dict:
    from kafka import TopicPartition

    tp = TopicPartition(TOPIC, 0)
    msgs = [SimpleNamespace(topic=TOPIC, partition=0, offset=start + i, value=v, key=None)
            for i, v in enumerate(values)]  # fmt: skip
    return {tp: msgs}


def learned_counter(role: LearnerRole) -> float:
    return role.metrics.registry.get_sample_value(
        "ihomer_records_total", {"topic": TOPIC, "outcome": "learned"}
    )


def test_batched_learning_equals_prequential(tmp_path):
    messages = yeast(600)
    role = learner(tmp_path)
    for i in range(0, len(messages), 250):  # three poll batches, the last one short
        assert role.handle(batch(messages[i : i + 250], i)) == len(messages[i : i + 250])
    role.checkpointer.close()
    offline = prequential(make_model("ihomer", 42), [decode_event(m)[:2] for m in messages],
                          trace_every=None, events=False)  # fmt: skip
    assert role.report.get() == pytest.approx(offline.metrics, rel=1e-12, abs=1e-12)
    assert role.n_learned == learned_counter(role) == len(messages)
    assert role.checkpointer.offsets == {0: len(messages)}
    reg = role.metrics.registry
    for name, value in offline.metrics.items():
        live = reg.get_sample_value("ihomer_prequential_metric", {"metric": name})
        assert live == pytest.approx(value, rel=1e-12, abs=1e-12), name
    # one observation per batch: the batch's mean model time per record
    assert reg.get_sample_value("ihomer_learn_duration_seconds_count") == 3


def test_failure_mid_batch_loses_nothing(tmp_path):
    good = yeast(300)
    bad = [b"not json"] * 3
    messages = good[:100] + bad[:1] + good[100:200] + bad[1:] + good[200:]
    role = learner(tmp_path, fail_at=2)  # the second bad record's dead letter raises
    with pytest.raises(RuntimeError, match="mid-batch"):
        role.handle(batch(messages))
    ck = role.checkpointer
    # everything before the failing record is learned and counted; the offset stops before it
    assert ck.offsets[0] == 201
    assert role.n_learned == learned_counter(role) == 200
    # the daemon seeks back to ck.offsets (LearnerRole.poll -> rewind): fetch from there again
    assert role.handle(batch(messages[201:], 201)) == len(messages) - 201
    assert ck.offsets[0] == len(messages)
    assert role.n_learned == learned_counter(role) == len(good)
    assert role.link.n_dead == 3
    ck.close()
    offline = prequential(make_model("ihomer", 42), [decode_event(m)[:2] for m in good],
                          trace_every=None, events=False)  # fmt: skip
    assert role.report.get() == pytest.approx(offline.metrics, rel=1e-12, abs=1e-12)


def test_a_server_settles_the_heap_once_it_is_assigned_partitions(tmp_path, monkeypatch):
    """Joining the group leaves garbage cycles (kafka-python raises and catches a timeout per
    short poll while it joins); the server collects them and freezes the heap when partitions
    are assigned, before serving, instead of paying 50-310 ms full collections mid-serving."""
    import gc

    import kafka

    from ihomer.serve.server import ServerRole

    listeners = []

    class FakeConsumer:
        def __init__(self, **_config) -> None:
            pass

        def subscribe(self, topics, listener) -> None:
            listeners.append(listener)

    monkeypatch.setattr(kafka, "KafkaConsumer", FakeConsumer)
    cfg = ServeConfig(model="br-logreg", role="server", metrics_port=0,
                      checkpoint_path=str(tmp_path / "absent.ckpt"))  # fmt: skip
    metrics = ServeMetrics(CollectorRegistry())
    role = ServerRole(cfg, metrics, FailingLink(cfg, metrics), None,
                      lambda: make_model("br-logreg", 42))  # fmt: skip
    assert role.connect() and listeners
    gc.unfreeze()
    try:
        listeners[0].on_partitions_assigned(set())
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
