"""Fixtures for the neural scorer tests (skipped as a whole when torch is not installed)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="ihomer.neural needs torch (pip install ihomer[neural])")

from tests.neural.helpers import planted  # noqa: E402


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    return planted(1200)
