"""The examples in the docstrings of ihomer.bench run and give what they show."""

import doctest
import importlib

import pytest

MODULES = [
    "baselines", "cli", "environment", "jobs", "models", "moa", "published", "ranks", "report",
    "suite", "worker",
]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"ihomer.bench.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
