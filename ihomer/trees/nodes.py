"""Nodes of the multi-label Hoeffding tree: leaves (split statistics + adaptive leaf model) and
binary split nodes (routing). Every node carries its own ADWIN and, after a drift, an alternate
(background) subtree. Nodes hold plain data (numpy arrays, dicts) so trees pickle.

Routing semantics: an absent feature is 0; an explicitly missing feature goes to the branch that
held more weight when the split was made.
"""

from __future__ import annotations

from typing import Any

from river.drift import ADWIN

from ihomer.trees.leaf_models import LeafModel
from ihomer.trees.observers import ZERO_SPLIT, LeafStats

__all__ = ["Leaf", "Split", "iter_nodes", "count_nodes"]


class Leaf:
    """A leaf: split statistics (``None`` once it may no longer split) and its leaf model."""

    __slots__ = ("depth", "adwin", "alt", "stats", "model", "since", "keys", "wait")

    def __init__(
        self, depth: int, stats: LeafStats | None, model: LeafModel, adwin: ADWIN | None
    ) -> None:
        self.depth = depth
        self.adwin = adwin
        self.alt: Leaf | Split | None = None
        self.stats = stats
        self.model = model
        self.since = 0.0  # weight seen since the last split attempt
        self.wait = 0.0  # weight between split attempts (0: the tree's grace period)
        self.keys: set[bytes] = set()  # distinct label sets seen (for the Hoeffding range R)

    def __setstate__(self, state: tuple) -> None:
        _, slots = state
        for name, value in slots.items():
            setattr(self, name, value)
        if "wait" not in slots:  # (pickled before the split-attempt back-off)
            self.wait = 0.0


class Split:
    """A binary split: ``kind`` ZERO_SPLIT (left: x == 0) or THRESHOLD_SPLIT (left: x <= t)."""

    __slots__ = (
        "depth", "adwin", "alt", "feature", "kind", "threshold", "missing_left", "left", "right",
    )  # fmt: skip

    def __init__(
        self,
        depth: int,
        feature: int,
        kind: int,
        threshold: float,
        missing_left: bool,
        left: Any,
        right: Any,
        adwin: ADWIN | None,
    ) -> None:
        self.depth = depth
        self.adwin = adwin
        self.alt: Leaf | Split | None = None
        self.feature = feature
        self.kind = kind
        self.threshold = threshold
        self.missing_left = missing_left
        self.left = left
        self.right = right

    def goes_left(self, lookup: dict[int, float], missing: frozenset | set) -> bool:
        f = self.feature
        if missing and f in missing:
            return self.missing_left
        v = lookup.get(f, 0.0)
        if self.kind == ZERO_SPLIT:
            return v == 0.0
        return v <= self.threshold


def iter_nodes(node: Any, with_alt: bool = True):
    """Yield every node of the subtree (and, with ``with_alt``, of the alternate subtrees)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if n is None:
            continue
        yield n
        if with_alt and n.alt is not None:
            stack.append(n.alt)
        if isinstance(n, Split):
            stack.append(n.left)
            stack.append(n.right)


def count_nodes(node: Any, with_alt: bool = True) -> int:
    return sum(1 for _ in iter_nodes(node, with_alt))
