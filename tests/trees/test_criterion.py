"""Entropy, merit and Hoeffding bound against hand computations."""

import math

import numpy as np
import pytest

from ihomer.trees.criterion import (
    binary_entropy,
    hoeffding_bound,
    label_set_range,
    multilabel_entropy,
    split_merit,
)


def h(p):
    return 0.0 if p in (0.0, 1.0) else -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


def test_binary_entropy_matches_formula():
    ps = np.array([0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
    np.testing.assert_allclose(binary_entropy(ps), [h(p) for p in ps], atol=1e-12)


def test_multilabel_entropy_is_sum_of_binary_entropies():
    pos = np.array([3.0, 0.0, 8.0, 4.0])
    w = 8.0
    expected = sum(h(p / w) for p in pos)
    assert multilabel_entropy(pos, w) == pytest.approx(expected)
    # batched over a leading axis, one weight per row
    pos2 = np.array([[1.0, 2.0], [3.0, 3.0]])
    w2 = np.array([[4.0], [6.0]])
    np.testing.assert_allclose(
        multilabel_entropy(pos2, w2), [h(0.25) + h(0.5), 2 * h(0.5)], atol=1e-12
    )


def test_split_merit_hand_computed():
    # 10 instances, 2 labels. left: 4 instances, label0 on 4, label1 on 1;
    # right: 6 instances, label0 on 1, label1 on 3
    parent = np.array([5.0, 4.0])
    lp, lw = np.array([4.0, 1.0]), np.array([4.0, 4.0])
    rp, rw = np.array([1.0, 3.0]), np.array([6.0, 6.0])
    hp = h(0.5) + h(0.4)
    hc = 0.4 * (h(1.0) + h(0.25)) + 0.6 * (h(1 / 6) + h(0.5))
    assert split_merit(parent, 10.0, lp, lw, rp, rw) == pytest.approx(hp - hc)


def test_split_merit_perfect_and_useless():
    parent = np.array([5.0])
    perfect = split_merit(parent, 10.0, np.array([5.0]), np.array([5.0]),
                          np.array([0.0]), np.array([5.0]))
    useless = split_merit(parent, 10.0, np.array([2.5]), np.array([5.0]),
                          np.array([2.5]), np.array([5.0]))
    assert perfect == pytest.approx(1.0)
    assert useless == pytest.approx(0.0, abs=1e-12)


def test_hoeffding_bound_and_range():
    r, delta, n = 3.0, 1e-7, 500
    assert hoeffding_bound(r, delta, n) == pytest.approx(
        math.sqrt(r * r * math.log(1 / delta) / (2 * n))
    )
    assert hoeffding_bound(1.0, 0.1, 0) == math.inf
    assert hoeffding_bound(1.0, 1e-7, 400) < hoeffding_bound(1.0, 1e-7, 100)
    assert label_set_range(1) == 1.0
    assert label_set_range(2) == 1.0
    assert label_set_range(16) == pytest.approx(4.0)
