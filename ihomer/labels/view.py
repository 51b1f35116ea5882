"""A public, read-only view of an iHOMER model's label hierarchy and of its history.

This module owns :func:`hierarchy` (what the label clusters are now, how the ODAC tree of label
clusters looks, and when each split, merge and re-partition happened) and :class:`LabelHierarchy`
(its text summary, Graphviz dot and JSON form). It copies what it reads, so the view never changes
the model and stays valid after the model learns more.

Everything it needs from the model's private state is read in the few ``_read_*`` functions at the
top (the *accessor layer*): the model core may change its internals, and only these functions then
need to follow. Where a structure is not there (another model, another version), the view falls
back on the public API (``model.partition``, ``model.events``) and says so (``detail="partition"``).
It must not modify the model.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["hierarchy", "LabelHierarchy", "HierarchyNode", "StructureChange", "model_labels"]

#: The event kinds that change the label structure (the history of the hierarchy).
STRUCTURE_KINDS = ("label_added", "cluster_split", "cluster_merge", "repartition")


# -- accessor layer: the only code that reads model internals ----------------------------------
def _read_labels(model: Any) -> list[Hashable] | None:
    labels = getattr(model, "__dict__", {}).get("_labels")
    return list(labels) if isinstance(labels, list) else None


def _read_tree(model: Any) -> tuple[Any, list[Hashable]] | None:
    """The ODAC tree of the model's label space and the label of each label index, or None."""
    space = getattr(model, "__dict__", {}).get("_space")
    tree = getattr(space, "_tree", None) if space is not None else None
    labels = getattr(space, "_labels", None) if space is not None else None
    nodes = getattr(tree, "nodes", None)
    if not isinstance(nodes, dict) or labels is None:
        return None
    return tree, list(labels)


def _read_events(model: Any) -> list[Any]:
    """The model's structural events, without creating the state of an untrained model."""
    state = getattr(model, "__dict__", {})
    if "_events" in state or hasattr(type(model), "_init_state"):
        log = state.get("_events")
    else:
        log = getattr(model, "events", None)
    return list(getattr(log, "events", None) or [])


def _read_min_size(model: Any) -> int | None:
    space = getattr(model, "__dict__", {}).get("_space")
    value = getattr(space, "current_min_size", None)
    return int(value) if isinstance(value, int) else None


# -- the view --------------------------------------------------------------------------------------
def model_labels(model: Any) -> list[Hashable] | None:
    """Every label the model has seen, in first-seen order (None for a model that does not say).

    >>> from ihomer import IHOMER
    >>> model = IHOMER()
    >>> model.learn_one({"a": 1.0}, {"x": True, "y": False})
    >>> model_labels(model)
    ['x', 'y']
    """
    return _read_labels(model)


@dataclass(frozen=True)
class HierarchyNode:
    """One cluster of the ODAC label tree.

    Attributes
    ----------
    id
        Node id (the root is 0).
    parent
        Parent id, None for the root.
    depth
        0 for the root.
    labels
        Every label under this node (an inner node: the union of its children's).
    children
        Child ids (empty for an active cluster, a leaf of the tree).
    active
        Whether it is a leaf of the tree (an active ODAC cluster).
    d1_at_split
        The largest pairwise Jaccard distance when it split (None for an active cluster).
    """

    id: int
    parent: int | None
    depth: int
    labels: tuple[Hashable, ...]
    children: tuple[int, ...]
    active: bool
    d1_at_split: float | None = None


