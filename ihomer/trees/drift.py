"""Node-level drift handling of the multi-label Hoeffding adaptive tree: when to start a background
subtree and when it replaces (or is dropped in favour of) the node it shadows.

The test is the one of Hoeffding adaptive trees (Bifet & Gavaldà 2009, river's HAT): both ADWIN
windows long enough, and the difference of their mean errors beyond a Hoeffding-style bound.
"""

from __future__ import annotations

import math

from river.drift import ADWIN

__all__ = ["SWAP", "DISCARD", "WAIT", "swap_decision", "error_increased"]

SWAP, DISCARD, WAIT = 1, -1, 0


def swap_decision(node: ADWIN, alt: ADWIN, min_width: int, confidence: float = 0.05) -> int:
    """SWAP when the alternate's error is significantly lower, DISCARD when significantly higher.

    Examples
    --------
    >>> a, b = ADWIN(), ADWIN()
    >>> for i in range(400):
    ...     a.update(0.6 if i % 5 else 0.0)
    ...     b.update(0.1 if i % 5 else 0.0)
    >>> swap_decision(a, b, min_width=300)
    1
    """
    n_old, n_alt = node.width, alt.width
    if n_old < min_width or n_alt < min_width:
        return WAIT
    old, new = node.estimation, alt.estimation
    var = max(old * (1.0 - old), 1e-12)
    bound = math.sqrt(2.0 * var * math.log(2.0 / confidence) * (1.0 / n_old + 1.0 / n_alt))
    if old - new > bound:
        return SWAP
    if new - old > bound:
        return DISCARD
    return WAIT


def error_increased(before: float, after: float) -> bool:
    """A detection only starts a background subtree when the error went up."""
    return after > before
