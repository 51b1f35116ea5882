"""The per-cluster multi-label Hoeffding adaptive tree of iHOMER (see :mod:`ihomer.trees.tree`)."""

from ihomer.trees.tree import MultiLabelHoeffdingTree

__all__ = ["MultiLabelHoeffdingTree"]
