"""Tests of streams.partition_metrics: the adjusted Rand index against hand-computed values."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.partition_metrics import adjusted_rand_index


def test_identical_partitions_score_one_whatever_the_order() -> None:
    a = [["a", "b", "c"], ["d", "e"], ["f"]]
    b = [["f"], ["e", "d"], ["c", "a", "b"]]
    assert adjusted_rand_index(a, b) == 1.0


def test_hand_computed_two_vs_three_clusters() -> None:
    # a = {1,2,3}{4,5,6}; b = {1,2}{3,4}{5,6}. Pairs together in both: (1,2), (5,6) -> 2.
    # sum_a = 3 + 3 = 6, sum_b = 1 + 1 + 1 = 3, total = C(6,2) = 15, expected = 6 * 3 / 15 = 1.2,
    # max = (6 + 3) / 2 = 4.5 -> ARI = (2 - 1.2) / (4.5 - 1.2) = 8 / 33.
    a = [[1, 2, 3], [4, 5, 6]]
    b = [[1, 2], [3, 4], [5, 6]]
    assert adjusted_rand_index(a, b) == pytest.approx(8 / 33, abs=1e-12)
    assert adjusted_rand_index(b, a) == pytest.approx(8 / 33, abs=1e-12)


def test_hand_computed_scikit_learn_doc_example() -> None:
    # scikit-learn: adjusted_rand_score([0, 0, 1, 2], [0, 0, 1, 1]) = 0.5714... = 4 / 7.
    a = [["p", "q"], ["r"], ["s"]]
    b = [["p", "q"], ["r", "s"]]
    assert adjusted_rand_index(a, b) == pytest.approx(4 / 7, abs=1e-12)


def test_crossed_pairs_are_negative() -> None:
    assert adjusted_rand_index([["a", "b"], ["c", "d"]], [["a", "c"], ["b", "d"]]) == -0.5


def test_missing_label_counts_as_singleton() -> None:
    # "c" is absent from a: a becomes {a,b}{c}, identical to b.
    assert adjusted_rand_index([["a", "b"]], [["a", "b"], ["c"]]) == 1.0
    # a = {a,b,c}, b = {a,b} + singleton {c}: index 1, sum_a 3, sum_b 1, total 3 -> 0.
    assert adjusted_rand_index([["a", "b", "c"]], [["a", "b"]]) == pytest.approx(0.0, abs=1e-12)


def test_degenerate_cases() -> None:
    assert adjusted_rand_index([], []) == 1.0
    assert adjusted_rand_index([["a"]], [["a"]]) == 1.0
    assert adjusted_rand_index([["a"], [], ["b"]], [["a"], ["b"]]) == 1.0  # empty cluster ignored
    # all-in-one vs all singletons: no pair agrees, index 0 = expected -> 0.
    assert adjusted_rand_index([["a", "b", "c"]], [["a"], ["b"], ["c"]]) == 0.0


def test_label_in_two_clusters_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"partition_b is not a partition: label 'x'"):
        adjusted_rand_index([["x", "y"]], [["x"], ["x", "y"]])


def _pair_form_ari(a: dict[int, int], b: dict[int, int]) -> float:
    """Hubert & Arabie's pair-counting form, computed from scratch over every pair."""
    n11 = n10 = n01 = n00 = 0
    for i, j in itertools.combinations(sorted(a), 2):
        same_a, same_b = a[i] == a[j], b[i] == b[j]
        n11 += same_a and same_b
        n10 += same_a and not same_b
        n01 += same_b and not same_a
        n00 += not same_a and not same_b
    den = (n11 + n10) * (n10 + n00) + (n11 + n01) * (n01 + n00)
    if den == 0:
        return 1.0
    return float(Fraction(2 * (n11 * n00 - n10 * n01), den))


def _as_partition(assign: dict[int, int]) -> list[list[int]]:
    groups: dict[int, list[int]] = {}
    for label, c in assign.items():
        groups.setdefault(c, []).append(label)
    return list(groups.values())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=0, max_size=14))
def test_matches_pair_counting_form(pairs: list[tuple[int, int]]) -> None:
    a = {i: ca for i, (ca, _) in enumerate(pairs)}
    b = {i: cb for i, (_, cb) in enumerate(pairs)}
    got = adjusted_rand_index(_as_partition(a), _as_partition(b))
    assert got == pytest.approx(_pair_form_ari(a, b), abs=1e-12)
    assert got == pytest.approx(adjusted_rand_index(_as_partition(b), _as_partition(a)), abs=1e-12)
