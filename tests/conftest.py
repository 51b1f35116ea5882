"""Shared test fixtures: where the development data sets live (skip cleanly when absent), and
river's own metric objects for the metrics that ihomer.metrics re-implements."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.registry import shared_datasets_dir

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The shared data-set folder (``IHOMER_DATASETS`` or ``../shared/datasets``), else skip."""
    path = shared_datasets_dir()
    if path is None:
        pytest.skip(
            "../shared/datasets not found (set IHOMER_DATASETS): needs the development data sets"
        )
    return path


def _river_metric_objects() -> dict:
    """Fresh river metric objects, one per name of ``ihomer.metrics.METRIC_NAMES`` (Hamming loss
    is ``1 - MicroAverage(Accuracy)``: subtract the value from 1)."""
    from river import metrics as rm

    mo = rm.multioutput
    return {
        "subset_accuracy": mo.ExactMatch(),
        "hamming_loss": mo.MicroAverage(rm.Accuracy()),  # 1 - value
        "example_precision": mo.SampleAverage(rm.Precision()),
        "example_recall": mo.SampleAverage(rm.Recall()),
        "example_f1": mo.SampleAverage(rm.F1()),
        "micro_precision": mo.MicroAverage(rm.Precision()),
        "micro_recall": mo.MicroAverage(rm.Recall()),
        "micro_f1": mo.MicroAverage(rm.F1()),
        "macro_precision": mo.MacroAverage(rm.Precision()),
        "macro_recall": mo.MacroAverage(rm.Recall()),
        "macro_f1": mo.MacroAverage(rm.F1()),
    }


@pytest.fixture(scope="session")
def river_metric_objects():
    """A factory of fresh river metric objects keyed by ihomer's metric names."""
    return _river_metric_objects
