"""Records encoded in the fetch process: the model learns exactly what the dict path teaches it."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal

import numpy as np
import pytest

from ihomer import IHOMER
from ihomer.features import EncodedRecord, FeatureIndex
from ihomer.serve.fetcher import FetchProcess, encode_rows
from ihomer.serve.limits import Limits, LimitSettings
from ihomer.serve.rows import Encoded, RowEncoder, RowResolver
from streams.kafka import decode_event

from .conftest import load_ckpt, wait_for
from .test_fetcher import _children, _produce
from .test_learning import learned, learner_args, yeast_messages


def _msg(x: dict, labels, id=None) -> bytes:
    obj = {"features": x, "labels": labels}
    if id is not None:
        obj["id"] = id
    return json.dumps(obj).encode()


def _mixed_stream(n: int, seed: int = 1) -> list[bytes]:
    """Messages with what the encoding must get right: zeros, nulls, categories, booleans,
    features that appear mid-stream, key orders that change, labels as lists and as objects."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        x: dict = {f"f{j}": round(rng.gauss(0, 1), 3) for j in range(6)}
        x["zero"] = 0 if rng.random() < 0.5 else 0.0
        if rng.random() < 0.2:
            x["gap"] = None
        x["colour"] = rng.choice(["red", "green", "blue"] + ([f"c{i}"] if i > n // 2 else []))
        x["flag"] = rng.random() < 0.5
        if i > n // 3:
            x[f"late{i % 7}"] = rng.uniform(-2, 2)
        keys = list(x)
        rng.shuffle(keys) if rng.random() < 0.3 else None
        x = {k: x[k] for k in keys}
        on = (x["f0"] > 0, x["colour"] == "red", x["flag"])
        y = {"a": on[0], "b": on[1], "c": on[2]} if i % 2 else [n for n, o in zip("abc", on) if o]
        out.append(_msg(x, y, id=i))
    return out


def _learn_both(messages: list[bytes]) -> tuple[IHOMER, IHOMER, int]:
    """One model learns from dicts (the learner decoding), the other as the learner does with
    the fetch process's encoding (the dict path only when a name is new); the number of
    records that took the encoded path."""
    plain, fast = IHOMER(), IHOMER()
    lim_plain, lim_fast = Limits(LimitSettings()), Limits(LimitSettings())
    enc, res = RowEncoder(1 << 20), RowResolver()
    n_fast = 0
    for i, m in enumerate(messages):
        x, y, _, _ = decode_event(m)
        lim_plain.admit(x, y)
        p1 = plain.predict_proba_one(x)
        plain.learn_one(x, y)

        e, _ = Encoded.unpack(enc.encode(m), 0)
        res.add_names(enc.new_names())
        known = res.resolve(e, fast.feature_index, lim_fast.features)
        if known is not None:
            xf, yf, rid = known
            lim_fast.admit_known(e.n_features, yf)
            n_fast += 1
            assert rid == str(i) and yf == y
        else:
            xf, yf, _, _ = decode_event(m)
            lim_fast.admit(xf, yf)
        p2 = fast.predict_proba_one(xf)
        assert p1 == p2, f"record {i}: the predictions differ"
        fast.learn_one(xf, yf)
    assert lim_plain.features == lim_fast.features and lim_plain.labels == lim_fast.labels
    return plain, fast, n_fast


def test_encoded_records_teach_the_model_what_dicts_teach_it():
    messages = _mixed_stream(600)
    plain, fast, n_fast = _learn_both(messages)
    assert n_fast > 400, "most records should take the encoded path"
    assert plain.feature_index.names == fast.feature_index.names
    probes = [decode_event(m)[0] for m in _mixed_stream(50, seed=9)]
    for x in probes:
        assert plain.predict_proba_one(x) == fast.predict_proba_one(x)


def test_yeast_through_the_encoding_matches_the_dict_path():
    plain, fast, n_fast = _learn_both(yeast_messages(400))
    assert n_fast == 399  # all but the first (the model knows no feature before it)
    assert plain.n_learned == fast.n_learned == 400


def test_a_name_unknown_to_the_limits_takes_the_dict_path():
    """A model restored without the limits' names (an old checkpoint) must not let records
    bypass the feature budget: the encoded path needs every name admitted."""
    model = IHOMER()
    x0 = {"a": 1.0, "b": 2.0}
    model.learn_one(x0, {"l": True})
    enc, res = RowEncoder(1 << 20), RowResolver()
    e, _ = Encoded.unpack(enc.encode(_msg(x0, ["l"])), 0)
    res.add_names(enc.new_names())
    assert res.resolve(e, model.feature_index, set()) is None
    assert res.resolve(e, model.feature_index, {"a"}) is None
    assert res.resolve(e, model.feature_index, {"a", "b"}) is not None
    z, _ = Encoded.unpack(enc.encode(_msg({"a": 1.0, "zz": 0}, ["l"])), 0)
    res.add_names(enc.new_names())
    assert res.resolve(z, model.feature_index, {"a", "b"}) is None  # "zz" (zero) not admitted
    assert res.resolve(z, model.feature_index, {"a", "b", "zz"}) is not None


def test_an_encoded_record_is_refused_by_another_index():
    model = IHOMER()
    model.learn_one({"a": 1.0}, {"l": True})
    other = FeatureIndex()
    rec = EncodedRecord(other, other.encode({"a": 1.0}))
    with pytest.raises(ValueError, match="another FeatureIndex"):
        model.predict_one(rec)


def test_undecodable_messages_cross_raw_and_names_of_stale_frames_are_kept():
    fp = FetchProcess({}, "t", [0], max_records=10, encode=True)
    fp.seek({0: 0}, start=False)
    recv, send = multiprocessing.Pipe(duplex=False)
    fp._proc, fp._conn = type("Alive", (), {"poll": lambda self: None})(), recv
    enc = RowEncoder(1 << 20)
    good = _msg({"a": 1.0, "b": 2.5}, ["l"], id="r1")
    stale_epoch = fp.epoch
    send.send_bytes(encode_rows(stale_epoch, [], []))  # (an empty frame is fine)
    e1 = enc.encode(good)
    send.send_bytes(encode_rows(stale_epoch, enc.new_names(), [(0, 0, None, good, e1)]))
    fp.seek({0: 0}, start=False)  # the frame above is stale now: its names must still count
    bad = b'{"features": {"a": "\\ud800"}, "labels": []}'
    frame = encode_rows(
        fp.epoch,
        enc.new_names(),
        [(0, 0, b"k", good, enc.encode(good)), (0, 1, None, bad, enc.encode(bad))],
    )
    send.send_bytes(frame)
    [records] = fp.poll(1000, {0: 0}).values()
    assert fp.rows.names == ["a", "b"]
    first, second = records
    assert (first.key, first.value, first.enc.rid) == (b"k", good, "r1")
    assert first.enc.val.tolist() == [1.0, 2.5] and first.enc.idx.tolist() == [0, 1]
    assert first.enc.val.flags.aligned
    assert second.enc is None and second.value == bad  # the learner decodes it (and refuses)


def test_setting_is_validated():
    from ihomer.serve.config import ServeConfig

    assert ServeConfig().learner_decode == "auto"
    with pytest.raises(ValueError, match="learner_decode must be one of"):
        ServeConfig(learner_decode="child").validate()
    with pytest.raises(ValueError, match="needs the fetch process"):
        ServeConfig(learner_decode="fetcher", learner_fetch="inline").validate()


def test_values_keep_their_bits():
    enc = RowEncoder(1 << 20)
    x = {"tiny": 5e-324, "big": 1e150, "over": 1e151, "neg": -0.1, "int": 2**53 + 1}
    e, _ = Encoded.unpack(enc.encode(_msg(x, [])), 0)
    names = enc.new_names()
    got = dict(zip([names[i] for i in e.idx.tolist()], e.val.tolist()))
    assert got == {"tiny": 5e-324, "big": 1e150, "neg": -0.1, "int": float(2**53 + 1)}
    assert [names[i] for i in e.missing.tolist()] == ["over"]  # beyond MAX_ABS_VALUE: missing
    assert np.array_equal(e.val, FeatureIndex().encode(x).val)


services = pytest.mark.services


@services
@pytest.mark.timeout(240)
def test_killed_fetch_process_restarts_its_vocabulary(broker, topics, daemons, tmp_path):
    """A restarted fetch process numbers features from 0 again: the learner must map the new
    ids, or the model would learn features under the wrong columns. The live prequential
    report must equal the offline one on the same records, in the same order."""
    from ihomer.evaluate import prequential
    from ihomer.serve.models import make_model

    topic = topics("fetchvocab", partitions=1)
    messages = _mixed_stream(900, seed=3)
    _produce(broker.bootstrap, topic, messages, partitions=1)
    d = daemons(*learner_args(broker, topic, tmp_path, max_poll_records=20,
                              learner_decode="fetcher"))  # fmt: skip
    wait_for(lambda: learned(d, topic) >= 150, 120, "the learner to start learning")
    (child,) = _children(d.proc.pid)
    os.kill(child, signal.SIGKILL)
    wait_for(lambda: learned(d, topic) >= len(messages), 150, "learning the rest")
    assert "restarting it" in d.log()
    wait_for(lambda: d.metric("ihomer_model_instances", 0) >= len(messages), 60, "the report")
    live = d.scrape()
    assert d.terminate() == 0
    records = [decode_event(m)[:2] for m in messages]
    offline_model = make_model("ihomer", 42)
    offline = prequential(offline_model, records, trace_every=None, events=False)
    for name, value in offline.metrics.items():
        key = f'ihomer_prequential_metric{{metric="{name}"}}'
        assert live[key] == pytest.approx(value, rel=1e-12, abs=1e-12), name
    # the model itself (the checkpoint written at shutdown): the same probabilities
    obj, _ = load_ckpt(tmp_path / "model.ckpt")
    assert obj["model"].feature_index.names == offline_model.feature_index.names
    for m in _mixed_stream(60, seed=11):
        x = decode_event(m)[0]
        assert obj["model"].predict_proba_one(x) == offline_model.predict_proba_one(x)


def test_a_feature_flood_does_not_grow_the_fetch_process():
    """What the network can make the child hold is bounded: a record over the per-record limit
    is not encoded at all, and once the vocabulary is full, records with new names cross raw
    (the learner decodes them, and its limits decide)."""
    enc = RowEncoder(1 << 20, max_features=1000, max_names=50)
    flood = _msg({f"k{i}": 1.0 for i in range(100_000)}, ["l"])
    assert Encoded.unpack(enc.encode(flood), 0)[0] is None
    assert len(enc.index) == 0
    for i in range(200):  # 10 new names each
        enc.encode(_msg({f"n{i}_{j}": 1.0 for j in range(10)}, ["l"]))
    assert len(enc.index) == 50
    known = _msg({"n0_0": 2.0, "n0_1": 0}, ["l"])  # names it holds: still encoded
    e, _ = Encoded.unpack(enc.encode(known), 0)
    assert e is not None and e.n_features == 2 and e.zero.tolist() == [1]
    assert Encoded.unpack(enc.encode(_msg({"n0_0": 1.0, "zz": 0}, ["l"])), 0)[0] is None


def test_the_encoder_never_raises(monkeypatch):
    """A record the encoding fails on (a bug, memory) must not kill the fetch process, which
    would fetch the same record again after its restart: it crosses raw instead."""
    enc = RowEncoder(1 << 20)

    def boom(x):
        raise MemoryError("no room")

    monkeypatch.setattr(enc.index, "encode", boom)
    assert Encoded.unpack(enc.encode(_msg({"a": 1.0}, ["l"])), 0)[0] is None
