"""The growable MLP engine shared by the neural classifier and the neural cluster learner.

This module owns the torch side of the neural scorer: the parameters of an MLP with per-label
sigmoid outputs, their growth (new input columns, new output rows, optimizer moments padded to
match), online feature standardisation (running mean/variance kept on the device), one optimizer
step per host batch, host-to-device staging (pinned, double-buffered, ``non_blocking`` copies on
CUDA) and conversion of the whole state to plain numpy data for checkpoints. It takes dense numpy
batches whose columns are already aligned; it must not know feature or label *names*.

torch is imported lazily by :func:`ihomer.neural.device.import_torch` when an engine is built.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from typing import Any

import numpy as np

from ihomer.neural.device import apply_threads, import_torch, resolve_amp, resolve_device

__all__ = ["MLPEngine", "OPTIMIZERS"]

OPTIMIZERS = ("adam", "adamw", "sgd")
_VAR_EPS = 1e-12


def _to_numpy_tree(obj: Any) -> Any:
    """Tensors inside dicts/lists/tuples become numpy arrays (plain data for checkpoints)."""
    torch = import_torch()
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu()
        if t.dtype == torch.bfloat16:
            t = t.float()
        return t.numpy().copy()
    if isinstance(obj, dict):
        return {k: _to_numpy_tree(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_numpy_tree(v) for v in obj)
    return obj


def _to_torch_tree(obj: Any) -> Any:
    torch = import_torch()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, dict):
        return {k: _to_torch_tree(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_torch_tree(v) for v in obj)
    return obj


class MLPEngine:
    """An MLP ``n_in -> hidden... -> n_out`` (ReLU, per-output logits) trained online.

    Parameters
    ----------
    n_in, n_out
        Initial input width and number of outputs (both may grow later, see :meth:`ensure`).
    hidden
        Hidden layer widths; ``()`` gives a per-label logistic regression.
    lr, optimizer, weight_decay
        Optimizer settings; ``optimizer`` is one of ``"adam"``, ``"adamw"``, ``"sgd"``.
    device
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
    amp
        ``"auto"`` (bf16 autocast on CUDA, float32 on CPU), ``"bf16"`` (CUDA only) or ``"off"``.
    standardize
        Standardise inputs with running mean/variance (updated on every training batch; a missing
        value, NaN, is imputed with the running mean).
    seed
        Seeds a private ``torch.Generator`` used for every random initialisation.
    threads
        ``torch.set_num_threads`` on the CPU (process-wide); ``None`` leaves it alone.

    Notes
    -----
    New output rows start at zero weight and bias, so a label not trained on yet has p = 0.5.
    New input columns start at zero in a linear model and small uniform values in the first hidden
    layer: earlier instances had the feature absent (= 0), so growing never changes a prediction.

    Examples
    --------
    >>> import numpy as np
    >>> eng = MLPEngine(3, 2, hidden=(8,), device="cpu", seed=0)
    >>> eng.train(np.ones((4, 3), np.float32), np.ones((4, 2), bool))
    >>> eng.ensure(5, 3)
    >>> eng.predict_proba(np.zeros((1, 5), np.float32)).shape
    (1, 3)
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        hidden: tuple[int, ...] = (256,),
        lr: float = 1e-3,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
        device: Any = "auto",
        amp: str = "auto",
        standardize: bool = True,
        seed: int = 0,
        threads: int | None = 1,
    ) -> None:
        torch = import_torch()
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={optimizer!r}: expected one of {OPTIMIZERS}")
        self._torch = torch
        self.device = resolve_device(device)
        self.amp_dtype = resolve_amp(amp, self.device)
        apply_threads(threads, self.device)
        self._cuda = self.device.type == "cuda"
        self.hidden = tuple(int(h) for h in hidden)
        self.lr = float(lr)
        self.optimizer_name = optimizer
        self.weight_decay = float(weight_decay)
        self.standardize = bool(standardize)
        self._gen = torch.Generator().manual_seed(int(seed))
        self.n_in = int(n_in)
        self.n_out = int(n_out)
        self.steps = 0
        self._last_loss = None
        self._stage: dict[str, dict] = {}
        self._params = self._init_params()
        self._opt = self._make_optimizer(self._params)
        self._init_stats()

    # ---------------------------------------------------------------- construction
    def _uniform(self, shape: tuple[int, ...], bound: float) -> Any:
        t = self._torch.empty(shape, dtype=self._torch.float32)
        if t.numel():
            t.uniform_(-bound, bound, generator=self._gen)
        return t

    def _init_params(self) -> list:
        torch = self._torch
        sizes = [self.n_in, *self.hidden]
        params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            bound = 1.0 / math.sqrt(max(fan_in, 1))
            params.append(self._uniform((fan_out, fan_in), bound))
            params.append(self._uniform((fan_out,), bound))
        params.append(torch.zeros((self.n_out, sizes[-1])))  # output rows start at p = 0.5
        params.append(torch.zeros((self.n_out,)))
        return [p.to(self.device).requires_grad_() for p in params]

    def _make_optimizer(self, params: list) -> Any:
        optim = self._torch.optim
        if self.optimizer_name == "adam":
            return optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        if self.optimizer_name == "adamw":
            return optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        return optim.SGD(params, lr=self.lr, weight_decay=self.weight_decay)

    def _init_stats(self) -> None:
        torch = self._torch
        self._n = 0
        self._mean64 = torch.zeros(self.n_in, dtype=torch.float64, device=self.device)
        self._m2 = torch.zeros(self.n_in, dtype=torch.float64, device=self.device)
        self._mu = torch.zeros(self.n_in, dtype=torch.float32, device=self.device)
        self._inv = torch.ones(self.n_in, dtype=torch.float32, device=self.device)

    # ---------------------------------------------------------------- growth
    def _replace_param(self, i: int, data: Any) -> None:
        """Swap parameter ``i`` for ``data`` (a larger tensor holding the old values), carrying the
        optimizer state over with the new entries at zero."""
        torch = self._torch
        old = self._params[i]
        new = data.to(self.device).requires_grad_()
        state = self._opt.state.pop(old, None)
        if state:
            grown = {}
            for k, v in state.items():
                if isinstance(v, torch.Tensor) and v.shape == old.shape:
                    pad = torch.zeros(new.shape, dtype=v.dtype, device=v.device)
                    pad[tuple(slice(0, s) for s in old.shape)] = v
                    v = pad
                grown[k] = v
            self._opt.state[new] = grown
        self._params[i] = new
        group_params = self._opt.param_groups[0]["params"]
        j = next(j for j, q in enumerate(group_params) if q is old)
        group_params[j] = new

    def ensure(self, n_in: int, n_out: int) -> None:
        """Grow to at least ``n_in`` inputs and ``n_out`` outputs (never shrinks)."""
        torch = self._torch
        with torch.no_grad():
            if n_in > self.n_in:
                k = n_in - self.n_in
                w = self._params[0].detach()
                if self.hidden:
                    cols = self._uniform((w.shape[0], k), 1.0 / math.sqrt(n_in))
                else:
                    cols = torch.zeros((w.shape[0], k))
                self._replace_param(0, torch.cat([w, cols.to(self.device)], dim=1))
                pad64 = torch.zeros(k, dtype=torch.float64, device=self.device)
                self._mean64 = torch.cat([self._mean64, pad64])
                self._m2 = torch.cat([self._m2, pad64])
                self.n_in = n_in
                self._refresh_scale()
            if n_out > self.n_out:
                k = n_out - self.n_out
                w = self._params[-2].detach()
                b = self._params[-1].detach()
                zw = torch.zeros((k, w.shape[1]), device=self.device)
                zb = torch.zeros((k,), device=self.device)
                self._replace_param(len(self._params) - 2, torch.cat([w, zw], dim=0))
                self._replace_param(len(self._params) - 1, torch.cat([b, zb], dim=0))
                self.n_out = n_out

    # ---------------------------------------------------------------- standardisation
    def _refresh_scale(self) -> None:
        torch = self._torch
        self._mu = self._mean64.float()
        if self._n:
            var = self._m2 / self._n
            inv = torch.where(var > _VAR_EPS, var.clamp_min(_VAR_EPS).rsqrt(), 1.0)
        else:
            inv = torch.ones_like(self._mean64)
        self._inv = inv.float()

    def _prepare(self, x: Any, update: bool) -> Any:
        """Impute NaN with the running mean, update the running statistics, standardise.

        Works on ``d = x - mean`` (never in place on ``x``, which may share the caller's memory):
        a NaN becomes d = 0, i.e. the running mean; the batch's moments are taken on ``d``
        (shifted data: no cancellation), merged into the running ones (Chan et al.), and the output
        ``(x - new mean) / std`` is one fused multiply-add on ``d``."""
        torch = self._torch
        if not self.standardize:
            return torch.nan_to_num(x, nan=0.0)
        mu_old = self._mu
        if update and self._n == 0:  # no running mean yet: shift (and impute) by the batch's own
            mu_old = torch.nanmean(x, dim=0).nan_to_num_(0.0)
        d = (x - mu_old).nan_to_num_(0.0)
        if not update:
            return d.mul_(self._inv)
        m = d.shape[0]
        md = d.mean(dim=0)
        var_b = (d * d).mean(dim=0).double() - md.double().square()
        n_a = self._n
        n = n_a + m
        delta = (mu_old.double() + md.double()) - self._mean64
        self._mean64 = self._mean64 + delta * (m / n)
        self._m2 = self._m2 + var_b.clamp_min(0.0) * m + delta.square() * (n_a * m / n)
        self._n = n
        self._refresh_scale()
        shift = (self._mu - mu_old) * self._inv
        return torch.addcmul(-shift, d, self._inv)

    # ---------------------------------------------------------------- host -> device
    def _h2d(self, arr: np.ndarray, slot: str, dtype: Any) -> Any:
        """A device tensor holding ``arr`` as ``dtype``.

        On the CPU this is a zero-copy view when ``arr`` already has the right dtype. On CUDA the
        array is copied (and converted) into one of two reused pinned host buffers for ``slot``,
        then sent with ``non_blocking=True``; an event per buffer makes the next reuse wait for that
        copy only, so host preparation of batch k+1 overlaps the device work of batch k.
        """
        torch = self._torch
        if arr.flags.writeable:
            src = torch.from_numpy(arr)
        else:  # read-only input (e.g. a pandas view): torch warns, but we never write into it
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                src = torch.from_numpy(arr)
        if not self._cuda:
            return src if src.dtype == dtype else src.to(dtype)
        st = self._stage.get(slot)
        if st is None:
            st = self._stage[slot] = {"buf": [None, None], "ev": [None, None], "i": 0}
        i = st["i"]
        st["i"] = 1 - i
        if st["ev"][i] is not None:
            st["ev"][i].synchronize()
        buf = st["buf"][i]
        numel = src.numel()
        if buf is None or buf.numel() < numel or buf.dtype != dtype:
            buf = torch.empty(max(numel, 1), dtype=dtype, pin_memory=True)
            st["buf"][i] = buf
        view = buf[:numel].view(src.shape)
        view.copy_(src)
        out = view.to(self.device, non_blocking=True)
        if st["ev"][i] is None:
            st["ev"][i] = torch.cuda.Event()
        st["ev"][i].record()
        return out

    def _autocast(self) -> Any:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return self._torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _forward(self, xs: Any) -> Any:
        F = self._torch.nn.functional
        p = self._params
        h = xs
        for i in range(len(self.hidden)):
            h = F.relu(F.linear(h, p[2 * i], p[2 * i + 1]))
        return F.linear(h, p[-2], p[-1])

    # ---------------------------------------------------------------- train / score
    def train(self, x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> None:
        """One optimizer step on a host batch: ``x`` (m, n_in) float, ``y`` (m, n_out) bool,
        optional per-row weights ``w`` (m,). The loss is the per-label binary cross-entropy summed
        over labels and averaged over rows. Does not synchronise with the device."""
        torch = self._torch
        m = x.shape[0]
        if m == 0:
            return
        if x.shape[1] != self.n_in or y.shape[1] != self.n_out or y.shape[0] != m:
            raise ValueError(
                f"batch shapes x{tuple(x.shape)} y{tuple(y.shape)} do not match the network "
                f"({self.n_in} inputs, {self.n_out} outputs)"
            )
        xt = self._h2d(x, "x", torch.float32)
        yt = self._h2d(y, "y", torch.bool).to(torch.float32)
        weight = None
        if w is not None:
            weight = self._h2d(np.asarray(w, dtype=np.float32), "w", torch.float32)[:, None]
        with torch.no_grad():
            xs = self._prepare(xt, update=True)
        with self._autocast():
            logits = self._forward(xs)
        loss = (
            torch.nn.functional.binary_cross_entropy_with_logits(
                logits.float(), yt, weight=weight, reduction="sum"
            )
            / m
        )
        self._opt.zero_grad(set_to_none=True)
        loss.backward()
        self._opt.step()
        self._last_loss = loss.detach()
        self.steps += 1

    def _logits(self, x: np.ndarray) -> Any:
        torch = self._torch
        if x.shape[1] != self.n_in:
            raise ValueError(f"x has {x.shape[1]} columns, the network has {self.n_in} inputs")
        xt = self._h2d(x, "xp", torch.float32)
        xs = self._prepare(xt, update=False)
        with self._autocast():
            return self._forward(xs).float()

    def _to_host(self, t: Any, dtype: Any) -> np.ndarray:
        if not self._cuda:
            return t.numpy()
        out = np.empty(tuple(t.shape), dtype=dtype)
        self._torch.from_numpy(out).copy_(t)
        return out

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Per-output probabilities, float32 (m, n_out)."""
        torch = self._torch
        with torch.inference_mode():
            return self._to_host(torch.sigmoid(self._logits(x)), np.float32)

    def predict(self, x: np.ndarray, threshold: float = 0.5) -> np.ndarray:
        """Per-output decisions ``p > threshold``, bool (m, n_out); thresholds on the device."""
        torch = self._torch
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold={threshold} must lie strictly between 0 and 1")
        cut = math.log(threshold / (1.0 - threshold))
        with torch.inference_mode():
            return self._to_host(self._logits(x) > cut, np.bool_)

    @property
    def last_loss(self) -> float | None:
        """Loss of the last training step (synchronises with the device)."""
        return None if self._last_loss is None else float(self._last_loss)

    def synchronize(self) -> None:
        """Wait for queued device work (a no-op on the CPU)."""
        if self._cuda:
            self._torch.cuda.synchronize(self.device)

    def memory_bytes(self) -> int:
        """Bytes held by parameters, optimizer moments and standardisation statistics."""
        torch = self._torch
        total = sum(p.numel() * p.element_size() for p in self._params)
        for st in self._opt.state.values():
            for v in st.values():
                if isinstance(v, torch.Tensor):
                    total += v.numel() * v.element_size()
        for t in (self._mean64, self._m2, self._mu, self._inv):
            total += t.numel() * t.element_size()
        return int(total)

    # ---------------------------------------------------------------- plain-data state
    def get_state(self) -> dict:
        """Everything needed to resume, as plain data (numpy arrays, ints, dicts)."""
        return {
            "n_in": self.n_in,
            "n_out": self.n_out,
            "hidden": list(self.hidden),
            "params": [p.detach().cpu().numpy().copy() for p in self._params],
            "optimizer": _to_numpy_tree(self._opt.state_dict()),
            "n": self._n,
            "mean": self._mean64.cpu().numpy().copy(),
            "m2": self._m2.cpu().numpy().copy(),
            "generator": self._gen.get_state().numpy().copy(),
            "steps": self.steps,
        }

    def set_state(self, state: dict) -> None:
        """Load :meth:`get_state` output into an engine built with the same hidden sizes.

        Raises ValueError naming the first field that does not fit."""
        torch = self._torch
        if list(state["hidden"]) != list(self.hidden):
            raise ValueError(f"hidden sizes {state['hidden']} != {list(self.hidden)}")
        if self.n_in > state["n_in"] or self.n_out > state["n_out"]:
            raise ValueError(
                f"state has {state['n_in']} inputs and {state['n_out']} outputs, fewer than this "
                f"engine's {self.n_in} and {self.n_out}"
            )
        self.ensure(int(state["n_in"]), int(state["n_out"]))
        if len(state["params"]) != len(self._params):
            raise ValueError(
                f"{len(state['params'])} parameter arrays, expected {len(self._params)}"
            )
        with torch.no_grad():
            for i, (p, a) in enumerate(zip(self._params, state["params"], strict=True)):
                if tuple(a.shape) != tuple(p.shape):
                    raise ValueError(
                        f"parameter {i} has shape {a.shape}, expected {tuple(p.shape)}"
                    )
                p.copy_(torch.from_numpy(np.asarray(a, dtype=np.float32)))
        self._opt.load_state_dict(_to_torch_tree(state["optimizer"]))
        mean = np.asarray(state["mean"], dtype=np.float64)
        m2 = np.asarray(state["m2"], dtype=np.float64)
        if mean.shape != (self.n_in,) or m2.shape != (self.n_in,):
            raise ValueError(f"standardisation statistics do not have {self.n_in} entries")
        self._n = int(state["n"])
        self._mean64 = torch.from_numpy(mean.copy()).to(self.device)
        self._m2 = torch.from_numpy(m2.copy()).to(self.device)
        self._refresh_scale()
        self._gen.set_state(torch.from_numpy(np.asarray(state["generator"], dtype=np.uint8)))
        self.steps = int(state["steps"])


def ensure_engine(owner: Any, n_in: int, n_out: int) -> MLPEngine:
    """Build ``owner._engine`` from its parameters on first use (restoring ``owner._engine_state``
    after a checkpoint or unpickling), then grow it to ``n_in`` inputs and ``n_out`` outputs.

    ``owner`` is a :class:`~ihomer.neural.NeuralMultiLabelClassifier` or a
    :class:`~ihomer.neural.NeuralClusterLearner`: both carry the same network parameters.
    """
    if owner._engine is None:
        restoring = owner._engine_state is not None
        owner._engine = MLPEngine(
            0 if restoring else n_in,
            0 if restoring else n_out,
            hidden=tuple(owner.hidden),
            lr=owner.lr,
            optimizer=owner.optimizer,
            weight_decay=owner.weight_decay,
            device=owner.device,
            amp=owner.amp,
            standardize=owner.standardize,
            seed=owner.seed,
            threads=owner.threads,
        )
        if restoring:
            owner._engine.set_state(owner._engine_state)
            owner._engine_state = None
    owner._engine.ensure(n_in, n_out)
    return owner._engine


def train_pending(owner: Any) -> None:
    """One training step on ``owner._buffer`` (the buffered ``learn_one`` instances), then clear
    it; nothing when it is empty."""
    if not len(owner._buffer):
        return
    engine = owner.engine
    x, y, w = owner._buffer.dense(engine.n_in, engine.n_out)
    engine.train(x, y, w)
    owner._buffer.clear()
