"""Growth of the trees' per-feature arrays (rows = features) without a second copy.

A tree's per-leaf arrays (split statistics, naive Bayes parameters, linear weights) have one row
per feature and double their capacity when new features arrive. ``np.concatenate`` holds the old
and the new array at once (three times the old size at the peak); :func:`grow_rows` asks the
allocator to extend the block instead (``realloc``, which for large blocks remaps pages without
copying them), so the peak is the new size. This module owns nothing else.
"""

from __future__ import annotations

import numpy as np

__all__ = ["grow_rows"]


def grow_rows(a: np.ndarray, rows: int) -> np.ndarray:
    """``a`` with ``rows`` rows, the new ones zero: extended in place when ``a`` owns its
    C-contiguous buffer, else a new array. Only call it on arrays nothing else views.

    >>> a = np.ones((2, 3))
    >>> b = grow_rows(a, 4)
    >>> b.shape, float(b[2:].sum()), float(b[:2].sum())
    ((4, 3), 0.0, 6.0)
    >>> v = np.ones((4, 2))[:2]  # a view: copied, not resized
    >>> grow_rows(v, 3).shape, v.shape
    ((3, 2), (2, 2))
    """
    n = a.shape[0]
    if rows <= n:
        return a
    shape = (rows,) + a.shape[1:]
    if a.flags.owndata and a.flags.c_contiguous and a.base is None:
        try:
            a.resize(shape, refcheck=False)  # zero-fills the new rows
            return a
        except (ValueError, MemoryError):
            pass
    out = np.zeros(shape, dtype=a.dtype)
    out[:n] = a
    return out
