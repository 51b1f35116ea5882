import math

import numpy as np
import pytest
from scipy import stats

from ihomer.bench.ranks import DNF, average_ranks


def test_ties_get_the_mean_of_their_ranks_and_dnf_ranks_last():
    table = {
        "s1": {"a": 0.9, "b": 0.5, "c": 0.5, "d": 0.1},  # a=1, b=c=2.5, d=4
        "s2": {"a": DNF, "b": 0.7, "c": DNF, "d": 0.8},  # d=1, b=2, a=c=3.5
    }
    r = average_ranks(table, ["a", "b", "c", "d"])
    assert r["ranks"] == {"a": 2.25, "b": 2.25, "c": 3.0, "d": 2.5}
    assert r["streams"] == ["s1", "s2"] and r["excluded_streams"] == []


def test_lower_is_better_reverses_the_order():
    table = {"s1": {"a": 0.1, "b": 0.3}, "s2": {"a": 0.2, "b": 0.2}}
    r = average_ranks(table, ["a", "b"], lower_is_better=True)
    assert r["ranks"] == {"a": 1.25, "b": 1.75}


def test_streams_without_an_outcome_for_every_model_are_left_out():
    table = {
        "s1": {"a": 0.9, "b": 0.1},
        "s2": {"a": 0.1, "b": None},
        "s3": {"a": 0.2},
        "s4": {"a": 0.1, "b": float("nan")},
    }
    r = average_ranks(table, ["a", "b"])
    assert r["streams"] == ["s1"]
    assert r["excluded_streams"] == ["s2", "s3", "s4"]
    assert r["ranks"] == {"a": 1.0, "b": 2.0}
    assert r["friedman_chi2"] is None  # one stream: no test


def test_only_the_per_stream_rows_given_are_ranked():
    # an aggregate ("mean") row would change the ranks if it were counted as a stream
    per_stream = {
        "s1": {"a": 0.9, "b": 0.1},
        "s2": {"a": 0.2, "b": 0.3},
        "s3": {"a": 0.4, "b": 0.5},
    }
    r = average_ranks(per_stream, ["a", "b"])
    assert r["n_streams"] == 3
    assert r["ranks"]["a"] == pytest.approx((1 + 2 + 2) / 3)


def test_friedman_statistic_matches_scipy_without_ties():
    rng = np.random.default_rng(3)
    values = rng.random((8, 4))
    table = {f"s{i}": {m: float(values[i, j]) for j, m in enumerate("abcd")} for i in range(8)}
    r = average_ranks(table, list("abcd"))
    chi2, p = stats.friedmanchisquare(*values.T)
    assert r["friedman_chi2"] == pytest.approx(chi2)
    assert r["friedman_p"] == pytest.approx(p)
    assert r["nemenyi_cd"] == pytest.approx(2.569 * math.sqrt(4 * 5 / (6 * 8)))
    assert sum(r["ranks"].values()) == pytest.approx(4 * 5 / 2)


def test_no_stream_gives_no_ranks():
    r = average_ranks({}, ["a", "b"])
    assert r["ranks"] == {"a": None, "b": None} and r["n_streams"] == 0
