"""Which model the daemon trains: a name (or ``module:callable``) to a fresh river estimator.

This module owns :class:`LabelwiseLogistic`, a small binary-relevance stand-in (one online logistic
regression per label, labels added as they appear) used when iHOMER is not wanted;
:func:`make_model` is the daemon's door to the one model registry (:mod:`ihomer.registry`). It must
not know about Kafka or metrics.
"""

from __future__ import annotations

import math
from typing import Any

from river import base, linear_model, optim, preprocessing

__all__ = ["make_model", "LabelwiseLogistic", "MODEL_NAMES"]

MODEL_NAMES = ("ihomer", "br-logreg")


class LabelwiseLogistic(base.MultiLabelClassifier):
    """Binary relevance of standardised online logistic regressions, over a growing label set.

    Parameters
    ----------
    lr
        Learning rate of each label's SGD optimiser.
    threshold
        A label is predicted when its probability exceeds this value.

    Examples
    --------
    >>> model = LabelwiseLogistic()
    >>> for _ in range(20):
    ...     model.learn_one({"a": 1.0}, {"x": True, "y": False})
    ...     model.learn_one({"a": -1.0}, {"x": False, "y": True})
    >>> model.predict_one({"a": 1.0})
    {'x': True, 'y': False}
    """

    def __init__(self, lr: float = 0.1, threshold: float = 0.5) -> None:
        self.lr = lr
        self.threshold = threshold

    def _state(self) -> dict:
        if not hasattr(self, "_models"):
            self._models: dict[Any, Any] = {}
            self._scaler = preprocessing.StandardScaler()
        return self._models

    @staticmethod
    def _clean(x: dict) -> dict:
        out = {}
        for k, v in x.items():
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            if isinstance(v, str):
                out[f"{k}={v}"] = 1.0
            else:
                out[k] = float(v)
        return out

    @property
    def labels(self) -> list:
        return list(self._state())

    def learn_one(self, x: dict, y: dict) -> None:
        models = self._state()
        for label in y:
            if label not in models:
                models[label] = linear_model.LogisticRegression(optimizer=optim.SGD(self.lr))
        xs = self._clean(x)
        self._scaler.learn_one(xs)
        xs = self._scaler.transform_one(xs)
        for label, m in models.items():
            m.learn_one(xs, bool(y.get(label, False)))

    def predict_proba_one(self, x: dict) -> dict:
        models = self._state()
        xs = self._scaler.transform_one(self._clean(x)) if models else {}
        out = {}
        for label, m in models.items():
            p = m.predict_proba_one(xs).get(True, 0.0)
            out[label] = {True: p, False: 1.0 - p}
        return out

    def predict_one(self, x: dict) -> dict:
        return {k: p[True] > self.threshold for k, p in self.predict_proba_one(x).items()}


def make_model(name: str, seed: int = 42) -> base.MultiLabelClassifier:
    """A fresh model from the one registry (:func:`ihomer.registry.build_model`): ``"ihomer"``,
    ``"br-logreg"``, any model spec the CLI takes, or ``"package.module:factory"``.

    Examples
    --------
    >>> type(make_model("br-logreg")).__name__
    'LabelwiseLogistic'
    """
    from ihomer.registry import build_model

    return build_model(name, seed=seed)
