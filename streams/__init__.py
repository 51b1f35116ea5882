"""Where records come from: every adapter yields ``(x: dict, y: dict[label, bool])``.

``LabelClusterStream`` (planted label clusters, in :mod:`streams.synth`) is imported lazily.
"""

from __future__ import annotations

from streams.arff import ArffStream
from streams.base import Stream
from streams.csv import CsvStream
from streams.errors import StreamFormatError
from streams.jsonl import JsonlStream
from streams.registry import DEV_SUITE, open_stream, shared_datasets_dir

__all__ = [
    "ArffStream",
    "CsvStream",
    "DEV_SUITE",
    "JsonlStream",
    "LabelClusterStream",
    "Stream",
    "StreamFormatError",
    "open_stream",
    "shared_datasets_dir",
]


def __getattr__(name: str):
    if name == "LabelClusterStream":
        from streams.synth import LabelClusterStream

        return LabelClusterStream
    raise AttributeError(f"module 'streams' has no attribute {name!r}")
