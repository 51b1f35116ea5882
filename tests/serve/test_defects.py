"""Each defect of issue 12, tried through the CLI and the wire (real Tansu broker): every test
fails when its defect returns."""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
import time

import pytest

from ihomer.checkpoint import CheckpointError, load_checkpoint
from streams.kafka import encode_event

from .conftest import ROOT, consume_until, free_port, load_ckpt, producer, wait_for
from .test_learning import learned, learner_args, produce, yeast_messages

pytestmark = [pytest.mark.services]


def dead_letters(bootstrap: str, topic: str, n: int) -> list[dict]:
    msgs = consume_until(bootstrap, topic, lambda ms: len(ms) >= n)
    return [dict(m.headers) | {"value": m.value} for m in msgs]


def category(h: dict) -> str:
    return h["ihomer.category"].decode()


@pytest.mark.timeout(180)
def test_a_checkpoint_of_an_untrained_model_learns_after_restart(broker, topics, daemons, tmp_path):
    topic = topics("untrained", partitions=1)
    args = learner_args(broker, topic, tmp_path)
    d1 = daemons(*args, name="first")
    wait_for(lambda: "running (role learner)" in d1.log(), 60, "the first run")
    assert d1.terminate() == 0  # SIGTERM before the first labelled record
    _, meta = load_ckpt(tmp_path / "model.ckpt")
    assert meta["n_learned"] == 0
    produce(broker.bootstrap, topic, yeast_messages(50))
    d2 = daemons(*args, name="second")
    wait_for(lambda: learned(d2, topic) >= 50, 90, "the restored model to learn")
    assert (d2.metric(f'ihomer_records_total{{outcome="dead_lettered",topic="{topic}"}}') or 0) == 0
    assert d2.terminate() == 0
    assert "AttributeError" not in d2.log()


@pytest.mark.timeout(180)
def test_lone_surrogate_and_newline_ids_are_dead_lettered_not_a_crash_loop(
    broker, topics, daemons, tmp_path
):
    labelled, requests, predictions = topics("lab"), topics("req"), topics("pred")
    audit = tmp_path / "audit.tsv"
    bad_ids = [b'"\\ud800"', b'"a\\nforged\\t0\\t0\\tline"', b'"\\udfff tail"']
    good = yeast_messages(20)
    produce(broker.bootstrap, labelled, good[:10]
            + [b'{"features": {"a": 1}, "labels": ["x"], "id": ' + i + b"}" for i in bad_ids]
            + good[10:])  # fmt: skip
    produce(broker.bootstrap, requests, [b'{"features": {"Att1": 0.5}, "id": ' + i + b"}"
                                         for i in bad_ids]
            + [encode_event({"Att1": 0.5}, None, id="fine")])  # fmt: skip
    args = learner_args(broker, labelled, tmp_path, role="both", audit_log=audit)
    args += [f"--request-topic={requests}", f"--prediction-topic={predictions}",
             f"--server-group={requests}-g", f"--dead-letter-topic={labelled}-dlq"]  # fmt: skip
    d = daemons(*args)
    wait_for(lambda: learned(d, labelled) >= 20, 90, "the valid records to be learned")
    out = consume_until(broker.bootstrap, predictions, lambda ms: len(ms) >= 1)
    assert [json.loads(m.value)["id"] for m in out] == ["fine"]
    dead = dead_letters(broker.bootstrap, labelled + "-dlq", 6)
    assert sorted(category(h) for h in dead) == ["invalid_text"] * 6
    assert d.alive()
    assert d.terminate() == 0
    rows = [line.split("\t") for line in audit.read_text().splitlines()]
    assert len(rows) == 20 and all(len(r) == 4 for r in rows)  # no forged audit line
    assert {r[3] for r in rows} == {str(i) for i in range(20)}


@pytest.mark.timeout(180)
def test_oversized_records_are_dead_lettered_and_their_poll_batch_is_learned(
    broker, topics, daemons, tmp_path
):
    labelled, requests, predictions = topics("lab"), topics("req"), topics("pred")
    limit = 1 << 20
    huge = b'{"features": {"a": "' + b"z" * (2 * limit) + b'"}, "labels": ["x"]}'
    head = b'{"features": {}, "labels": ["x"], "id": "'
    just_over = head + b"z" * (limit + 1 - len(head) - 2) + b'"}'
    assert len(just_over) == limit + 1
    good = yeast_messages(30)
    p = producer(broker.bootstrap)
    p.config["max_request_size"] = 8 * limit
    for m in good[:15] + [huge, just_over] + good[15:]:
        p.send(labelled, m, partition=0)
    reqs = [encode_event({"Att1": 0.1 * i}, None, id=f"r{i}") for i in range(5)]
    req_over = b'{"features": {}, "id": "' + b"z" * (limit + 1 - 26) + b'"}'
    assert len(req_over) == limit + 1
    for m in reqs[:2] + [req_over] + reqs[2:]:
        p.send(requests, m, partition=0)
    p.flush()
    p.close()
    args = learner_args(broker, labelled, tmp_path, role="both", max_poll_records=500)
    args += [f"--request-topic={requests}", f"--prediction-topic={predictions}",
             f"--server-group={requests}-g"]  # fmt: skip
    d = daemons(*args)
    wait_for(lambda: learned(d, labelled) >= 30, 90, "the 30 valid records to be learned")
    out = consume_until(broker.bootstrap, predictions, lambda ms: len(ms) >= 5)
    assert {json.loads(m.value)["id"] for m in out} == {f"r{i}" for i in range(5)}
    dead = dead_letters(broker.bootstrap, labelled + "-dlq", 3)
    assert [category(h) for h in dead] == ["oversized"] * 3
    assert all(int(h["ihomer.original_bytes"]) > limit >= len(h["value"]) for h in dead)
    assert "poll failed" not in d.log()
    assert d.terminate() == 0


