"""What a user can look at in a trained iHOMER model: the label hierarchy and each cluster's tree.

This module owns :func:`cluster_trees` (one :class:`ClusterTree` per learning cluster: its labels,
its learner, a text summary and Graphviz dot of the tree) and re-exports
:func:`ihomer.labels.view.hierarchy` (the label clusters, the ODAC tree and when each split, merge
and re-partition happened). The model's private state is read only in ``_read_clusters`` and
``_read_feature_names`` (the accessor layer, see :mod:`ihomer.labels.view`). Nothing here changes
the model. It must not know about streams or the CLI.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from ihomer.labels.view import LabelHierarchy, hierarchy
from ihomer.trees import draw

__all__ = ["hierarchy", "cluster_trees", "ClusterTree", "LabelHierarchy"]


# -- accessor layer -------------------------------------------------------------------------------
def _read_clusters(model: Any) -> list[tuple[tuple, Any]]:
    if "_features" not in getattr(model, "__dict__", {}):
        return []  # untrained (reading the property would not build state, but say it plainly)
    return [(tuple(labels), learner) for labels, learner in model.cluster_learners]


def _read_feature_names(model: Any) -> list[Any] | None:
    index = getattr(model, "__dict__", {}).get("_features")
    names = getattr(index, "names", None)
    return list(names) if names is not None else None


# -- the view -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClusterTree:
    """One learning cluster and its learner (read-only: do not train it directly).

    Attributes
    ----------
    index
        Position of the cluster in ``model.partition``.
    labels
        The cluster's labels, in the learner's label order.
    learner
        The cluster's learner (a :class:`ihomer.trees.MultiLabelHoeffdingTree` by default).
    features
        Feature names by column id (shared by every cluster).
    """

    index: int
    labels: tuple[Hashable, ...]
    learner: Any
    features: tuple[Any, ...] | None

    @property
    def n_nodes(self) -> int | None:
        """Nodes of the learner's tree (None for a learner without a tree)."""
        n = getattr(self.learner, "n_nodes", None)
        return int(n) if isinstance(n, int) else None

    def summary(self, max_labels: int = 6) -> str:
        """An indented text picture of the cluster's tree (or the learner's repr)."""
        head = f"cluster {self.index} ({len(self.labels)} label(s): " + ", ".join(
            map(str, self.labels[:max_labels])
        ) + (", ..." if len(self.labels) > max_labels else "") + ")"
        if getattr(self.learner, "root", None) is None and self.n_nodes is None:
            return f"{head}: {self.learner!r}"
        body = draw.summary(self.learner, self.features, self.labels, max_labels)
        return head + f", {self.n_nodes} node(s):\n" + "\n".join(
            "  " + line for line in body.splitlines()
        )

    def to_dot(self, max_labels: int = 6) -> str:
        """The cluster's tree as Graphviz dot text (``dot -Tpng``)."""
        return draw.to_dot(
            self.learner, self.features, self.labels, max_labels, name=f"cluster_{self.index}"
        )


def cluster_trees(model: Any) -> list[ClusterTree]:
    """One :class:`ClusterTree` per cluster of ``model.partition`` (empty before training).

    Examples
    --------
    >>> from river import datasets
    >>> from ihomer import IHOMER
    >>> model = IHOMER()
    >>> for x, y in datasets.Yeast().take(400):
    ...     model.learn_one(x, y)
    >>> trees = cluster_trees(model)
    >>> [t.labels for t in trees] == model.partition
    True
    >>> trees[0].to_dot().startswith("digraph cluster_0 {")
    True
    """
    features = _read_feature_names(model)
    frozen = tuple(features) if features is not None else None
    return [
        ClusterTree(i, labels, learner, frozen)
        for i, (labels, learner) in enumerate(_read_clusters(model))
    ]
