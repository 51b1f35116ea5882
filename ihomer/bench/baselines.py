"""Small multi-label models that exist only for the benchmark: the majority-label-set baseline,
a multi-target regressor thresholded at 0.5, and a one-hot step for linear peers.

They follow river's ``MultiLabelClassifier`` interface so that the one prequential loop of
:mod:`ihomer.evaluate` scores them exactly like every other model. Nothing here computes a metric.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from river import base

__all__ = ["MajorityLabelSet", "ThresholdedRegressor", "OneHotStrings", "DenseInput"]


class MajorityLabelSet(base.MultiLabelClassifier):
    """Predict the most frequent label set seen so far (the first one seen wins ties).

    Examples
    --------
    >>> m = MajorityLabelSet()
    >>> for y in [{"a": True, "b": False}, {"a": False, "b": True}, {"a": False, "b": True}]:
    ...     m.learn_one({}, y)
    >>> m.predict_one({})
    {'a': False, 'b': True}
    """

    def __init__(self) -> None:
        self._counts: Counter | None = None

    def learn_one(self, x: dict, y: dict) -> None:
        if self._counts is None:
            self._counts = Counter()
            self._labels: dict = {}
            self._best: frozenset = frozenset()
            self._best_count = 0
        for label in y:
            self._labels.setdefault(label, None)
        key = frozenset(k for k, v in y.items() if v)
        count = self._counts[key] + 1
        self._counts[key] = count
        if count > self._best_count:
            self._best, self._best_count = key, count

    def predict_one(self, x: dict, **kwargs: Any) -> dict:
        if self._counts is None:
            return {}
        return {label: label in self._best for label in self._labels}


class ThresholdedRegressor(base.MultiLabelClassifier):
    """A river multi-target regressor trained on 0/1 targets; label on when its output > threshold.

    Parameters
    ----------
    regressor
        A ``base.MultiTargetRegressor`` (e.g. ``tree.ISOUPTreeRegressor()``).
    threshold
        The decision threshold on each output.

    Examples
    --------
    >>> from river import tree
    >>> m = ThresholdedRegressor(tree.ISOUPTreeRegressor())
    >>> for i in range(40):
    ...     m.learn_one({"f": float(i % 2)}, {"a": i % 2 == 1})
    >>> m.predict_one({"f": 1.0})
    {'a': True}
    """

    def __init__(self, regressor: base.MultiTargetRegressor, threshold: float = 0.5) -> None:
        self.regressor = regressor
        self.threshold = threshold

    def learn_one(self, x: dict, y: dict) -> None:
        self.regressor.learn_one(x, {k: 1.0 if v else 0.0 for k, v in y.items()})

    def predict_one(self, x: dict, **kwargs: Any) -> dict:
        out = self.regressor.predict_one(x) or {}
        return {k: bool(v > self.threshold) for k, v in out.items()}


class OneHotStrings(base.Transformer):
    """One-hot string values as ``"name=value": 1.0`` and drop missing (``None`` / NaN) values, so
    that linear river models accept mixed records; numbers pass through untouched.

    Examples
    --------
    >>> OneHotStrings().transform_one({"a": 1.5, "c": "red", "m": None})
    {'a': 1.5, 'c=red': 1.0}
    """

    def transform_one(self, x: dict) -> dict:
        out = {}
        for k, v in x.items():
            if v is None:
                continue
            if isinstance(v, str):
                out[f"{k}={v}"] = 1.0
            elif isinstance(v, float) and math.isnan(v):
                continue
            else:
                out[k] = v
        return out


class DenseInput(base.MultiLabelClassifier):
    """Feed ``model`` dense dicts: every feature of ``features`` present, absent ones as 0.0.

    Examples
    --------
    >>> m = DenseInput(MajorityLabelSet(), features=["a", "b"])
    >>> m._dense({"b": 2.0})
    {'a': 0.0, 'b': 2.0}
    """

    def __init__(self, model: base.MultiLabelClassifier, features: list) -> None:
        self.model = model
        self.features = features

    def _dense(self, x: dict) -> dict:
        out = dict.fromkeys(self.features, 0.0)
        out.update(x)
        return out

    def learn_one(self, x: dict, y: dict) -> None:
        self.model.learn_one(self._dense(x), y)

    def predict_one(self, x: dict, **kwargs: Any) -> dict:
        return self.model.predict_one(self._dense(x))
