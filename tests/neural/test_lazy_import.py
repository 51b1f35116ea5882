"""Importing ihomer.neural (and reading its checkpoints) must not import torch."""

from __future__ import annotations

import pathlib
import subprocess
import sys

from ihomer.neural import NeuralMultiLabelClassifier

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_import_does_not_import_torch():
    code = (
        "import sys, ihomer.neural\n"
        "from ihomer.neural import NeuralMultiLabelClassifier, NeuralClusterLearner\n"
        "m = NeuralMultiLabelClassifier(); c = m.clone(); NeuralClusterLearner().clone()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    res = _run(code)
    assert res.returncode == 0, res.stderr


def test_checkpoint_payload_is_plain_data(tmp_path):
    model = NeuralMultiLabelClassifier(hidden=(4,), device="cpu", batch_size=2)
    for i in range(5):
        model.learn_one({"a": float(i), "b": "x"}, {"y": i % 2 == 0})
    path = tmp_path / "m.ckpt"
    model.save(path)
    code = (
        "import sys\n"
        "from ihomer.checkpoint import load_checkpoint\n"
        f"payload, _ = load_checkpoint({str(path)!r})\n"
        "assert 'torch' not in sys.modules, 'unpickling the payload imported torch'\n"
        "assert payload['labels'] == ['y'] and sorted(payload['features']) == ['a', 'b=x']\n"
    )
    res = _run(code)
    assert res.returncode == 0, res.stderr