def produce_big(bootstrap: str, topic: str, messages: list[bytes]) -> None:
    p = producer(bootstrap)
    p.config["max_request_size"] = 16 << 20
    for m in messages:
        p.send(topic, m, partition=0)
    p.flush()
    p.close()


def _edit_offsets(path, old: bytes, new: bytes) -> None:
    raw = path.read_bytes()
    assert raw.count(old) == 1, raw[:300]
    path.write_bytes(raw.replace(old, new))


@pytest.mark.timeout(240)
@pytest.mark.parametrize("damage", ["tampered", "truncated", "corrupted"])
def test_a_bad_checkpoint_falls_back_to_the_newest_good_generation(
    broker, topics, daemons, tmp_path, damage
):
    topic = topics("gen", partitions=1)
    messages = yeast_messages(600)
    produce(broker.bootstrap, topic, messages[:300])
    audit = tmp_path / "audit.tsv"
    args = learner_args(broker, topic, tmp_path, checkpoint_interval=100, audit_log=audit,
                        max_poll_records=50)  # fmt: skip
    d1 = daemons(*args, name="first")
    wait_for(lambda: learned(d1, topic) >= 300, 90, "the first run")
    assert d1.terminate() == 0
    ckpt = tmp_path / "model.ckpt"
    key = (tmp_path / "model.ckpt.key").read_bytes().strip()
    gens = sorted(tmp_path.glob("model.ckpt.gen-*"))
    assert len(gens) == 2  # --checkpoint-keep 3: the checkpoint and two older generations
    # own bytes each (a hard link would let one corruption damage two generations)
    assert len({p.stat().st_ino for p in [ckpt, *gens]}) == 3
    newest_gen = max(int(g.name.rsplit("-", 1)[1]) for g in gens)
    _, gen_meta = load_checkpoint(tmp_path / f"model.ckpt.gen-{newest_gen}", key=key)
    if damage == "tampered":  # move the offsets forward: 200 records would be skipped
        _edit_offsets(ckpt, b'"offsets": {"0": 300}', b'"offsets": {"0": 500}')
    elif damage == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:-1000])
    else:
        raw = bytearray(ckpt.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        ckpt.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError):
        load_checkpoint(ckpt, key=key)
    produce(broker.bootstrap, topic, messages[300:])
    d2 = daemons(*args, name="second")
    wait_for(lambda: (d2.metric("ihomer_model_instances") or 0) >= 600, 120, "the second run")
    assert d2.metric("ihomer_checkpoint_fallbacks_total") == 1
    replayed = d2.metric(f'ihomer_replayed_records_total{{topic="{topic}"}}')
    assert d2.terminate() == 0
    assert "fell back to the older generation" in d2.log()
    assert (tmp_path / "model.ckpt.bad").exists()
    _, meta = load_ckpt(ckpt)
    assert meta["n_learned"] == 600 and meta["offsets"] == {"0": 600}  # nothing skipped
    ids = [r.split("\t")[3] for r in audit.read_text().splitlines()]
    assert set(ids) == {str(i) for i in range(600)}
    assert len(ids) - 600 == 300 - gen_meta["n_learned"] == replayed  # the replay is counted


@pytest.mark.timeout(120)
def test_the_checkpoint_key_is_generated_owner_only_and_required(broker, topics, daemons, tmp_path):
    topic = topics("key", partitions=1)
    produce(broker.bootstrap, topic, yeast_messages(20))
    d = daemons(*learner_args(broker, topic, tmp_path))
    wait_for(lambda: learned(d, topic) >= 20, 60, "learning")
    assert d.terminate() == 0
    key_file = tmp_path / "model.ckpt.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "generated a checkpoint key" in d.log()
    with pytest.raises(CheckpointError, match="give the key"):
        load_checkpoint(tmp_path / "model.ckpt")  # a crafted SHA-256-only file would fail too
    key_file.chmod(0o644)
    d2 = daemons(*learner_args(broker, topic, tmp_path), name="second")
    assert d2.proc.wait(timeout=60) == 4
    assert "readable by group or others" in d2.log()


