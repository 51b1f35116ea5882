"""Agreement between two partitions of a label set (ground truth vs learned label clusters).

This module owns the comparison of partitions given as lists of clusters (iterables of hashable
labels). It must not know about streams, learners or how the partitions were obtained.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable

__all__ = ["adjusted_rand_index"]


def _assignment(partition: Iterable[Iterable[Hashable]], side: str) -> dict[Hashable, int]:
    out: dict[Hashable, int] = {}
    for c, cluster in enumerate(partition):
        for label in cluster:
            if label in out:
                raise ValueError(
                    f"adjusted_rand_index: partition_{side} is not a partition: label {label!r} "
                    f"is in cluster {out[label]} and in cluster {c}"
                )
            out[label] = c
    return out


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def adjusted_rand_index(
    partition_a: Iterable[Iterable[Hashable]], partition_b: Iterable[Iterable[Hashable]]
) -> float:
    """Adjusted Rand index (Hubert & Arabie, 1985) between two partitions of labels.

    The index is computed over the union of the labels of both partitions; a label missing from
    one side counts as a singleton cluster on that side. Empty clusters are ignored. It is 1.0 for
    identical partitions, about 0 for independent ones, and can be negative. When the index is
    undefined (fewer than two labels, or both sides all singletons / both one cluster) the
    partitions are identical and 1.0 is returned, as scikit-learn does.

    Parameters
    ----------
    partition_a, partition_b
        Lists of clusters; each cluster is an iterable of hashable labels.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If a label appears in two clusters of the same partition.

    Examples
    --------
    >>> adjusted_rand_index([["a", "b"], ["c", "d"]], [["b", "a"], ["d", "c"]])
    1.0
    >>> adjusted_rand_index([["a", "b"], ["c", "d"]], [["a", "c"], ["b", "d"]])
    -0.5
    >>> round(adjusted_rand_index([["a", "b", "c"]], [["a", "b"], ["c"]]), 6)
    0.0
    """
    a = _assignment(partition_a, "a")
    b = _assignment(partition_b, "b")
    labels = list(a) + [label for label in b if label not in a]
    n = len(labels)
    total = _pairs(n)
    if total == 0:
        return 1.0
    # Missing labels become singletons: give them fresh, unique cluster ids.
    ka = [a.get(label, ("missing", i)) for i, label in enumerate(labels)]
    kb = [b.get(label, ("missing", i)) for i, label in enumerate(labels)]
    index = sum(_pairs(v) for v in Counter(zip(ka, kb, strict=True)).values())
    sum_a = sum(_pairs(v) for v in Counter(ka).values())
    sum_b = sum(_pairs(v) for v in Counter(kb).values())
    # (index - expected) / (max - expected) with expected = sum_a * sum_b / total and
    # max = (sum_a + sum_b) / 2, scaled by 2 * total to stay in exact integers until the end.
    numerator = 2 * (index * total - sum_a * sum_b)
    denominator = (sum_a + sum_b) * total - 2 * sum_a * sum_b
    if denominator == 0:
        return 1.0
    return numerator / denominator
