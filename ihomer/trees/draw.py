"""Read-only pictures of one multi-label Hoeffding tree: Graphviz dot (:func:`to_dot`, as river's
``draw()`` shows its trees) and an indented text summary (:func:`summary`).

This module owns turning a tree's nodes into words: a split reads ``feature <= threshold`` or
``feature == 0``; a leaf says which leaf model it uses, the weight it has seen and the labels it
would predict from its label frequencies (the weight is the leaf's faded instance weight). It reads
the nodes through :func:`_split_facts` and :func:`_leaf_facts` only (the accessor layer: the tree's
internals may change, those two follow). It never modifies the tree, and must not know about iHOMER
or the label hierarchy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["to_dot", "summary", "node_facts"]


# -- accessor layer --------------------------------------------------------------------------------
def _root(tree: Any) -> Any:
    return getattr(tree, "root", None)


def _is_split(node: Any) -> bool:
    return hasattr(node, "left") and hasattr(node, "right") and hasattr(node, "feature")


def _split_facts(node: Any) -> dict[str, Any]:
    from ihomer.trees.observers import ZERO_SPLIT

    return {
        "feature": int(node.feature),
        "zero": node.kind == ZERO_SPLIT,
        "threshold": float(node.threshold),
        "missing_left": bool(node.missing_left),
        "depth": int(node.depth),
        "has_alternate": getattr(node, "alt", None) is not None,
    }


def _leaf_facts(node: Any) -> dict[str, Any]:
    model = getattr(node, "model", None)
    facts: dict[str, Any] = {"depth": int(getattr(node, "depth", 0)), "model": "?",
                             "weight": None, "on": []}  # fmt: skip
    if model is None:
        return facts
    try:
        from ihomer.trees.leaf_models import CANDIDATES, LINEAR

        facts["model"] = CANDIDATES[min(int(model.chosen), LINEAR)]
    except (AttributeError, ImportError, IndexError, TypeError, ValueError):
        pass
    pw = getattr(model, "pw", None)
    pp = getattr(model, "pp", None)
    pg = getattr(model, "pg", 1.0)  # pw and pp are kept scaled by a growth factor (fading)
    if isinstance(pw, float | int) and pw > 0 and pp is not None:
        facts["weight"] = float(pw) / float(pg or 1.0)
        facts["on"] = [int(i) for i, p in enumerate((pp / pw).tolist()) if p > 0.5]
    facts["has_alternate"] = getattr(node, "alt", None) is not None
    return facts


# -- pictures --------------------------------------------------------------------------------------
def node_facts(tree: Any) -> list[dict[str, Any]]:
    """Every node of the active tree (alternate subtrees left out), depth first, left before
    right: ``{"id", "parent", "side", "split": {...}}`` or ``{..., "leaf": {...}}``."""
    root = _root(tree)
    if root is None:
        return []
    out: list[dict[str, Any]] = []
    stack: list[tuple[Any, int | None, str]] = [(root, None, "")]
    while stack:
        node, parent, side = stack.pop()
        entry: dict[str, Any] = {"id": len(out), "parent": parent, "side": side}
        out.append(entry)
        if _is_split(node):
            entry["split"] = _split_facts(node)
            stack.append((node.right, entry["id"], "right"))
            stack.append((node.left, entry["id"], "left"))
        else:
            entry["leaf"] = _leaf_facts(node)
    return out


def _name(names: Sequence | None, i: int, prefix: str) -> str:
    if names is not None and 0 <= i < len(names):
        return str(names[i])
    return f"{prefix}{i}"


def _test(split: dict, features: Sequence | None) -> tuple[str, str]:
    f = _name(features, split["feature"], "x")
    if split["zero"]:
        return f"{f} == 0", f"{f} != 0"
    return f"{f} <= {split['threshold']:.4g}", f"{f} > {split['threshold']:.4g}"


def _leaf_text(leaf: dict, labels: Sequence | None, max_labels: int) -> str:
    on = [_name(labels, i, "label ") for i in leaf["on"]]
    shown = ", ".join(on[:max_labels]) + (", ..." if len(on) > max_labels else "")
    weight = f"{leaf['weight']:.0f}" if leaf["weight"] is not None else "?"
    return f"leaf ({leaf['model']}, weight {weight}): {{{shown}}}"


def summary(
    tree: Any,
    features: Sequence | None = None,
    labels: Sequence | None = None,
    max_labels: int = 6,
) -> str:
    """An indented text picture of ``tree``.

    Parameters
    ----------
    tree
        A :class:`ihomer.trees.MultiLabelHoeffdingTree`.
    features
        Feature names by column id (default ``x0, x1, ...``).
    labels
        The tree's label names in its label order (default ``label 0, ...``).
    max_labels
        Labels listed per leaf before ``...``.

    Examples
    --------
    >>> from ihomer.trees import MultiLabelHoeffdingTree
    >>> print(summary(MultiLabelHoeffdingTree()))
    (empty tree)
    """
    facts = node_facts(tree)
    if not facts:
        return "(empty tree)"
    children: dict[int, list[dict]] = {}
    for e in facts:
        if e["parent"] is not None:
            children.setdefault(e["parent"], []).append(e)
    lines: list[str] = []

    def walk(e: dict, indent: str, head: str) -> None:
        if "leaf" in e:
            lines.append(f"{indent}{head}{_leaf_text(e['leaf'], labels, max_labels)}")
            return
        yes, no = _test(e["split"], features)
        if head:
            lines.append(f"{indent}{head}")
            indent += "  "
        for child, text in zip(children.get(e["id"], []), (yes, no)):
            if "leaf" in child:
                walk(child, indent, f"if {text}: ")
            else:
                lines.append(f"{indent}if {text}:")
                walk(child, indent + "  ", "")

    walk(facts[0], "", "")
    return "\n".join(lines)


def to_dot(
    tree: Any,
    features: Sequence | None = None,
    labels: Sequence | None = None,
    max_labels: int = 6,
    name: str = "tree",
) -> str:
    """``tree`` as Graphviz dot text (render with ``dot -Tpng tree.dot -o tree.png``): splits are
    ellipses with their test, leaves are boxes with their leaf model and predicted labels.

    >>> from ihomer.trees import MultiLabelHoeffdingTree
    >>> to_dot(MultiLabelHoeffdingTree()).splitlines()[0]
    'digraph tree {'
    """

    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace('"', '\\"')

    out = [f"digraph {name} {{", '  node [fontname="Helvetica", fontsize=10];']
    for e in node_facts(tree):
        if "leaf" in e:
            label = esc(_leaf_text(e["leaf"], labels, max_labels))
            out.append(f'  n{e["id"]} [shape=box, label="{label}"];')
        else:
            label = esc(_test(e["split"], features)[0])
            out.append(f'  n{e["id"]} [shape=ellipse, label="{label}"];')
        if e["parent"] is not None:
            edge = "yes" if e["side"] == "left" else "no"
            out.append(f'  n{e["parent"]} -> n{e["id"]} [label="{edge}"];')
    out.append("}")
    return "\n".join(out)
