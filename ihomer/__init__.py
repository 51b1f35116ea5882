"""ihomer: streaming online multi-label learning (iHOMER), river-compatible.

``IHOMER`` is the estimator; ``save`` / ``load`` keep a trained model in a verified file
(:mod:`ihomer.persist`); ``hierarchy`` and ``cluster_trees`` show what a model learned
(:mod:`ihomer.inspection`). Everything is imported on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

from ihomer import compiled as _compiled  # noqa: E402 (before any hot module is imported)

_compiled.install()

__all__ = ["IHOMER", "__version__", "save", "load", "hierarchy", "cluster_trees"]

_LAZY = {
    "IHOMER": "ihomer.model",
    "save": "ihomer.persist",
    "load": "ihomer.persist",
    "hierarchy": "ihomer.inspection",
    "cluster_trees": "ihomer.inspection",
}


#: Submodules reachable as attributes without an import (``ihomer.persist.saved_info``).
_SUBMODULES = frozenset({"persist", "inspection", "registry", "evaluate", "metrics", "features"})


def __getattr__(name: str):
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f"ihomer.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ihomer' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
