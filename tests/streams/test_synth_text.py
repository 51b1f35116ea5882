"""SyntheticTextStream: seeded, sparse word counts, planted label clusters, cue words, checks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from streams.synth_text import SyntheticTextStream


def test_deterministic_per_seed_and_prefix_of_the_infinite_stream():
    a = list(SyntheticTextStream(n_features=5000, n_labels=40, n_instances=300, seed=4))
    b = list(SyntheticTextStream(n_features=5000, n_labels=40, n_instances=300, seed=4))
    c = list(SyntheticTextStream(n_features=5000, n_labels=40, n_instances=300, seed=5))
    endless = SyntheticTextStream(n_features=5000, n_labels=40, seed=4)
    assert a == b and a != c
    assert list(itertools.islice(endless, 300)) == a
    assert len(list(SyntheticTextStream(n_labels=10, n_instances=50, limit=20))) == 20


def test_shape_sparsity_and_label_sets():
    s = SyntheticTextStream(n_features=100_000, n_labels=1000, n_instances=500, seed=0)
    assert len(s.features) == 100_000 and len(s.labels) == 1000 and s.sparse
    rows = list(s)
    nnz = [len(x) for x, _ in rows]
    assert 40 <= np.mean(nnz) <= 60
    for x, y in rows:
        assert list(y) == s.labels and any(y.values())
        assert all(type(v) is float and v >= 1.0 and v == int(v) for v in x.values())
    assert all(0 <= int(k[1:]) < 100_000 for x, _ in rows for k in x)


def test_labels_cluster_and_their_cue_words_reveal_them():
    s = SyntheticTextStream(
        n_features=20_000, n_labels=60, n_clusters=3, between=0.02, n_instances=3000, seed=2
    )
    rows = list(s)
    members, _, cues, _, _ = s._structure()
    cluster_of = {f"l{j}": c for c, m in enumerate(members) for j in m.tolist()}
    pairs_within = pairs_between = 0
    for _, y in rows:
        on = [k for k, v in y.items() if v]
        for a, b in itertools.combinations(on, 2):
            if cluster_of[a] == cluster_of[b]:
                pairs_within += 1
            else:
                pairs_between += 1
    assert pairs_within > 10 * pairs_between
    # a label's cue words are far more frequent where the label is on than where it is off
    lab = 7
    words = {f"w{i}" for i in cues[lab].tolist()}
    on = [bool(words & x.keys()) for x, y in rows if y[f"l{lab}"]]
    off = [bool(words & x.keys()) for x, y in rows if not y[f"l{lab}"]]
    assert np.mean(on) > 0.7 and np.mean(off) < 0.1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_features": 0},
        {"n_labels": 0},
        {"n_labels": 5, "n_clusters": 6},
        {"within": 0.0},
        {"between": 1.5},
        {"background": -1},
        {"topic_words": 0},
        {"n_features": 10, "cue_words": 11},
        {"n_instances": -1},
        {"seed": "a"},
        {"limit": -2},
        {"within": True},
    ],
)
def test_bad_parameters_raise_value_error(kwargs):
    with pytest.raises(ValueError, match="SyntheticTextStream"):
        SyntheticTextStream(**kwargs)