@dataclass(frozen=True)
class StructureChange:
    """One change of the label structure: ``n`` = instances learned when it happened."""

    n: int
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LabelHierarchy:
    """What :func:`hierarchy` returns (a copy: it does not follow the model afterwards).

    Attributes
    ----------
    partition
        The clusters the model learns with now (disjoint, every label in exactly one); each has
        its own learner. ODAC's active clusters smaller than ``min_size`` are merged into a near
        cluster to form them.
    nodes
        The ODAC tree of label clusters by id (empty with ``detail="partition"``).
    history
        The structural changes in order: ``cluster_split`` (with the pivots, the Hoeffding
        bound ...), ``cluster_merge``, ``repartition`` (the learning partition changed) and
        ``label_added``. Bounded by the model's event log (the last 10,000 events).
    n_learned
        Instances the model had learned.
    min_size
        The smallest learning cluster the refinement allows now (None when unknown).
    detail
        ``"tree"`` when the ODAC tree was read, ``"partition"`` when only the public partition
        and events were available.
    """

    partition: tuple[tuple[Hashable, ...], ...]
    nodes: dict[int, HierarchyNode]
    history: tuple[StructureChange, ...]
    n_learned: int
    min_size: int | None
    detail: str

    @property
    def active(self) -> list[HierarchyNode]:
        """The active ODAC clusters (leaves of the tree), ordered by id."""
        return [n for n in self.nodes.values() if n.active]

    def splits_and_merges(self) -> list[StructureChange]:
        """The ``cluster_split`` and ``cluster_merge`` changes."""
        return [c for c in self.history if c.kind in ("cluster_split", "cluster_merge")]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy (labels as strings)."""

        def clean(v: Any) -> Any:
            if isinstance(v, dict):
                return {str(k): clean(x) for k, x in v.items()}
            if isinstance(v, list | tuple):
                return [clean(x) for x in v]
            if isinstance(v, bool | int | float | str) or v is None:
                return v
            return str(v)

        return clean({
            "partition": self.partition,
            "nodes": [asdict(n) for n in self.nodes.values()],
            "history": [asdict(c) for c in self.history],
            "n_learned": self.n_learned,
            "min_size": self.min_size,
            "detail": self.detail,
        })  # fmt: skip

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def summary(self, max_labels: int = 8) -> str:
        """A text summary: the learning clusters, the ODAC tree, and the structural history.

        ``max_labels``: labels listed per cluster before ``...``.
        """

        def names(labels: tuple) -> str:
            shown = ", ".join(map(str, labels[:max_labels]))
            return shown + (f", ... ({len(labels)} labels)" if len(labels) > max_labels else "")

        lines = [f"{len(self.partition)} learning cluster(s) after {self.n_learned:,d} instances"
                 + (f" (smallest allowed size {self.min_size})" if self.min_size else "") + ":"]
        for i, c in enumerate(self.partition):
            lines.append(f"  cluster {i}: {len(c)} label(s): {names(c)}")
        if self.nodes:
            active = self.active
            lines.append(f"ODAC label tree: {len(self.nodes)} node(s), {len(active)} active "
                         "cluster(s) (the learning clusters merge the active ones smaller "
                         "than the smallest allowed size):")  # fmt: skip
            lines += _tree_lines(self.nodes, names)
        counts: dict[str, int] = {}
        for c in self.history:
            counts[c.kind] = counts.get(c.kind, 0) + 1
        lines.append("history: " + (", ".join(f"{k}={v}" for k, v in counts.items()) or "none"))
        for c in self.history:
            if c.kind == "label_added":
                continue
            lines.append(f"  at {c.n:>7,d}: {_describe(c)}")
        return "\n".join(lines)

    def to_dot(self) -> str:
        """The ODAC tree as Graphviz dot (``dot -Tpng``); active clusters are boxes."""
        out = ["digraph label_hierarchy {", '  node [fontname="Helvetica", fontsize=10];']
        for n in self.nodes.values():
            shape = "box" if n.active else "ellipse"
            text = f"#{n.id}: {len(n.labels)} label(s)"
            if n.active:
                text += "\\n" + _dot_escape(", ".join(map(str, n.labels[:6]))
                                            + (", ..." if len(n.labels) > 6 else ""))
            elif n.d1_at_split is not None:
                text += f"\\nd1 at split {n.d1_at_split:.3f}"
            out.append(f'  n{n.id} [shape={shape}, label="{text}"];')
        for n in self.nodes.values():
            for c in n.children:
                out.append(f"  n{n.id} -> n{c};")
        out.append("}")
        return "\n".join(out)


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _tree_lines(nodes: dict[int, HierarchyNode], names) -> list[str]:
    roots = [n for n in nodes.values() if n.parent is None or n.parent not in nodes]
    lines: list[str] = []
    stack = [(r, 1) for r in reversed(roots)]
    while stack:
        node, level = stack.pop()
        pad = "  " * level
        if node.active:
            lines.append(f"{pad}#{node.id} active: {names(node.labels)}")
        else:
            d1 = f", d1 at split {node.d1_at_split:.3f}" if node.d1_at_split is not None else ""
            lines.append(f"{pad}#{node.id} split into {len(node.children)}{d1} "
                         f"({len(node.labels)} labels)")  # fmt: skip
        stack += [(nodes[c], level + 1) for c in reversed(node.children) if c in nodes]
    return lines


def _describe(c: StructureChange) -> str:
    d = c.detail
    if c.kind == "cluster_split":
        sizes = tuple(d.get("sizes", ("?", "?")))
        pivots = d.get("pivots")
        pv = f", pivots {pivots[0]} / {pivots[1]}" if pivots else ""
        parts = " + ".join(map(str, sizes[:6])) + (f" + ... ({len(sizes)} parts)"
                                                   if len(sizes) > 6 else "")  # fmt: skip
        return (f"split a cluster of {d.get('size', '?')} into {parts} "
                f"(rule {d.get('rule', 'odac')}, d1 {d.get('d1', float('nan')):.3f}, "
                f"bound {d.get('eps', float('nan')):.3f}{pv})")  # fmt: skip
    if c.kind == "cluster_merge":
        return (f"merged back into one cluster of {d.get('size', '?')} labels "
                f"({d.get('n_dropped', '?')} node(s) dropped)")  # fmt: skip
    if c.kind == "repartition":
        return (f"learning partition now {d.get('n_clusters', '?')} cluster(s) "
                f"(smallest allowed size {d.get('min_size', '?')})")  # fmt: skip
    return c.kind


def hierarchy(model: Any) -> LabelHierarchy:
    """A read-only view of ``model``'s label clusters, ODAC tree and structural history.

    Parameters
    ----------
    model
        An :class:`ihomer.IHOMER` (trained or not). Any object with ``partition`` (and
        optionally ``events`` and ``n_learned``) gives the partition-only view.

    Examples
    --------
    >>> from river import datasets
    >>> from ihomer import IHOMER
    >>> model = IHOMER(n_min=50)
    >>> for x, y in datasets.Yeast().take(600):
    ...     model.learn_one(x, y)
    >>> h = hierarchy(model)
    >>> sorted(lab for c in h.partition for lab in c) == sorted(model_labels(model))
    True
    >>> h.detail, all(set(n.labels) == {l for c in n.children for l in h.nodes[c].labels}
    ...                for n in h.nodes.values() if not n.active)
    ('tree', True)
    >>> "learning cluster(s) after 600 instances" in h.summary().splitlines()[0]
    True
    """
    partition = tuple(tuple(c) for c in (getattr(model, "partition", None) or []))
    events = _read_events(model)
    history = tuple(
        StructureChange(int(e.n), e.kind, dict(e.detail))
        for e in events
        if e.kind in STRUCTURE_KINDS
    )
    n_learned = int(getattr(model, "n_learned", 0) or 0)
    read = _read_tree(model)
    nodes: dict[int, HierarchyNode] = {}
    if read is not None:
        tree, labels = read
        raw = tree.nodes

        def under(node_id: int) -> list[int]:
            node = raw[node_id]
            if node.children is None:
                return list(node.labels)
            return [g for c in node.children for g in under(c)]

        for node_id in sorted(raw):
            node = raw[node_id]
            active = node.children is None
            if active and not node.labels and node.parent is None and len(raw) == 1 and not labels:
                continue  # an untrained model: no cluster yet
            d1 = None if active else float(node.d1_split)
            nodes[node_id] = HierarchyNode(
                id=int(node_id),
                parent=None if node.parent is None else int(node.parent),
                depth=int(node.depth),
                labels=tuple(labels[g] for g in sorted(under(node_id))),
                children=tuple(int(c) for c in (node.children or ())),
                active=active,
                d1_at_split=d1,
            )
    return LabelHierarchy(
        partition=partition,
        nodes=nodes,
        history=history,
        n_learned=n_learned,
        min_size=_read_min_size(model),
        detail="tree" if read is not None else "partition",
    )
