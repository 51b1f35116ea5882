"""Names for streams: the development suite, river's bundled Yeast, files by extension, synth.

This module owns turning a stream *spec* (a short string a user types) into a :class:`Stream`,
and where the shared development data sets live (``IHOMER_DATASETS`` or ``../shared/datasets``).
It must not parse any format itself.

Specs:

* ``"river:yeast"`` / ``"yeast-river"``: river's bundled Yeast (no network, no shared folder);
* a development-suite name (``"scene"``, ``"medical"``, ...): the file in the shared folder;
* a path ending in ``.arff``, ``.arff.gz``, ``.arff.bz2``, ``.csv``, ``.jsonl`` or ``.ndjson``;
* ``"synth"`` or ``"synth:key=value,..."``: :class:`streams.synth.LabelClusterStream`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from streams.arff import ArffStream
from streams.base import Stream
from streams.csv import CsvStream
from streams.jsonl import JsonlStream

__all__ = [
    "DEFAULT_STREAM",
    "DEV_SUITE",
    "EXTRA",
    "DATASET_FILES",
    "RiverYeastStream",
    "open_stream",
    "shared_datasets_dir",
]

DEV_SUITE: list[str] = [
    "flags", "emotions", "yeast", "scene", "birds",
    "enron", "medical", "slashdot", "20ng", "tmc2007-500", "delicious",
]  # fmt: skip
EXTRA: list[str] = ["cal500", "corel5k"]
DEFAULT_STREAM = "river:yeast"

#: file name of each shared data set, and whether its labels come from a Mulan XML beside it
DATASET_FILES: dict[str, tuple[str, bool]] = {
    "flags": ("flags.arff", True),
    "emotions": ("emotions.arff", True),
    "yeast": ("yeast.arff", True),
    "cal500": ("cal500.arff", True),
    "corel5k": ("corel5k.arff", True),
    "delicious": ("delicious.arff", True),
    "scene": ("scene.arff.bz2", False),
    "birds": ("birds.arff", False),
    "enron": ("enron.arff", False),
    "medical": ("medical.arff", False),
    "slashdot": ("slashdot.arff", False),
    "20ng": ("20ng.arff", False),
    "tmc2007-500": ("tmc2007-500.arff", False),
}

_RIVER_SPECS = {"river:yeast", "yeast-river"}


def _default_shared_dir() -> Path:
    return Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def shared_datasets_dir() -> Path | None:
    """The folder of the shared development data sets, or ``None`` when there is none.

    The ``IHOMER_DATASETS`` environment variable, when set, is the only place looked at (so a
    wrong value is not silently replaced by another folder). Otherwise ``../shared/datasets``
    beside the repository, then ``../shared/datasets`` relative to the working directory.
    """
    env = os.environ.get("IHOMER_DATASETS")
    if env:
        candidates = [Path(env)]
    else:
        candidates = [_default_shared_dir(), Path.cwd().parent / "shared" / "datasets"]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    return None


def _expected_dir() -> str:
    env = os.environ.get("IHOMER_DATASETS")
    return f"{env} (from IHOMER_DATASETS)" if env else str(_default_shared_dir())


class RiverYeastStream(Stream):
    """river's bundled Yeast data set (2,417 instances, 103 features, 14 labels) as a Stream.

    Examples
    --------
    >>> s = RiverYeastStream(limit=2)
    >>> s.labels[:3], len(s.features)
    (['Class1', 'Class2', 'Class3'], 103)
    >>> [sum(y.values()) for _, y in s]
    [4, 2]
    """

    sparse = False

    def __init__(self, *, lenient: bool = False, limit: int | None = None) -> None:
        super().__init__(lenient=lenient, limit=limit)
        self.name = "yeast"
        self.labels = [f"Class{i}" for i in range(1, 15)]
        self.features = [f"Att{i}" for i in range(1, 104)]
        self.source = "river.datasets.Yeast"

    def _records(self) -> Iterator[tuple[dict, dict]]:
        from river.datasets import Yeast

        labels = self.labels
        for x, y in Yeast():
            yield x, {lab: bool(y[lab]) for lab in labels}


def _parse_value(text: str) -> object:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


def _parse_synth(spec: str) -> dict[str, object]:
    _, _, rest = spec.partition(":")
    params: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"stream spec {spec!r}: expected key=value, got {part!r}")
        params[key.strip()] = _parse_value(value)
    return params


def _open_path(path: Path, **kwargs) -> Stream:
    low = path.name.lower()
    if low.endswith((".arff", ".arff.gz", ".arff.bz2")):
        return ArffStream(path, **kwargs)
    if low.endswith((".csv", ".csv.gz", ".csv.bz2")):
        return CsvStream(path, **kwargs)
    if low.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".jsonl.bz2")):
        return JsonlStream(path, **kwargs)
    raise ValueError(
        f"{path}: unknown stream file type (expected .arff[.gz|.bz2], .csv, .jsonl or .ndjson)"
    )


def open_stream(spec: str, **kwargs) -> Stream:
    """Open the stream named by ``spec`` (see the module docstring); ``kwargs`` go to the adapter.

    Examples
    --------
    >>> s = open_stream("river:yeast", limit=3)
    >>> s.name, len(list(s))
    ('yeast', 3)
    """
    if not isinstance(spec, str | os.PathLike):
        raise ValueError(f"stream spec must be a string or a path, got {spec!r}")
    if isinstance(spec, os.PathLike):
        return _open_path(Path(spec), **kwargs)
    key = spec.strip()
    low = key.lower()
    if low == "synth" or low.startswith("synth:"):
        from streams.synth import LabelClusterStream

        return LabelClusterStream(**{**_parse_synth(key), **kwargs})
    if low in _RIVER_SPECS:
        return RiverYeastStream(**kwargs)
    if low.startswith("river:"):
        raise ValueError(f"stream spec {spec!r}: only river:yeast is bundled")
    if low in DATASET_FILES:
        filename, mulan = DATASET_FILES[low]
        folder = shared_datasets_dir()
        if folder is None:
            raise FileNotFoundError(
                f"data set {low!r} lives in the shared folder {_expected_dir()}, "
                "which does not exist (set IHOMER_DATASETS to the folder holding the data sets, "
                f"or use {DEFAULT_STREAM!r}, which needs no files)"
            )
        path = folder / filename
        if not path.is_file():
            raise FileNotFoundError(f"data set {low!r}: {path} not found in {folder}")
        if mulan and "labels" not in kwargs and "label_xml" not in kwargs:
            kwargs["label_xml"] = str(folder / (low + ".xml"))
        return ArffStream(path, **kwargs)
    path = Path(key)
    if path.suffix or path.exists():
        if not path.exists():
            raise FileNotFoundError(f"stream file {path} not found")
        return _open_path(path, **kwargs)
    raise ValueError(
        f"unknown stream spec {spec!r}: expected {DEFAULT_STREAM!r}, 'synth[:k=v,...]', a path, "
        f"or one of {DEV_SUITE + EXTRA}"
    )
