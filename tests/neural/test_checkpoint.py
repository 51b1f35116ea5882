"""Checkpoints: exact round trip (resumable training), corruption and foreign files rejected."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from ihomer.checkpoint import CheckpointError, save_checkpoint
from ihomer.neural import NeuralMultiLabelClassifier
from tests.neural.helpers import as_dicts, planted


def trained(batch_size: int = 8) -> tuple[NeuralMultiLabelClassifier, np.ndarray, np.ndarray]:
    X, Y = planted(300)
    xs, ys = as_dicts(X, Y)
    model = NeuralMultiLabelClassifier(hidden=(16,), device="cpu", batch_size=batch_size)
    for x, y in zip(xs[:205], ys[:205], strict=True):
        model.learn_one(x, y)
    model.learn_one({"f0": 1.0, "colour": "red"}, {"l0": True, "new": True})
    return model, X, Y


def test_round_trip_is_exact_and_resumes_identically(tmp_path):
    model, X, Y = trained()
    assert model.n_pending > 0
    path = tmp_path / "neural.ckpt"
    n = model.save(path, metadata={"offset": 42})
    assert n == path.stat().st_size
    loaded = NeuralMultiLabelClassifier.load(path)
    assert loaded.labels == model.labels and loaded.feature_names == model.feature_names
    assert loaded.n_pending == model.n_pending
    assert loaded._get_params() == model._get_params()
    xs, ys = as_dicts(X, Y)
    for x in xs[250:260]:
        assert loaded.predict_proba_one(x) == model.predict_proba_one(x)
    # optimizer moments, statistics, generator and pending buffer all came back
    for m in (model, loaded):
        for x, y in zip(xs[205:260], ys[205:260], strict=True):
            m.learn_one(x, y)
        m.flush()
    for x in xs[260:280]:
        assert loaded.predict_proba_one(x) == model.predict_proba_one(x)


def test_save_before_any_network_and_device_override(tmp_path):
    model = NeuralMultiLabelClassifier(hidden=(4,), device="cpu", batch_size=10)
    model.learn_one({"a": 1.0}, {"x": True})
    path = tmp_path / "cold.ckpt"
    model.save(path)
    loaded = NeuralMultiLabelClassifier.load(path, device="cpu")
    assert loaded.n_pending == 1 and loaded.labels == ["x"]
    assert loaded.predict_proba_one({"a": 1.0}) == {"x": {False: 0.5, True: 0.5}}


def test_corrupted_checkpoint_is_rejected_with_file_and_reason(tmp_path):
    model, _, _ = trained()
    path = tmp_path / "neural.ckpt"
    model.save(path)
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="checksum") as err:
        NeuralMultiLabelClassifier.load(path)
    assert str(path) in str(err.value)
    path.write_bytes(bytes(raw[: len(raw) // 2]))
    with pytest.raises(CheckpointError, match="truncated"):
        NeuralMultiLabelClassifier.load(path)


def test_hmac_key_and_foreign_or_inconsistent_payloads(tmp_path):
    model, _, _ = trained()
    path = tmp_path / "signed.ckpt"
    model.save(path, key=b"secret")
    assert NeuralMultiLabelClassifier.load(path, key=b"secret").labels == model.labels
    with pytest.raises(CheckpointError, match="HMAC"):
        NeuralMultiLabelClassifier.load(path, key=b"other")
    foreign = tmp_path / "foreign.ckpt"
    save_checkpoint(foreign, {"something": "else"})
    with pytest.raises(CheckpointError, match="not a"):
        NeuralMultiLabelClassifier.load(foreign)
    payload = model._payload()
    payload["engine"]["params"][0] = np.zeros((3, 3), dtype=np.float32)
    bad = tmp_path / "bad.ckpt"
    save_checkpoint(bad, payload)
    with pytest.raises(CheckpointError, match="inconsistent payload.*shape"):
        NeuralMultiLabelClassifier.load(bad)


def test_pickle_round_trip_keeps_predictions():
    model, X, _ = trained()
    clone = pickle.loads(pickle.dumps(model))
    assert np.array_equal(clone.predict_proba_many(X[:20]), model.predict_proba_many(X[:20]))
