"""learn_many / predict_proba_many / predict_many with numpy arrays and pandas DataFrames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ihomer.neural import NeuralMultiLabelClassifier


def make(**kw) -> NeuralMultiLabelClassifier:
    params = {"hidden": (16,), "device": "cpu", "lr": 3e-3}
    params.update(kw)
    return NeuralMultiLabelClassifier(**params)


def test_numpy_shapes_types_and_positional_names(data):
    X, Y = data
    model = make()
    model.learn_many(X[:200], Y[:200])
    assert model.labels == [0, 1, 2] and model.feature_names == list(range(X.shape[1]))
    proba = model.predict_proba_many(X[200:260])
    pred = model.predict_many(X[200:260])
    assert proba.shape == (60, 3) and proba.dtype == np.float32
    assert pred.shape == (60, 3) and pred.dtype == np.bool_
    assert np.array_equal(pred, proba > 0.5)
    assert ((proba > 0) & (proba < 1)).all()
    # the dict API sees the same model under positional names
    one = model.predict_proba_one(dict(enumerate(X[200])))
    assert one[1][True] == pytest.approx(float(proba[0, 1]), abs=1e-6)


def test_pandas_in_pandas_out_and_column_order_does_not_matter(data):
    X, Y = data
    cols = [f"f{j}" for j in range(X.shape[1])]
    dfx = pd.DataFrame(X, columns=cols, index=np.arange(1000, 1000 + len(X)))
    dfy = pd.DataFrame(Y, columns=["a", "b", "c"], index=dfx.index)
    model = make()
    model.learn_many(dfx[:300], dfy[:300])
    out = model.predict_proba_many(dfx[300:350])
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["a", "b", "c"] and out.index.equals(dfx.index[300:350])
    shuffled = dfx[300:350][cols[::-1]]
    assert np.array_equal(model.predict_proba_many(shuffled).to_numpy(), out.to_numpy())
    pred = model.predict_many(dfx[300:350])
    assert isinstance(pred, pd.DataFrame) and pred.dtypes.eq(bool).all()
    # an extra unknown column is ignored when scoring
    extra = dfx[300:350].assign(zzz=7.0)
    assert np.array_equal(model.predict_proba_many(extra).to_numpy(), out.to_numpy())
    assert "zzz" not in model.feature_names


def test_label_frame_with_new_and_reordered_labels():
    model = make(hidden=(4,))
    X = np.ones((4, 2))
    model.learn_many(X, pd.DataFrame({"a": [1, 0, 1, 0], "b": [0, 0, 1, 1]}, dtype=bool))
    model.learn_many(X, pd.DataFrame({"c": [True] * 4, "a": [False] * 4}))
    assert model.labels == ["a", "b", "c"]
    assert model.predict_proba_many(X).shape == (4, 3)


def test_learn_many_after_learn_one_trains_pending_first():
    model = make(batch_size=100)
    model.learn_one({0: 1.0}, {"x": True})
    assert model.n_pending == 1
    model.learn_many(np.ones((3, 2)), np.ones((3, 1), dtype=bool))
    assert model.n_pending == 0
    assert model.engine.steps == 2
    # numpy label column 0 and dict label "x" are different labels
    assert model.labels == ["x", 0]


def test_max_batch_splits_steps_and_weights_are_accepted(data):
    X, Y = data
    model = make(max_batch=64)
    model.learn_many(X[:200], Y[:200], w=np.full(200, 2.0))
    assert model.engine.steps == 4  # 64 + 64 + 64 + 8
    assert model.predict_proba_many(X[:130]).shape == (130, 3)


def test_zero_weight_rows_do_not_change_parameters():
    model = make(hidden=(), optimizer="sgd", standardize=False)
    X = np.ones((4, 2))
    Y = np.ones((4, 1), dtype=bool)
    model.learn_many(X, Y, w=np.zeros(4))
    assert np.allclose(model.predict_proba_many(X), 0.5)


def test_empty_batch_and_bad_inputs():
    model = make()
    assert model.predict_proba_many(np.zeros((0, 3))).shape == (0, 0)
    with pytest.raises(ValueError, match="2-D"):
        model.learn_many(np.zeros(3), np.zeros((3, 1), dtype=bool))
    with pytest.raises(ValueError, match="rows"):
        model.learn_many(np.zeros((3, 2)), np.zeros((2, 1), dtype=bool))
    with pytest.raises(ValueError, match="booleans"):
        model.learn_many(np.zeros((2, 2)), np.full((2, 1), 0.5))
    with pytest.raises(ValueError, match="column 'c'"):
        model.learn_many(pd.DataFrame({"a": [1.0], "c": ["red"]}), np.ones((1, 1), dtype=bool))
    with pytest.raises(ValueError, match="w has shape"):
        model.learn_many(np.zeros((2, 2)), np.zeros((2, 1), dtype=bool), w=np.ones(3))


def test_nan_in_batch_is_imputed(data):
    X, Y = data
    model = make()
    Xn = X[:100].copy()
    Xn[::3, 0] = np.nan
    model.learn_many(Xn, Y[:100])
    assert np.isfinite(model.predict_proba_many(Xn)).all()
    assert np.isnan(Xn[0, 0])  # the caller's array is not modified


def test_read_only_inputs_are_accepted_without_warnings(data):
    import warnings

    X, Y = data
    X = X[:64].copy()
    Y = Y[:64].copy()
    X.setflags(write=False)
    Y.setflags(write=False)
    model = make()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.learn_many(X, Y)
        out = model.predict_proba_many(X)
    assert out.shape == (64, 3)


def test_columns_unknown_when_scoring_are_registered_when_learning():
    model = make(hidden=(4,))
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    assert model.predict_proba_many(frame).shape == (2, 0)  # nothing known yet
    model.learn_many(frame, pd.DataFrame({"y": [True, False]}))
    assert model.feature_names == ["a", "b"]
    assert model.engine.n_in == 2
