"""Fixtures of the benchmark tests: the shared reference folder (skip when absent)."""

from __future__ import annotations

import pytest

from ihomer.bench.published import reference_dir


@pytest.fixture
def reference_folder():
    folder = reference_dir()
    if folder is None:
        pytest.skip("../shared/reference (published MLHAT results) is absent on this machine")
    return folder