@pytest.mark.timeout(180)
def test_limits_dead_letter_floods_and_keep_the_model_bounded(broker, topics, daemons, tmp_path):
    topic = topics("flood", partitions=1)
    good = yeast_messages(40)
    flood = [
        encode_event({f"k{i}": 1.0 for i in range(100_000)}, {"Class1": True}, id="100k-keys"),
        encode_event({"Att1": 0.1}, {f"new{i}": True for i in range(2000)}, id="2000-labels"),
    ]
    # 150 new features each: the window budget (500, Yeast takes 103) admits two, not four
    flood += [encode_event({f"f{j}-{i}": 1.0 for i in range(150)}, {"Class1": True}, id=f"n{j}")
              for j in range(4)]  # fmt: skip
    produce_big(broker.bootstrap, topic, good[:20] + flood + good[20:])
    args = learner_args(broker, topic, tmp_path, max_features_per_record=200,
                        max_new_features_per_window=500, max_labels_per_record=50,
                        max_message_bytes=4 << 20)  # fmt: skip
    d = daemons(*args)
    wait_for(lambda: learned(d, topic) >= 42, 90, "the valid records to be learned")
    dead = dead_letters(broker.bootstrap, topic + "-dlq", 4)
    assert sorted(category(h) for h in dead) == [
        "feature_budget", "feature_budget", "too_many_features", "too_many_labels"]  # fmt: skip
    assert all(h["ihomer.reason"] for h in dead)
    m = d.scrape()
    assert m["ihomer_features"] == 103 + 300  # Yeast's features and the two admitted records
    labels = {lab for msg in good for lab in json.loads(msg)["labels"]} | {"Class1"}
    assert m["ihomer_labels"] == len(labels)  # was always NaN
    assert m['ihomer_dead_letter_records_total{reason="feature_budget",topic="' + topic + '"}'] == 2
    assert d.terminate() == 0


@pytest.mark.timeout(180)
def test_a_record_that_kills_the_learner_3_times_is_dead_lettered(broker, topics, daemons,
                                                                  tmp_path):
    topic = topics("poison", partitions=1)
    good = yeast_messages(20)
    produce(broker.bootstrap, topic,
            good[:10] + [encode_event({"die": 1.0}, {"x": True}, id="poison")] + good[10:])
    args = learner_args(broker, topic, tmp_path, model="tests.serve.faulty_model:make_mortal")
    for run in ("first", "second", "third"):
        d = daemons(*args, name=run)
        assert d.proc.wait(timeout=60) == -signal.SIGKILL, f"the {run} run should die on it"
    d = daemons(*args, name="fourth")
    wait_for(lambda: learned(d, topic) >= 20, 60, "the fourth run to learn past it")
    [h] = dead_letters(broker.bootstrap, topic + "-dlq", 1)
    assert category(h) == "crashed_daemon" and h["ihomer.offset"] == b"10"
    assert "3 run(s) in a row" in d.log()
    assert d.terminate() == 0


@pytest.mark.timeout(120)
def test_a_failing_checkpoint_is_retried_with_a_bounded_backoff(broker, topics, tmp_path):
    """A file-size limit (EFBIG) stands in for a full disk: the checkpoint cannot be written."""
    topic = topics("efbig", partitions=1)
    produce(broker.bootstrap, topic, yeast_messages(300))
    (tmp_path / "model.ckpt.x1.tmp").write_bytes(b"left by a kill mid-write")
    port = free_port()
    log_path = tmp_path / "daemon.log"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    args = learner_args(broker, topic, tmp_path, checkpoint_interval_s=0.2, retry_backoff_s=0.5)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ihomer.serve", *args, f"--metrics-port={port}"],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, preexec_fn=limit,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )  # fmt: skip
        try:
            wait_for(lambda: "checkpoint" in log_path.read_text() and "failed" in
                     log_path.read_text(), 60, "a failed checkpoint")  # fmt: skip
            time.sleep(4.0)
            assert proc.poll() is None
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    text = log_path.read_text()
    failures = [x for x in text.splitlines() if "checkpoint" in x and "failed:" in x]
    assert sum(" ERROR " in x or "ERROR" in x.split()[:4] for x in failures) >= 1
    assert 2 <= len(failures) <= 8, failures  # 0.5, 1, 2, 4 s apart: not 33 a second
    assert "File too large" in text and "next attempt in" in text
    assert not (tmp_path / "model.ckpt.x1.tmp").exists()
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.timeout(60)
def test_max_run_s_ends_the_daemon_while_the_broker_is_away(daemons, tmp_path):
    d = daemons(f"--bootstrap-servers=127.0.0.1:{free_port()}", "--role=learner",
                f"--checkpoint-path={tmp_path / 'm.ckpt'}", "--max-run-s=3",
                "--retry-backoff-s=0.2")  # fmt: skip
    assert d.proc.wait(timeout=30) == 0
    assert "broker not reachable" in d.log() and "max_run_s=3.0 reached" in d.log()
