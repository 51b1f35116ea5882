"""The label space: co-occurrence statistics (Jaccard), ODAC over labels, partition refinement and
its invariant (every label seen is in exactly one cluster)."""

from ihomer.labels.cooccurrence import CooccurrenceStats, jaccard_distance
from ihomer.labels.odac import (
    Diameters,
    LabelTree,
    components,
    diameters,
    hoeffding_bound,
    isolated_labels,
    merge_condition,
    separable,
    sparse_diameters,
    split_condition,
)
from ihomer.labels.partition import check_partition, refine_partition
from ihomer.labels.space import LabelSpace

__all__ = [
    "LabelSpace",
    "CooccurrenceStats",
    "jaccard_distance",
    "Diameters",
    "LabelTree",
    "components",
    "diameters",
    "hoeffding_bound",
    "isolated_labels",
    "merge_condition",
    "separable",
    "sparse_diameters",
    "split_condition",
    "refine_partition",
    "check_partition",
]
