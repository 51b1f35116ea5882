"""BatchBuffer densifies pending rows exactly like SparseRow.dense (missing -> NaN)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ihomer.features import FeatureIndex
from ihomer.neural.buffer import BatchBuffer

values = st.one_of(
    st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False), st.none(), st.sampled_from("ab")
)
records = st.dictionaries(st.sampled_from(["f0", "f1", "f2", "f3", "f4"]), values, max_size=5)
labels = st.lists(st.integers(0, 3), max_size=3, unique=True)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(records, labels, st.sampled_from([1.0, 0.5])), min_size=1, max_size=6))
def test_dense_matches_sparse_row_dense(items):
    fi = FeatureIndex()
    buf = BatchBuffer()
    rows = []
    for x, pos, w in items:
        row = fi.encode(x)
        rows.append(row)
        buf.add(row, pos, w)
    n_feat = len(fi) + 2  # wider than needed: extra columns stay 0
    X, Y, W = buf.dense(n_feat, 5)
    assert X.shape == (len(items), n_feat) and Y.shape == (len(items), 5)
    for i, (row, (_, pos, _w)) in enumerate(zip(rows, items, strict=True)):
        expected = row.dense(n_feat, fill_missing=np.nan).astype(np.float32)
        assert np.array_equal(X[i], expected, equal_nan=True)
        assert set(np.flatnonzero(Y[i])) == set(pos)
    weights = [w for _, _, w in items]
    if all(w == 1.0 for w in weights):
        assert W is None
    else:
        assert np.array_equal(W, np.asarray(weights, dtype=np.float32))
    # the plain-data form rebuilds the same batch
    again = BatchBuffer()
    again.load_plain(buf.to_plain())
    X2, Y2, W2 = again.dense(n_feat, 5)
    assert np.array_equal(X2, X, equal_nan=True) and np.array_equal(Y2, Y)
    assert (W2 is None) == (W is None)
