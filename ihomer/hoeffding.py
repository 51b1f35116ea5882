"""The Hoeffding bound, the one test statistic both levels of iHOMER use: the label hierarchy
(ODAC's split and merge tests, :mod:`ihomer.labels.odac`, R = 1 for a distance in [0, 1]) and the
cluster trees (split tests, :mod:`ihomer.trees.criterion`, R = log2 of the label sets seen)."""

from __future__ import annotations

import math

__all__ = ["hoeffding_bound"]


def hoeffding_bound(r: float, delta: float, n: float) -> float:
    """epsilon = sqrt(R^2 ln(1/delta) / (2 n)); infinite when ``n <= 0``.

    Examples
    --------
    >>> round(hoeffding_bound(1.0, 0.1, 200), 4)
    0.0759
    >>> hoeffding_bound(1.0, 0.1, 0)
    inf
    """
    if n <= 0:
        return math.inf
    return math.sqrt(r * r * math.log(1.0 / delta) / (2.0 * n))
