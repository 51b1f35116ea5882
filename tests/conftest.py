"""Shared test fixtures: where the development data sets live (skip cleanly when absent)."""

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
