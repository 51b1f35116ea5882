"""Feature encoding: absent = 0, None/NaN/inf/|x| > 1e150 = missing, strings one-hot; the
vectorised fast path gives exactly what the general path gives; one unusable value never poisons
the model."""

from __future__ import annotations

import copy
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ihomer import features
from ihomer.features import MAX_ABS_VALUE, FeatureIndex

VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([1e150, -1e150, 1.0000001e150, 1e308, -1e200, 10**400, -(10**160)]),
    st.integers(-5, 5),
    st.none(),
    st.sampled_from(["red", "blue", "0"]),
    st.booleans(),
    st.sampled_from([np.float32(1.5), np.int64(0), np.float64(-2.0)]),
)
RECORDS = st.dictionaries(st.sampled_from([f"f{i}" for i in range(8)]), VALUES, max_size=8)


def _canonical(row):
    order = np.argsort(row.idx, kind="stable")
    return row.idx[order].tolist(), row.val[order].tolist(), sorted(row.missing.tolist())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(RECORDS, st.booleans()), max_size=12))
def test_fast_path_equals_general_path(records):
    fast, slow = FeatureIndex(), FeatureIndex()
    for x, grow in records:
        a = fast.encode(x, grow=grow)
        b = slow._encode_slow(x, grow)[0]
        assert _canonical(a) == _canonical(b)
        assert fast.names == slow.names


@settings(max_examples=300, deadline=None)
@given(st.lists(RECORDS, max_size=6), RECORDS)
def test_encode_known_says_when_the_prediction_row_equals_the_learning_row(seen, x):
    fi = FeatureIndex()
    for r in seen:
        fi.encode(r)
    known_names = list(fi.names)
    row, complete = fi.encode_known(x)
    assert fi.names == known_names  # the prediction path never grows the index
    learned = fi.encode(x)
    assert complete == (fi.names == known_names)
    if complete:
        assert _canonical(row) == _canonical(learned)


def test_semantics_of_values():
    fi = FeatureIndex()
    row = fi.encode({"a": 2.0, "b": 0.0, "c": None, "d": math.nan, "e": "x", "f": True})
    names = [fi.names[i] for i in row.idx]
    assert names == ["a", "e=x", "f"]
    assert row.val.tolist() == [2.0, 1.0, 1.0]
    assert sorted(fi.names[i] for i in row.missing) == ["c", "d"]
    assert "b" not in fi.names  # an explicit zero is the same as an absent feature


def test_dense_and_sparse_dicts_encode_identically():
    fi = FeatureIndex()
    fi.encode({"a": 1.0, "b": 1.0, "c": 1.0})
    dense = fi.encode({"a": 0.0, "b": 3.0, "c": 0.0})
    sparse = fi.encode({"b": 3.0})
    assert _canonical(dense) == _canonical(sparse)


def test_predict_path_does_not_grow_the_index():
    fi = FeatureIndex()
    fi.encode({"a": 1.0})
    before = copy.deepcopy(fi.names)
    row = fi.encode({"a": 1.0, "new": 2.0}, grow=False)
    assert fi.names == before and row.idx.tolist() == [0]


def test_nan_in_an_all_numeric_dict_is_missing_not_a_value():
    """The vectorised path (all values numeric, all keys known) keeps NaN apart from values."""
    fi = FeatureIndex()
    fi.encode({"a": 1.0, "b": 2.0, "c": 3.0})
    row = fi.encode({"a": math.nan, "b": 2.0, "c": 0.0})
    assert [fi.names[i] for i in row.idx] == ["b"] and row.val.tolist() == [2.0]
    assert [fi.names[i] for i in row.missing] == ["a"]


def test_rows_with_the_same_key_order_share_one_read_only_column_array():
    fi = FeatureIndex()
    fi.encode({"x": 1.0, "y": 2.0})  # new features: the general path
    a = fi.encode({"x": 3.0, "y": 4.0})
    b = fi.encode({"x": 5.0, "y": 6.0})
    assert b.idx is a.idx and not a.idx.flags.writeable and b.val.tolist() == [5.0, 6.0]
    with pytest.raises(ValueError):
        a.idx[0] = 5  # shared: nobody may change it in place
    c = fi.encode({"y": 4.0, "x": 3.0})  # another order: its own ids, in its order
    assert c.idx.tolist() == [1, 0] and c.val.tolist() == [4.0, 3.0]
    d = fi.encode({"y": 0.0, "x": float("nan")})  # the cached order, with a zero and a NaN
    assert d.idx.tolist() == [] and d.missing.tolist() == [0]
    e = fi.encode({"y": float("inf"), "x": 2.0})  # the cached order, with an infinity
    assert e.idx.tolist() == [0] and e.missing.tolist() == [1]


