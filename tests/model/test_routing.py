"""HOMER routing: the router decides which cluster learners an instance reaches, and every label is
still predicted by exactly one learner."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ihomer import IHOMER
from ihomer.evaluate import prequential
from streams.synth import LabelClusterStream

H = "hierarchy"  # routing works on the hierarchy's clusters


def _stream(n=1500, n_labels=64, n_clusters=16, seed=3):
    return list(
        itertools.islice(
            LabelClusterStream(
                n_features=40, n_labels=n_labels, n_clusters=n_clusters, seed=seed, n_instances=n
            ),
            n,
        )
    )


def _check_one_learner_per_label(model: IHOMER) -> None:
    L = len(model._labels)
    owner = np.full(L, -1)
    for k, c in enumerate(model._clusters):
        assert (owner[c.ids] == -1).all(), "a label is in two clusters"
        owner[c.ids] = k
        assert c.learner.n_labels == len(c.ids)
    assert (owner >= 0).all(), "a label is in no cluster"
    assert (model._cluster_of == owner).all()
    assert model._router.n_clusters == len(model._clusters)


@pytest.mark.parametrize("routing", [True, "auto"])
def test_routing_invariant_and_fewer_learner_calls(routing):
    data = _stream()
    routed, flat = IHOMER(routing=routing, partitioning=H), IHOMER(routing=False, partitioning=H)
    calls = {}
    for name, model in (("routed", routed), ("flat", flat)):
        for t, (x, y) in enumerate(data):
            p = model.predict_proba_one(x)
            assert t == 0 or set(p) == set(model._labels)
            model.learn_one(x, y)
            if t % 100 == 99 and name == "routed":
                _check_one_learner_per_label(model)
        calls[name] = sum(c.n for c in model._clusters)
    assert routed.n_clusters >= 2
    if routing is True or routed.n_clusters >= 16:
        assert routed._routing_now()
        # a routed learner learns only the instances of its cluster
        assert calls["routed"] < 0.5 * calls["flat"], calls


def test_routed_learner_learns_only_its_clusters_instances():
    data = _stream(n=1200)
    model = IHOMER(routing=True, partitioning=H)
    for x, y in data:
        model.learn_one(x, y)
    assert model._routing_now()
    version = model._version
    seen = {id(c): 0 for c in model._clusters}
    before = {id(c): c.n for c in model._clusters}
    for x, y in _stream(n=300, seed=4):
        on = {lab for lab, v in y.items() if v}
        for c in model._clusters:
            seen[id(c)] += bool(on & set(c.labels))
        model.learn_one(x, y)
        if model._version != version:
            break
    for c in model._clusters:
        if id(c) in before:
            assert c.n - before[id(c)] == seen[id(c)]


def test_routing_keeps_quality_on_planted_clusters():
    data = _stream(n=3000)
    f1 = {
        r: prequential(IHOMER(routing=r, partitioning=H), data).metrics["micro_f1"]
        for r in (True, False)
    }
    assert f1[True] > 0.5
    assert f1[True] >= f1[False] - 0.1, f1


def test_routing_parameter_is_validated():
    with pytest.raises(ValueError, match="routing"):
        IHOMER(routing="sometimes")
    with pytest.raises(ValueError, match="route_threshold"):
        IHOMER(route_threshold=1.5)
