"""The one model registry: every model name a user can type, for the CLI, the benchmark and the
daemon alike.

A *model spec* is ``name[:key=value,...]``:

* ``ihomer`` with any parameter of :class:`ihomer.IHOMER` (``ihomer:n_min=100,threshold=0.4``);
* every benchmark peer of :data:`ihomer.bench.models.MODELS` (``river-br-ht``, ``moa-mlht``, ...),
  which take no parameters;
* ``br-logreg``, the daemon's small binary-relevance stand-in
  (:class:`ihomer.serve.models.LabelwiseLogistic`, parameters ``lr`` and ``threshold``);
* ``package.module:factory``: any callable that returns a fresh river multi-label classifier.

This module owns parsing a spec and building the model; a bad spec or parameter is a
``ValueError`` that names it (never a ``TypeError`` from deep inside). It must not read streams or
print. What each benchmark peer is lives in :mod:`ihomer.bench.models`.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

__all__ = ["parse_model_spec", "build_model", "model_names", "OWN_MODELS"]

#: Models this registry builds itself (the benchmark peers come from ihomer.bench.models).
OWN_MODELS: tuple[str, ...] = ("ihomer", "br-logreg")


def _parse_value(text: str) -> Any:
    low = text.lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_model_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``"name:key=value,key=value"`` into the name and typed parameters.

    Examples
    --------
    >>> parse_model_spec("ihomer:n_min=100,threshold=0.4,empty_fallback=false")
    ('ihomer', {'n_min': 100, 'threshold': 0.4, 'empty_fallback': False})
    >>> parse_model_spec("ihomer:n_min")
    Traceback (most recent call last):
    ...
    ValueError: model spec 'ihomer:n_min': 'n_min' is not key=value
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"model spec must be a non-empty string, got {spec!r}")
    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"model spec {spec!r}: {part!r} is not key=value")
        params[key.strip()] = _parse_value(value.strip())
    return name.strip(), params


def _bench_models() -> dict[str, Any]:
    from ihomer.bench.models import MODELS

    return MODELS


def model_names() -> list[str]:
    """Every name :func:`build_model` knows (``module:factory`` aside).

    >>> names = model_names()
    >>> "ihomer" in names and "br-logreg" in names and "river-br-ht" in names
    True
    """
    return list(OWN_MODELS) + [n for n in _bench_models() if n not in OWN_MODELS]


def _construct(name: str, cls: Any, params: dict[str, Any]) -> Any:
    known = [p for p in inspect.signature(cls).parameters if p != "self"]
    unknown = [k for k in params if k not in known]
    if unknown:
        raise ValueError(
            f"model {name!r}: unknown parameter {unknown[0]!r}; known: {', '.join(known)}"
        )
    return cls(**params)


def _ihomer(params: dict[str, Any], seed: int | None) -> Any:
    from ihomer.model import IHOMER

    if "cluster_learner" in params:
        raise ValueError("model 'ihomer': cluster_learner cannot be given in a spec (use Python)")
    params = dict(params)
    if seed is not None:
        params.setdefault("seed", seed)
    return _construct("ihomer", IHOMER, params)


def _br_logreg(params: dict[str, Any], seed: int | None) -> Any:
    from ihomer.serve.models import LabelwiseLogistic

    return _construct("br-logreg", LabelwiseLogistic, params)


def _factory(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as e:
        raise ValueError(f"model {spec!r}: cannot load the factory: {e}") from None
    if not callable(factory):
        raise ValueError(f"model {spec!r}: {attr!r} is not callable")
    return factory()


def _bench_peer(name: str, params: dict, seed: int | None, stream: Any) -> Any:
    if params:
        raise ValueError(f"model {name!r} takes no parameters (got {', '.join(params)})")
    spec = _bench_models()[name]
    from ihomer.bench.models import model_available

    ok, why = model_available(name)  # e.g. the moa extra or Java missing: say so, no traceback
    if not ok:
        raise ValueError(f"model {name!r} cannot run here: {why}")
    if spec.needs_scan and stream is None:
        raise ValueError(f"model {name!r} needs the stream (its features) to be built")
    if spec.needs_scan and not hasattr(stream, "scanned_features"):
        from ihomer.bench.moa import scan_features

        scan = scan_features(stream)
        stream.scanned_features, stream.scanned_labels, stream.scanned_nominal = scan
    return spec.build(seed, stream)


def build_model(spec: str, seed: int | None = 0, stream: Any = None) -> Any:
    """A fresh model from ``spec`` (see the module docstring).

    Parameters
    ----------
    spec
        ``name[:key=value,...]`` or ``package.module:factory``.
    seed
        Given to the models that take one (``ihomer``'s ``seed`` unless the spec sets it; the
        stochastic benchmark peers); None: the model's own default.
    stream
        The opened stream, for the peers built from it (MOA's header, river-cc-lr's label order).

    Raises
    ------
    ValueError
        An unknown model or parameter, or a parameter value the model refuses.

    Examples
    --------
    >>> model = build_model("ihomer:n_min=77,threshold=0.4")
    >>> (type(model).__name__, model.n_min, model.threshold, model.seed)
    ('IHOMER', 77, 0.4, 0)
    >>> build_model("ihomer:grace_period=10")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: model 'ihomer': unknown parameter 'grace_period'; known: cluster_learner, n_min, ...
    """
    if not isinstance(spec, str):
        raise ValueError(f"model spec must be a string, got {spec!r}")
    head, _, rest = spec.strip().partition(":")
    peers = _bench_models()
    if head.strip() not in OWN_MODELS and head.strip() not in peers and rest and "=" not in rest:
        return _factory(spec.strip())
    name, params = parse_model_spec(spec)
    if name == "ihomer":
        return _ihomer(params, seed)
    if name == "br-logreg":
        return _br_logreg(params, seed)
    if name in peers:
        return _bench_peer(name, params, seed, stream)
    raise ValueError(
        f"unknown model {name!r}; known: {', '.join(model_names())} or 'package.module:factory'"
    )
