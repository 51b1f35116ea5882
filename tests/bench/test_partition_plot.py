"""iHOMER's label partition over the stream (ihomer.bench.partition_plot): the recorded clusters
are the model's clusters at each position, and the picture is written (and by the benchmark)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from river import datasets

import ihomer
from ihomer.bench.partition_plot import partition_over_stream, write_partition_plot


def _groups(column: np.ndarray, labels: list) -> set[frozenset]:
    out: dict[int, set] = {}
    for lab, cid in zip(labels, column.tolist()):
        if cid >= 0:
            out.setdefault(cid, set()).add(lab)
    return {frozenset(g) for g in out.values()}


def test_each_column_is_the_models_partition_at_that_position():
    h = partition_over_stream(datasets.Yeast(), every=300, max_instances=900)
    assert h.positions == [300, 600, 900] and h.odac.shape == h.learning.shape == (14, 3)
    for j, n in enumerate(h.positions):
        model = ihomer.IHOMER(partitioning="hierarchy")
        for x, y in itertools.islice(datasets.Yeast(), n):
            model.predict_one(x)
            model.learn_one(x, y)
        view = ihomer.hierarchy(model)
        assert _groups(h.learning[:, j], h.labels) == {frozenset(c) for c in view.partition}
        assert _groups(h.odac[:, j], h.labels) == {frozenset(nd.labels) for nd in view.active}
    assert [k for _, k in h.changes] and all(n <= 900 for n, _ in h.changes)
    with pytest.raises(ValueError, match="every must be >= 1"):
        partition_over_stream([], every=0)


def test_the_picture_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    h = partition_over_stream(datasets.Yeast(), every=100, max_instances=400)
    path = write_partition_plot(h, tmp_path / "p" / "yeast.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_benchmark_writes_one_per_stream(tmp_path):
    pytest.importorskip("matplotlib")
    from ihomer.bench.cli import main

    argv = ["--quick", "--streams", "river:yeast", "--models", "ihomer", "--max-instances",
            "300", "--jobs", "1", "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    assert (tmp_path / "plots" / "ihomer_partition_river-yeast.png").stat().st_size > 0
