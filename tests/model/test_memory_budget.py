"""The memory budget: over it the model sheds split statistics and stops growing."""

from __future__ import annotations

import itertools

import pytest

from ihomer import IHOMER
from ihomer.evaluate import prequential
from streams.synth import LabelClusterStream


def _data(n=3000):
    stream = LabelClusterStream(
        n_features=60, n_labels=40, n_clusters=8, seed=1, n_instances=n
    )
    return list(itertools.islice(stream, n))


def test_budget_is_honoured_and_the_model_keeps_learning():
    data = _data()
    free = IHOMER(memory_budget_mb=None)
    r_free = prequential(free, data)
    used = free.memory_bytes()
    budget_mb = used / 2**20 / 2  # half of what the unbounded model holds
    capped = IHOMER(memory_budget_mb=budget_mb)
    peak = 0
    for t, (x, y) in enumerate(data):
        capped.predict_one(x)
        capped.learn_one(x, y)
        if t % 200 == 199:  # just after each check (every n_min = 200)
            peak = max(peak, capped.memory_bytes())
    assert capped.events.counts.get("memory_cap", 0) >= 1
    assert peak <= budget_mb * 2**20 * 1.25, (peak, budget_mb * 2**20)
    r_capped = prequential(IHOMER(memory_budget_mb=budget_mb), data)
    assert r_capped.metrics["micro_f1"] > 0.5 * r_free.metrics["micro_f1"]


def test_frozen_trees_do_not_grow():
    from ihomer.trees import MultiLabelHoeffdingTree

    model = IHOMER(memory_budget_mb=1e-3)  # ~1 KB: capped at the first check
    for x, y in _data(800):
        model.learn_one(x, y)
    assert model.events.counts.get("memory_cap", 0) >= 1
    for c in model._clusters:
        tree = c.learner
        assert isinstance(tree, MultiLabelHoeffdingTree) and tree._frozen
        assert c.background is None and c.handover is None
    assert model._legacy == []


def test_budget_parameter_is_validated():
    with pytest.raises(ValueError, match="memory_budget_mb"):
        IHOMER(memory_budget_mb=0)


def test_the_recent_buffer_size_is_the_sum_over_the_buffer_as_it_fills_and_sheds():
    from river import datasets

    model = IHOMER(warm_start=50, memory_budget_mb=None)
    cset = None
    for i, (x, y) in enumerate(datasets.Yeast().take(400)):
        model.learn_one(x, y)
        cset = model._cset
        if i % 37 == 0 or i > 390:
            full = sum(r.idx.nbytes + r.val.nbytes + ids.nbytes for r, ids in cset.recent)
            assert cset._recent_nbytes() == full
    cset.shed(1 << 40)  # keeps a quarter of the buffer
    model.learn_one(x, y)
    full = sum(r.idx.nbytes + r.val.nbytes + ids.nbytes for r, ids in cset.recent)
    assert len(cset.recent) <= 13 and cset._recent_nbytes() == full