UNUSABLE = [math.inf, -math.inf, math.nan, 1e308, -1e200, 1.0000001e150, 10**400,
            np.float64(np.inf), np.float32(np.inf)]


def _id(v) -> str:
    return "10**400" if isinstance(v, int) else repr(v)


@pytest.mark.parametrize("bad", UNUSABLE, ids=_id)
@pytest.mark.parametrize("dense", [True, False], ids=["all-numeric", "mixed"])
def test_non_finite_or_huge_values_are_missing_in_both_paths(bad, dense):
    fi = FeatureIndex()
    fi.encode({"a": 1.0, "b": 2.0, "c": "red"})
    x = {"a": bad, "b": 2.0} if dense else {"a": bad, "b": 2.0, "c": "red"}
    for _ in range(2):  # the first row may take the general path, the second the cached one
        row = fi.encode(x)
        assert "a" not in [fi.names[i] for i in row.idx]
        assert [fi.names[i] for i in row.missing] == ["a"]
        assert np.isfinite(row.val).all()


def test_the_largest_usable_value_is_a_value():
    fi = FeatureIndex()
    fi.encode({"a": 1.0})
    for v in (MAX_ABS_VALUE, -MAX_ABS_VALUE, 10**150):
        row = fi.encode({"a": v})
        assert row.val.tolist() == [float(v)] and row.missing.tolist() == []


def _yeast(n):
    from river import datasets

    return list(datasets.Yeast().take(n))


@pytest.mark.parametrize("bad", [math.inf, -math.inf, 1e308, 10**400], ids=_id)
def test_one_unusable_value_does_not_poison_the_model(bad):
    """A model that saw ``inf`` (or 1e308) once learns exactly what it learns from a missing
    value there, and its probabilities stay finite."""
    from ihomer import IHOMER

    data = _yeast(400)
    x0, y0 = data[0]
    poisoned, reference = IHOMER(), IHOMER()
    poisoned.predict_one({**x0, "Att1": bad})
    poisoned.learn_one({**x0, "Att1": bad}, y0)
    reference.predict_one({**x0, "Att1": None})
    reference.learn_one({**x0, "Att1": None}, y0)
    for x, y in data[1:]:
        assert poisoned.predict_one(x) == reference.predict_one(x)
        poisoned.learn_one(x, y)
        reference.learn_one(x, y)
    probe = {**data[5][0], "Att2": bad}
    p = poisoned.predict_proba_one(probe)
    assert all(math.isfinite(v[True]) for v in p.values())
    assert p == reference.predict_proba_one({**data[5][0], "Att2": None})


@pytest.mark.skipif(features._compiled is None, reason="ihomer._encode not built (no C compiler)")
def test_the_compiled_encoder_gives_the_rows_and_ids_of_the_python_path(monkeypatch):
    rng = random.Random(0)
    pool = [0, 0.0, 1.5, -2, 7, float("nan"), float("inf"), 1e200, 10**400, True, None, "red",
            np.float64(2.5)]  # fmt: skip
    for _ in range(400):
        fast, slow = features.FeatureIndex(), features.FeatureIndex()
        for _ in range(8):
            keys = rng.sample([f"k{i}" for i in range(10)], rng.randint(0, 7))
            x = {k: rng.choice(pool) for k in keys}
            grow = rng.random() < 0.6
            got = fast._encode(x, grow)
            monkeypatch.setattr(features, "_compiled", None)
            want = slow._encode(x, grow)
            monkeypatch.undo()
            assert fast.names == slow.names
            assert got[1] == want[1]
            for a, b in zip(got[0], want[0]):
                assert a.dtype == b.dtype and np.array_equal(a, b)
