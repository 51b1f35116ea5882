"""CUDA path: device auto-selection, pinned staging, bf16 autocast. Skipped without CUDA."""

from __future__ import annotations

import numpy as np
import pytest

from tests.neural.helpers import planted

torch = pytest.importorskip("torch")

from ihomer.neural import NeuralMultiLabelClassifier  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (no GPU here)"),
]


def test_auto_picks_cuda_with_bf16_and_learns(tmp_path):
    X, Y = planted(1200)
    model = NeuralMultiLabelClassifier(hidden=(64,), lr=3e-3, batch_size=32)
    for _ in range(3):
        for s in range(0, 1000, 64):
            model.learn_many(X[s : s + 64], Y[s : s + 64])
    engine = model.engine
    assert engine.device.type == "cuda"
    assert engine.amp_dtype == torch.bfloat16
    assert engine._params[0].is_cuda
    staged = engine._stage["x"]["buf"]
    assert any(b is not None and b.is_pinned() for b in staged)
    proba = model.predict_proba_many(X[1000:])
    assert isinstance(proba, np.ndarray) and proba.dtype == np.float32
    assert ((proba > 0.5) == Y[1000:]).mean() > 0.85
    # a GPU checkpoint loads on the CPU with the same predictions (bf16 off on CPU)
    path = tmp_path / "gpu.ckpt"
    model.save(path)
    cpu = NeuralMultiLabelClassifier.load(path, device="cpu")
    cpu_proba = cpu.predict_proba_many(X[1000:])
    assert np.abs(cpu_proba - proba).max() < 0.05


def test_fp32_cuda_matches_cpu_closely():
    X, Y = planted(256)
    out = []
    for device in ("cpu", "cuda"):
        model = NeuralMultiLabelClassifier(hidden=(16,), device=device, amp="off", seed=3)
        for s in range(0, 256, 32):
            model.learn_many(X[s : s + 32], Y[s : s + 32])
        out.append(model.predict_proba_many(X))
    assert np.abs(out[0] - out[1]).max() < 1e-3


def test_many_small_learn_one_batches_and_staging_reuse():
    X, Y = planted(400)
    model = NeuralMultiLabelClassifier(hidden=(16,), batch_size=16)
    for x, y in zip(X, Y, strict=True):
        model.learn_one(dict(enumerate(x)), dict(enumerate(y)))
    model.engine.synchronize()
    assert model.engine.steps == 25
    assert np.isfinite(model.engine.last_loss)


def test_cluster_learner_and_cpu_checkpoint_on_cuda(tmp_path):
    from ihomer.features import FeatureIndex
    from ihomer.neural import NeuralClusterLearner

    fi = FeatureIndex()
    learner = NeuralClusterLearner(hidden=(8,), batch_size=4)
    learner.add_labels(2)
    for i in range(8):
        learner.learn(fi.encode({"a": float(i)}), np.array([i % 2 == 0, True]))
    assert learner.engine.device.type == "cuda"
    p = learner.predict_proba(fi.encode({"a": 1.0}))
    assert p.dtype == np.float64 and p.shape == (2,)
    X, Y = planted(64)
    cpu = NeuralMultiLabelClassifier(hidden=(8,), device="cpu")
    cpu.learn_many(X, Y)
    path = tmp_path / "cpu.ckpt"
    cpu.save(path)
    gpu = NeuralMultiLabelClassifier.load(path, device="cuda")
    assert gpu.engine.device.type == "cuda"
    assert np.abs(gpu.predict_proba_many(X) - cpu.predict_proba_many(X)).max() < 0.05
