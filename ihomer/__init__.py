"""ihomer: streaming online multi-label learning (iHOMER), river-compatible."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["IHOMER", "__version__"]


def __getattr__(name: str):
    if name == "IHOMER":
        from ihomer.model import IHOMER

        return IHOMER
    raise AttributeError(name)
