"""``NeuralMultiLabelClassifier``: a river multi-label classifier backed by a growable torch MLP.

This module owns the name side of the neural scorer: feature names (through
:class:`ihomer.features.FeatureIndex`) and label names, the river dict API, the batch API over numpy
arrays and pandas DataFrames, the learn_one mini-batch buffer, and checkpoints of plain data. The
numerics live in :mod:`ihomer.neural.engine`; torch is imported only when a network is built.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from river import base

from ihomer.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ihomer.features import FeatureIndex
from ihomer.neural.buffer import BatchBuffer
from ihomer.neural.device import AMP_CHOICES
from ihomer.neural.engine import OPTIMIZERS, MLPEngine, ensure_engine, train_pending

__all__ = ["NeuralMultiLabelClassifier", "validate_params"]

_FORMAT = "ihomer.neural.NeuralMultiLabelClassifier"
_FORMAT_VERSION = 1


def validate_params(
    hidden: Any,
    lr: float,
    optimizer: str,
    weight_decay: float,
    batch_size: int,
    amp: str,
    threads: int | None,
) -> None:
    """Raise ValueError on a parameter no network can be built with (never mutates anything)."""
    if not isinstance(hidden, (tuple, list)) or not all(
        isinstance(h, (int, np.integer)) and not isinstance(h, bool) and h > 0 for h in hidden
    ):
        raise ValueError(f"hidden={hidden!r}: expected a tuple of positive ints, e.g. (256,)")
    if not lr > 0:
        raise ValueError(f"lr={lr!r} must be > 0")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r}: expected one of {OPTIMIZERS}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay={weight_decay!r} must be >= 0")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be an int >= 1")
    if amp not in AMP_CHOICES:
        raise ValueError(f"amp={amp!r}: expected one of {AMP_CHOICES}")
    if threads is not None and (not isinstance(threads, (int, np.integer)) or threads < 1):
        raise ValueError(f"threads={threads!r} must be None or an int >= 1")


def _is_frame(obj: Any) -> bool:
    return hasattr(obj, "columns") and hasattr(obj, "to_numpy") and hasattr(obj, "index")


class _Names:
    """Positions of the names of a growing, append-only name list (mirrors FeatureIndex.names)."""

    def __init__(self) -> None:
        self.pos: dict[Any, int] = {}

    def sync(self, names: list) -> None:
        for i in range(len(self.pos), len(names)):
            self.pos[names[i]] = i


class NeuralMultiLabelClassifier(base.MultiLabelClassifier):
    """Online multi-label MLP (per-label sigmoid outputs) on CUDA when available, else the CPU.

    Features and labels may appear at any time: the first layer gains zero-effect columns for new
    features and the output layer gains rows (p = 0.5 until trained) for new labels. ``learn_one``
    buffers instances and takes one optimizer step per ``batch_size`` instances; **predictions use
    the current weights, so the last (fewer than ``batch_size``) instances given to learn_one are
    not trained on yet**: call :meth:`flush` to train on them now. ``learn_many`` takes one step per
    ``max_batch`` rows of the batch it is given.

    Parameters
    ----------
    hidden
        Hidden layer widths (ReLU); ``()`` makes it a per-label logistic regression.
    lr
        Learning rate.
    optimizer
        ``"adam"``, ``"adamw"`` or ``"sgd"``.
    weight_decay
        L2 penalty (decoupled for ``"adamw"``).
    batch_size
        Size of the learn_one buffer, i.e. the mini-batch of a stream of single instances.
    max_batch
        Largest number of rows per optimizer step (or per forward pass when scoring) in the batch
        API; bigger inputs are split.
    device
        ``"auto"`` (CUDA when ``torch.cuda.is_available()``, else CPU), ``"cpu"``, ``"cuda[:N]"``.
    amp
        ``"auto"``: bf16 autocast on CUDA, float32 on CPU; ``"bf16"``: CUDA only; ``"off"``.
    standardize
        Standardise features with running mean/variance (missing values imputed by the mean).
    threshold
        Probability above which a label is predicted present.
    seed
        Seed of the private generator used for initialisation: runs on the CPU with the same seed,
        data and thread count give identical predictions.
    threads
        CPU threads for torch (``torch.set_num_threads``, process-wide); ``None`` leaves it alone.

    Examples
    --------
    >>> model = NeuralMultiLabelClassifier(hidden=(16,), batch_size=4, device="cpu", seed=1)
    >>> model.predict_one({"a": 1.0})
    {}
    >>> for i in range(40):
    ...     a = float(i % 2)
    ...     model.learn_one({"a": a, "b": 1.0 - a}, {"odd": a == 1.0, "even": a == 0.0})
    >>> sorted(model.predict_proba_one({"a": 1.0, "b": 0.0}))
    ['even', 'odd']
    >>> import numpy as np
    >>> model.predict_proba_many(np.zeros((3, 2))).shape
    (3, 2)
    """

    def __init__(
        self,
        hidden: tuple[int, ...] = (256,),
        lr: float = 1e-3,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
        batch_size: int = 32,
        max_batch: int = 4096,
        device: Any = "auto",
        amp: str = "auto",
        standardize: bool = True,
        threshold: float = 0.5,
        seed: int = 0,
        threads: int | None = 1,
    ) -> None:
        validate_params(hidden, lr, optimizer, weight_decay, batch_size, amp, threads)
        if not isinstance(max_batch, (int, np.integer)) or max_batch < 1:
            raise ValueError(f"max_batch={max_batch!r} must be an int >= 1")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold={threshold!r} must lie strictly between 0 and 1")
        self.hidden = hidden
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_batch = max_batch
        self.device = device
        self.amp = amp
        self.standardize = standardize
        self.threshold = threshold
        self.seed = seed
        self.threads = threads
        self._reset()

    def _reset(self) -> None:
        self._features = FeatureIndex()
        self._feat_pos = _Names()
        self._label_ids: dict[Any, int] = {}
        self._label_names: list[Any] = []
        self._buffer = BatchBuffer()
        self._engine: MLPEngine | None = None
        self._engine_state: dict | None = None  # set by __setstate__, consumed lazily
        self._row = np.zeros((1, 0), dtype=np.float32)
        self._col_cache: dict[Any, tuple] = {}

    @classmethod
    def _unit_test_params(cls):
        yield {"hidden": (8,), "device": "cpu", "batch_size": 4}

    # ------------------------------------------------------------------ properties
    @property
    def labels(self) -> list:
        """Label names seen so far, in output order."""
        return list(self._label_names)

    @property
    def feature_names(self) -> list:
        """Feature (column) names seen so far, in input order."""
        return list(self._features.names)

    @property
    def n_pending(self) -> int:
        """Instances given to learn_one and not trained on yet."""
        return len(self._buffer)

    @property
    def engine(self) -> MLPEngine:
        """The torch engine, built (and grown to the current sizes) on demand."""
        return ensure_engine(self, len(self._features), len(self._label_names))

    # ------------------------------------------------------------------ dict API
    def _label_id(self, name: Any) -> int:
        i = self._label_ids.get(name)
        if i is None:
            i = len(self._label_names)
            self._label_ids[name] = i
            self._label_names.append(name)
        return i

    def learn_one(self, x: dict, y: dict, w: float = 1.0) -> None:
        """Buffer one instance; trains one step when ``batch_size`` instances are pending.

        ``x``: absent key = 0, None/NaN = missing, strings one-hot (see ihomer.features).
        ``y``: label name -> bool; labels absent from ``y`` count as False."""
        row = self._features.encode(x)
        pos = []
        for k, v in y.items():
            i = self._label_id(k)
            if v:
                pos.append(i)
        self._buffer.add(row, pos, w)
        if len(self._buffer) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Train on the pending learn_one instances now (one step), even fewer than batch_size."""
        train_pending(self)

    def _proba_row(self, x: dict) -> np.ndarray:
        row = self._features.encode(x, grow=False)
        engine = self.engine
        if self._row.shape[1] != engine.n_in:
            self._row = np.zeros((1, engine.n_in), dtype=np.float32)
        buf = self._row
        buf.fill(0.0)
        if len(row.idx):
            buf[0, row.idx] = row.val
        if len(row.missing):
            buf[0, row.missing] = np.nan
        return engine.predict_proba(buf)[0]

    def predict_proba_one(self, x: dict, **kwargs: Any) -> dict:
        """``{label: {False: 1 - p, True: p}}`` for every label seen so far."""
        if not self._label_names:
            return {}
        p = self._proba_row(x).tolist()
        return {
            name: {False: 1.0 - q, True: q} for name, q in zip(self._label_names, p, strict=True)
        }

    def predict_one(self, x: dict, **kwargs: Any) -> dict:
        """``{label: p > threshold}`` for every label seen so far."""
        if not self._label_names:
            return {}
        p = self._proba_row(x)
        return dict(zip(self._label_names, (p > self.threshold).tolist(), strict=True))

    # ------------------------------------------------------------------ batch API
    def _columns(self, key: Any, names: list, grow: bool, features: bool) -> tuple:
        """``(ids, identity)`` for the given column names; ids -1 for unknown names."""
        size = len(self._features) if features else len(self._label_names)
        hit = self._col_cache.get((features, key))
        if hit is not None and (hit[3] or (not grow and hit[2] == size)):
            return hit[0], hit[1]
        if features:
            if grow:
                new = [n for n in names if n not in self._feat_pos.pos]
                if new:
                    # FeatureIndex registers a numeric non-zero value under its own name.
                    self._features.encode(dict.fromkeys(new, 1.0))
            self._feat_pos.sync(self._features.names)
            lookup = self._feat_pos.pos
        else:
            if grow:
                for n in names:
                    self._label_id(n)
            lookup = self._label_ids
        ids = np.fromiter((lookup.get(n, -1) for n in names), dtype=np.int64, count=len(names))
        identity = bool(np.array_equal(ids, np.arange(len(names))))
        complete = bool((ids >= 0).all())
        size = len(self._features) if features else len(self._label_names)
        self._col_cache[(features, key)] = (ids, identity, size, complete)
        return ids, identity

    def _x_matrix(self, X: Any, grow: bool) -> np.ndarray:
        if _is_frame(X):
            for c, dt in zip(X.columns, X.dtypes, strict=True):
                if dt.kind not in "biuf":
                    raise ValueError(
                        f"column {c!r} has dtype {dt}: the batch API takes numeric columns only "
                        "(one-hot encode categories, or use learn_one with string values)"
                    )
            names = list(X.columns)
            key = tuple(names)
            arr = X.to_numpy(dtype=np.float32, na_value=np.nan)
        else:
            arr = np.asarray(X)
            if arr.ndim != 2:
                raise ValueError(f"X must be 2-D (n, d), got shape {arr.shape}")
            if arr.dtype.kind not in "biuf":
                raise ValueError(f"X has dtype {arr.dtype}: expected a numeric array")
            names = list(range(arr.shape[1]))
            key = ("__positions__", arr.shape[1])
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float32)
        ids, identity = self._columns(key, names, grow, features=True)
        n_feat = len(self._features)
        if identity and arr.shape[1] == n_feat:
            return arr
        out = np.zeros((arr.shape[0], n_feat), dtype=np.float32)
        keep = ids >= 0
        out[:, ids[keep]] = arr[:, keep]
        return out

    def _y_matrix(self, Y: Any) -> np.ndarray:
        if _is_frame(Y):
            names = list(Y.columns)
            key = tuple(names)
            arr = Y.to_numpy()
        else:
            arr = np.asarray(Y)
            if arr.ndim != 2:
                raise ValueError(f"Y must be 2-D (n, L), got shape {arr.shape}")
            names = list(range(arr.shape[1]))
            key = ("__positions__", arr.shape[1])
        if arr.dtype != np.bool_:
            try:
                ok = np.isin(arr, (0, 1)).all()
            except TypeError:
                ok = False
            if not ok:
                raise ValueError("Y must hold booleans (or 0/1 values)")
            arr = arr.astype(bool)
        ids, identity = self._columns(key, names, True, features=False)
        n_lab = len(self._label_names)
        if identity and arr.shape[1] == n_lab:
            return arr
        out = np.zeros((arr.shape[0], n_lab), dtype=bool)
        out[:, ids] = arr
        return out

    def learn_many(self, X: Any, Y: Any, w: np.ndarray | None = None) -> None:
        """Train on a batch: ``X`` (n, d) numpy array or DataFrame, ``Y`` (n, L) bool array or
        DataFrame of bools (columns = label names; numpy columns are named 0..d-1 / 0..L-1).

        Pending learn_one instances are trained on first; then one optimizer step per
        ``max_batch`` rows."""
        Xm = self._x_matrix(X, grow=True)
        Ym = self._y_matrix(Y)
        if Xm.shape[0] != Ym.shape[0]:
            raise ValueError(f"X has {Xm.shape[0]} rows but Y has {Ym.shape[0]}")
        if w is not None:
            w = np.asarray(w, dtype=np.float32)
            if w.shape != (Xm.shape[0],):
                raise ValueError(f"w has shape {w.shape}, expected ({Xm.shape[0]},)")
        self.flush()
        engine = self.engine
        if Ym.shape[1] != engine.n_out:  # a label seen only in the pending buffer
            Ym = np.pad(Ym, ((0, 0), (0, engine.n_out - Ym.shape[1])))
        if Xm.shape[1] != engine.n_in:
            Xm = np.pad(Xm, ((0, 0), (0, engine.n_in - Xm.shape[1])))
        step = int(self.max_batch)
        for s in range(0, Xm.shape[0], step):
            engine.train(Xm[s : s + step], Ym[s : s + step], None if w is None else w[s : s + step])

    def _score_many(self, X: Any, proba: bool) -> Any:
        Xm = self._x_matrix(X, grow=False)
        engine = self.engine
        step = int(self.max_batch)
        parts = []
        for s in range(0, Xm.shape[0], step):
            chunk = Xm[s : s + step]
            parts.append(
                engine.predict_proba(chunk) if proba else engine.predict(chunk, self.threshold)
            )
        if not parts:
            out = np.zeros((0, engine.n_out), dtype=np.float32 if proba else bool)
        else:
            out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        if _is_frame(X):
            import pandas as pd

            return pd.DataFrame(out, index=X.index, columns=list(self._label_names))
        return out

    def predict_proba_many(self, X: Any) -> Any:
        """Probabilities (n, L) float32 for every label seen so far, in :attr:`labels` order; a
        DataFrame (columns = label names, X's index) when ``X`` is a DataFrame. Unknown feature
        columns are ignored."""
        return self._score_many(X, proba=True)

    def predict_many(self, X: Any) -> Any:
        """Decisions ``p > threshold`` (n, L) bool, or a DataFrame of bools when X is one."""
        return self._score_many(X, proba=False)

    # ------------------------------------------------------------------ persistence
    def _payload(self) -> dict:
        params = self._get_params()
        params["device"] = str(params["device"])
        params["hidden"] = tuple(int(h) for h in params["hidden"])
        if self._engine is not None:
            engine_state = self._engine.get_state()
        else:
            engine_state = self._engine_state
        return {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "params": params,
            "features": list(self._features.names),
            "labels": list(self._label_names),
            "engine": engine_state,
            "buffer": self._buffer.to_plain(),
        }

    def _restore(self, payload: dict) -> None:
        self._reset()
        if payload["features"]:
            self._features.encode(dict.fromkeys(payload["features"], 1.0))
        if list(self._features.names) != list(payload["features"]):
            raise ValueError("feature names do not rebuild into the same index")
        for name in payload["labels"]:
            self._label_id(name)
        self._engine_state = payload["engine"]
        self._buffer.load_plain(payload["buffer"])

    def save(
        self, path: str | os.PathLike, metadata: dict | None = None, key: bytes | None = None
    ) -> int:
        """Write an atomic, checksummed checkpoint (optionally HMAC-signed with ``key``) of plain
        data: parameters and optimizer state as numpy arrays, feature and label names, pending
        instances. Returns the bytes written."""
        return save_checkpoint(path, self._payload(), metadata=metadata, key=key)

    @classmethod
    def load(
        cls, path: str | os.PathLike, key: bytes | None = None, device: Any = None
    ) -> NeuralMultiLabelClassifier:
        """Load a checkpoint written by :meth:`save`, verified before it is unpickled; ``device``
        overrides the saved device. Raises :class:`ihomer.checkpoint.CheckpointError` (file and
        reason) on a corrupt, truncated, foreign or inconsistent checkpoint."""
        payload, _ = load_checkpoint(path, key=key)
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise CheckpointError(path, f"not a {_FORMAT} checkpoint")
        if payload.get("format_version") != _FORMAT_VERSION:
            raise CheckpointError(
                path, f"unsupported {_FORMAT} version {payload.get('format_version')}"
            )
        try:
            params = dict(payload["params"])
            if device is not None:
                params["device"] = device
            model = cls(**params)
            model._restore(payload)
            if model._engine_state is not None:
                _ = model.engine  # builds the network and checks every array's shape now
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(path, f"inconsistent payload: {type(e).__name__}: {e}") from e
        return model

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if self._engine is not None:
            state["_engine_state"] = self._engine.get_state()
        state["_engine"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
