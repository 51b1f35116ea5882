"""Average ranks across streams per metric, with the Friedman test (Demšar 2006).

This module owns :func:`average_ranks`. Ranks are computed **per stream** (1 = best; ties get the
mean of the ranks they span; a model that did not finish on a stream ranks below every finished
one, tied with the other DNFs) and then averaged over the streams where every model has an
outcome. Aggregate rows (means over streams) are never ranked: the input is per-stream only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

__all__ = ["DNF", "average_ranks", "NEMENYI_Q05"]

#: Marks a (stream, model) cell whose run did not finish.
DNF = "dnf"

#: Studentized range statistic / sqrt(2) at alpha = 0.05 (Nemenyi), by number of models.
NEMENYI_Q05: dict[int, float] = {
    2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102, 10: 3.164,
    11: 3.219, 12: 3.268, 13: 3.313, 14: 3.354, 15: 3.391, 16: 3.426, 17: 3.458, 18: 3.489,
    19: 3.517, 20: 3.544,
}  # fmt: skip


def _rank_one(values: Sequence[float | str], lower_is_better: bool) -> np.ndarray:
    finite = [v for v in values if v != DNF]
    scores = np.array(
        [(v if lower_is_better else -v) if v != DNF else math.inf for v in values], dtype=float
    )
    if not finite:
        return np.full(len(values), (len(values) + 1) / 2.0)
    return stats.rankdata(scores, method="average")


def average_ranks(
    table: Mapping[str, Mapping[str, float | str | None]],
    models: Sequence[str],
    lower_is_better: bool = False,
) -> dict:
    """Average rank of each model over the streams of ``table`` (``stream -> model -> value``).

    ``value`` is a number, :data:`DNF` (ranked last) or None / absent (no outcome: the stream is
    left out of the ranking and listed in ``excluded_streams``).

    Returns ``{"ranks": {model: mean rank}, "streams": [...], "excluded_streams": [...],
    "n_streams", "n_models", "friedman_chi2", "friedman_p", "iman_davenport_f",
    "iman_davenport_p", "nemenyi_cd"}`` (statistics None when fewer than 2 streams or models).

    Examples
    --------
    >>> table = {"s1": {"a": 0.9, "b": 0.5, "c": 0.5},
    ...          "s2": {"a": 0.1, "b": 0.7, "c": DNF},
    ...          "s3": {"a": 0.3, "b": None, "c": 0.2}}
    >>> r = average_ranks(table, ["a", "b", "c"])
    >>> r["ranks"], r["streams"], r["excluded_streams"]
    ({'a': 1.5, 'b': 1.75, 'c': 2.75}, ['s1', 's2'], ['s3'])
    """
    models = list(models)
    used, excluded = [], []
    rows = []
    for stream, cells in table.items():
        values = [cells.get(m) for m in models]
        if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
            excluded.append(stream)
            continue
        used.append(stream)
        rows.append(_rank_one(values, lower_is_better))
    k, n = len(models), len(rows)
    out: dict = {
        "ranks": {},
        "streams": used,
        "excluded_streams": excluded,
        "n_streams": n,
        "n_models": k,
        "friedman_chi2": None,
        "friedman_p": None,
        "iman_davenport_f": None,
        "iman_davenport_p": None,
        "nemenyi_cd": None,
    }
    if not n:
        out["ranks"] = {m: None for m in models}
        return out
    mean = np.mean(np.vstack(rows), axis=0)
    out["ranks"] = {m: float(r) for m, r in zip(models, mean, strict=True)}
    if n >= 2 and k >= 2:
        chi2 = 12.0 * n / (k * (k + 1)) * (float(np.sum(mean**2)) - k * (k + 1) ** 2 / 4.0)
        out["friedman_chi2"] = chi2
        out["friedman_p"] = float(stats.chi2.sf(chi2, k - 1))
        denom = n * (k - 1) - chi2
        if denom > 0:
            f = (n - 1) * chi2 / denom
            out["iman_davenport_f"] = f
            out["iman_davenport_p"] = float(stats.f.sf(f, k - 1, (k - 1) * (n - 1)))
        q = NEMENYI_Q05.get(k)
        if q is not None:
            out["nemenyi_cd"] = q * math.sqrt(k * (k + 1) / (6.0 * n))
    return out
