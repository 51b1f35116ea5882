"""Optional torch scorer for dense feature batches (``pip install ihomer[neural]``).

This package owns the neural multi-label scorer: :class:`NeuralMultiLabelClassifier` (river API,
standalone) and :class:`NeuralClusterLearner` (iHOMER's per-cluster learner). Importing it does not
import torch; torch is imported when the first network is built.
"""

from __future__ import annotations

__all__ = ["NeuralMultiLabelClassifier", "NeuralClusterLearner", "MLPEngine"]

_LAZY = {
    "NeuralMultiLabelClassifier": "ihomer.neural.classifier",
    "NeuralClusterLearner": "ihomer.neural.cluster_learner",
    "MLPEngine": "ihomer.neural.engine",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ihomer.neural' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
