"""Small synthetic multi-label problems with a planted rule, for the neural scorer tests."""

from __future__ import annotations

import numpy as np


def planted(n: int, d: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features ~ N(0, 1) and three labels given by fixed rules of the first features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = np.stack([X[:, 0] > 0.0, X[:, 1] + X[:, 2] > 0.5, X[:, 3] < -0.5], axis=1)
    return X, Y


def as_dicts(X: np.ndarray, Y: np.ndarray) -> tuple[list[dict], list[dict]]:
    xs = [{f"f{j}": float(v) for j, v in enumerate(row)} for row in X]
    ys = [{f"l{k}": bool(v) for k, v in enumerate(row)} for row in Y]
    return xs, ys
