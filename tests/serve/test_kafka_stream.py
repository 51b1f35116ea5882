"""streams.kafka.KafkaStream against the real broker: (x, y) in order, positions, commits."""

from __future__ import annotations

import pytest

from ihomer.evaluate import prequential
from ihomer.serve.models import LabelwiseLogistic
from streams.kafka import EventSchemaError, KafkaStream

from .conftest import SESSION
from .test_learning import produce, yeast_messages

pytestmark = [pytest.mark.services]


@pytest.mark.timeout(120)
def test_stream_yields_records_keeps_positions_and_commits(broker, topics):
    topic = topics("stream", partitions=1)
    messages = yeast_messages(50)
    produce(broker.bootstrap, topic, messages[:20] + [b"{bad"] + messages[20:])
    group = topic + "-g"
    cfg = {k: v for k, v in SESSION.items()}

    strict = KafkaStream(topic, broker.bootstrap, group, idle_timeout_s=3, consumer_config=cfg)
    with pytest.raises(EventSchemaError) as info:
        list(strict)
    assert info.value.source == f"{topic}[0]@20"
    assert strict.position == f"{topic}[0]@19"
    strict.close()

    s = KafkaStream(
        topic, broker.bootstrap, group, max_records=30, on_error="skip", consumer_config=cfg
    )
    result = prequential(LabelwiseLogistic(), s, trace_every=None, events=False)
    assert result.n == 30 and s.n_errors == 1
    assert s.last.id == "29" and s.last.offset == 30
    s.commit()
    s.close()

    rest = KafkaStream(topic, broker.bootstrap, group, idle_timeout_s=3, consumer_config=cfg)
    ids = [rec.id for rec in rest.records()]
    rest.close()
    assert ids == [str(i) for i in range(30, 50)]
