"""Tests of streams.synth: determinism, planted clusters, informative features, scheduled drift."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from streams.partition_metrics import adjusted_rand_index
from streams.synth import Drift, LabelClusterStream, Truth


def _take(stream, n: int) -> list:
    return list(itertools.islice(iter(stream), n))


def _label_matrix(stream: LabelClusterStream, records) -> np.ndarray:
    return np.array([[y[lab] for lab in stream.labels] for _, y in records], dtype=bool)


def _feature_matrix(stream: LabelClusterStream, records) -> np.ndarray:
    return np.array([[x.get(f, 0.0) for f in stream.features] for x, _ in records])


def _jaccard(y: np.ndarray, a: int, b: int) -> float:
    n11 = int(np.sum(y[:, a] & y[:, b]))
    den = int(y[:, a].sum() + y[:, b].sum()) - n11
    return n11 / den if den else 0.0


def _cluster_of_labelset(partition, y: dict[str, bool]) -> int:
    """Id of the single cluster of ``partition`` that contains every on label, else -1."""
    on = {lab for lab, v in y.items() if v}
    hits = [k for k, c in enumerate(partition) if on and on <= c]
    return hits[0] if len(hits) == 1 else -1


# -- shape and contract ---------------------------------------------------------------------------


def test_records_have_every_label_and_feature() -> None:
    s = LabelClusterStream(n_features=7, n_labels=5, n_clusters=2, n_instances=300, seed=3)
    assert s.labels == [f"l{j}" for j in range(5)]
    assert s.features == [f"f{j}" for j in range(7)]
    assert s.sparse is False and isinstance(s.name, str) and isinstance(s.source, str)
    records = list(s)
    assert len(records) == 300
    for x, y in records:
        assert list(x) == s.features and all(isinstance(v, float) for v in x.values())
        assert list(y) == s.labels and all(isinstance(v, bool) for v in y.values())
        assert any(y.values())  # no empty label set by default


def test_partition_is_a_partition_with_near_equal_sizes() -> None:
    s = LabelClusterStream(n_labels=14, n_clusters=4, seed=5)
    part = s.partition_at(0)
    assert len(part) == 4
    assert sorted(lab for c in part for lab in c) == sorted(s.labels)
    assert sorted(len(c) for c in part) == [3, 3, 4, 4]


def test_infinite_stream_is_lazy() -> None:
    s = LabelClusterStream(n_instances=None)
    assert len(_take(s, 5000)) == 5000


def test_limit_like_every_stream() -> None:
    s = LabelClusterStream(n_instances=500, limit=120, seed=2)
    assert len(list(s)) == 120 and len(list(s.iter_with_truth())) == 120
    assert sum(len(b[1]) for b in s.iter_arrays()) == 120
    assert list(s) == list(LabelClusterStream(limit=120, seed=2))
    assert len(list(LabelClusterStream(n_instances=50, limit=120))) == 50


def test_zero_instances() -> None:
    s = LabelClusterStream(n_instances=0)
    assert list(s) == [] and list(s.iter_with_truth()) == []


# -- determinism ----------------------------------------------------------------------------------


def test_same_seed_same_stream_and_iterating_twice_repeats() -> None:
    drifts = [Drift(700, "both", width=300)]
    a = LabelClusterStream(n_instances=2500, seed=11, drifts=drifts)
    b = LabelClusterStream(n_instances=2500, seed=11, drifts=drifts)
    first = list(a)
    assert first == list(a)  # iterating twice
    assert first == list(b)  # a second object, same seed
    assert a.partition_at(2000) == b.partition_at(2000)


def test_different_seeds_differ() -> None:
    a = _take(LabelClusterStream(seed=1), 200)
    b = _take(LabelClusterStream(seed=2), 200)
    assert sum(xa == xb for (xa, _), (xb, _) in zip(a, b, strict=True)) == 0
    parts = {
        tuple(sorted(tuple(sorted(c)) for c in LabelClusterStream(seed=s).partition_at(0)))
        for s in range(6)
    }
    assert len(parts) > 1


def test_finite_stream_is_a_prefix_of_the_infinite_one() -> None:
    # 2600 crosses internal block boundaries.
    finite = list(LabelClusterStream(n_instances=2600, seed=4))
    assert finite == _take(LabelClusterStream(seed=4), 2600)


def test_truth_iteration_yields_the_same_instances() -> None:
    s = LabelClusterStream(n_instances=1500, seed=8, drifts=[Drift(600)])
    with_truth = list(s.iter_with_truth())
    assert [(x, y) for x, y, _ in with_truth] == list(s)
    assert [t.position for _, _, t in with_truth] == list(range(1500))
    assert all(isinstance(t, Truth) for _, _, t in with_truth)


@pytest.mark.parametrize("sparse", [False, True])
def test_arrays_are_the_same_instances_as_dicts(sparse: bool) -> None:
    s = LabelClusterStream(n_instances=2100, seed=14, sparse=sparse, drifts=[Drift(1000)])
    blocks = list(s.iter_arrays())
    x = np.vstack([b[0] for b in blocks])
    y = np.vstack([b[1] for b in blocks])
    records = list(s)
    assert x.shape == (2100, 20) and y.shape == (2100, 12) and y.dtype == bool
    assert np.array_equal(x, _feature_matrix(s, records))
    assert np.array_equal(y, _label_matrix(s, records))


def test_many_features_keep_blocks_small_and_stream_sparse() -> None:
    s = LabelClusterStream(
        n_features=50_000, n_labels=30, n_clusters=5, informative=40, noise=0.0005,
        sparse=True, n_instances=60, seed=2,
    )
    blocks = list(s.iter_arrays())
    assert max(len(b[0]) for b in blocks) * 50_000 <= 1 << 20
    records = list(s)
    assert len(records) == 60
    assert np.mean([len(x) for x, _ in records]) < 100


# -- planted clusters -----------------------------------------------------------------------------


def test_within_cluster_jaccard_high_between_low() -> None:
    s = LabelClusterStream(n_instances=6000, seed=2)
    y = _label_matrix(s, s)
    cluster = {lab: k for k, c in enumerate(s.partition_at(0)) for lab in c}
    same, other = [], []
    for a, b in itertools.combinations(range(len(s.labels)), 2):
        j = _jaccard(y, a, b)
        (same if cluster[s.labels[a]] == cluster[s.labels[b]] else other).append(j)
    assert min(same) > 0.6, same
    assert max(other) < 0.1, other
    assert y.sum(axis=1).min() >= 1


def test_labels_stay_inside_the_active_clusters() -> None:
    s = LabelClusterStream(n_instances=3000, seed=6, between=0.1)
    part = s.partition_at(0)
    n_two = 0
    for _, y, t in s.iter_with_truth():
        allowed = set().union(*(part[k] for k in t.clusters))
        assert {lab for lab, v in y.items() if v} <= allowed
        n_two += len(t.clusters) == 2
        assert len(set(t.clusters)) == len(t.clusters)
    # A second cluster is active with probability `between`.
    assert 0.07 < n_two / 3000 < 0.13


def test_cardinality_sets_the_mean_label_set_size() -> None:
    s = LabelClusterStream(n_labels=12, n_clusters=3, cardinality=2.0, n_instances=6000, seed=9)
    y = _label_matrix(s, s)
    assert y.sum(axis=1).mean() == pytest.approx(2.0, abs=0.15)
    default = _label_matrix(s, LabelClusterStream(n_instances=3000, seed=9))
    assert default.sum(axis=1).mean() > 3.3  # within=0.9 of 4-label clusters


def test_allow_empty_lets_empty_label_sets_through() -> None:
    kw = dict(within=0.2, between=0.0, n_instances=3000, seed=1)
    empty = _label_matrix(LabelClusterStream(), LabelClusterStream(allow_empty=True, **kw))
    full = _label_matrix(LabelClusterStream(), LabelClusterStream(**kw))
    assert (empty.sum(axis=1) == 0).mean() > 0.2  # 0.8 ** 4 ~ 0.41
    assert (full.sum(axis=1) == 0).sum() == 0


# -- informative features ------------------------------------------------------------------------


def _nearest_centroid_accuracy(x: np.ndarray, c: np.ndarray, x2: np.ndarray, c2: np.ndarray):
    classes = np.unique(c)
    means = np.stack([x[c == k].mean(axis=0) for k in classes])
    d = ((x2[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)
    return float(np.mean(classes[d.argmin(axis=1)] == c2))


@pytest.mark.parametrize("sparse", [False, True])
def test_active_cluster_is_recoverable_from_features(sparse: bool) -> None:
    # The cluster of an instance is read from its labels and the planted partition only.
    s = LabelClusterStream(n_instances=6000, seed=12, sparse=sparse)
    records = list(s)
    part = s.partition_at(0)
    c = np.array([_cluster_of_labelset(part, y) for _, y in records])
    x = _feature_matrix(s, records)
    if sparse:
        x = (x != 0).astype(float)  # cluster topics show in which features are non-zero
    keep = c >= 0
    assert keep.mean() > 0.95
    x, c = x[keep], c[keep]
    acc = _nearest_centroid_accuracy(x[:3000], c[:3000], x[3000:], c[3000:])
    prior = np.bincount(c[3000:]).max() / len(c[3000:])
    assert acc > 0.9 > prior + 0.4, (acc, prior)


def test_labels_inside_a_cluster_depend_on_features() -> None:
    # With within=0.5 the label prior inside the cluster is ~0.5; a least-squares linear rule on
    # the features, fitted on the first half, must do much better on the second half.
    s = LabelClusterStream(within=0.5, n_instances=8000, seed=13)
    records = list(s.iter_with_truth())
    part = s.partition_at(0)
    x = np.array([[r[0][f] for f in s.features] for r in records])
    x = np.hstack([x, np.ones((len(x), 1))])
    truth = [r[2] for r in records]
    for lab in ("l0", "l5"):
        k = next(i for i, cl in enumerate(part) if lab in cl)
        rows = np.array([i for i, t in enumerate(truth) if t.clusters == (k,)])
        yl = np.array([records[i][1][lab] for i in rows], dtype=float)
        half = len(rows) // 2
        coef, *_ = np.linalg.lstsq(x[rows[:half]], yl[:half], rcond=None)
        acc = np.mean((x[rows[half:]] @ coef > 0.5) == (yl[half:] > 0.5))
        prior = max(yl[half:].mean(), 1 - yl[half:].mean())
        assert acc > prior + 0.2, (lab, acc, prior)


def test_sparse_mode_gives_only_non_zero_features() -> None:
    s = LabelClusterStream(n_features=40, n_instances=2000, seed=3, sparse=True)
    assert s.sparse is True
    sizes = []
    for x, y in s:
        assert set(x) <= set(s.features)
        assert all(v > 0 for v in x.values())
        assert list(y) == s.labels
        sizes.append(len(x))
    assert np.mean(sizes) < 0.4 * 40
    assert min(sizes) >= 0 and max(sizes) <= 40


# -- drift ----------------------------------------------------------------------------------------


def test_abrupt_labels_drift_changes_the_partition_at_the_drift_point() -> None:
    s = LabelClusterStream(n_instances=4000, seed=21, drifts=[Drift(2000, "labels")])
    assert s.drift_points == [2000]
    before, after = s.partition_at(1999), s.partition_at(2000)
    assert s.regime_at(0) == s.regime_at(1999) == 0 and s.regime_at(2000) == 1
    assert before == s.partition_at(0) and after == s.partition_at(3999)
    assert adjusted_rand_index(before, after) < 0.3
    # The label sets follow the partition in force: measured on the stream, not the truth.
    records = list(s)
    fit_before = np.mean([_cluster_of_labelset(before, y) >= 0 for _, y in records[:2000]])
    fit_after = np.mean([_cluster_of_labelset(after, y) >= 0 for _, y in records[2000:]])
    misfit = np.mean([_cluster_of_labelset(before, y) >= 0 for _, y in records[2000:]])
    assert fit_before > 0.95 and fit_after > 0.95 and misfit < 0.5
    assert {t.regime for *_, t in itertools.islice(s.iter_with_truth(), 1990, 2010)} == {0, 1}


@pytest.mark.parametrize("seed", range(8))
def test_labels_drift_partition_differs_substantially(seed: int) -> None:
    s = LabelClusterStream(seed=seed, drifts=[Drift(100), Drift(200, "both"), Drift(300)])
    parts = [s.partition_at(i) for i in (0, 100, 200, 300)]
    for old, new in itertools.pairwise(parts):
        assert adjusted_rand_index(old, new) < 0.3
        assert sorted(lab for c in new for lab in c) == sorted(s.labels)


def test_labels_drift_never_redraws_the_same_partition_on_small_label_sets() -> None:
    # 4 labels in 2 pairs: a blind reshuffle would keep the same partition a third of the time.
    for seed in range(3):
        s = LabelClusterStream(
            n_labels=4, n_clusters=2, seed=seed, drifts=[Drift(10 * (k + 1)) for k in range(10)]
        )
        parts = [s.partition_at(10 * k) for k in range(11)]
        for old, new in itertools.pairwise(parts):
            assert adjusted_rand_index(old, new) < 0.3


def test_concept_drift_keeps_the_partition_and_moves_the_features() -> None:
    s = LabelClusterStream(n_instances=8000, seed=31, drifts=[Drift(4000, "concept")])
    part = s.partition_at(0)
    assert s.partition_at(7999) == part
    records = list(s)
    c = np.array([_cluster_of_labelset(part, y) for _, y in records])
    x = _feature_matrix(s, records)
    old, new = np.arange(4000), np.arange(4000, 8000)
    old, new = old[c[old] >= 0], new[c[new] >= 0]
    h = len(old) // 2
    acc_same = _nearest_centroid_accuracy(x[old[:h]], c[old[:h]], x[old[h:]], c[old[h:]])
    acc_cross = _nearest_centroid_accuracy(x[old], c[old], x[new], c[new])
    assert acc_same > 0.9
    assert acc_cross < acc_same - 0.2, (acc_same, acc_cross)


def test_gradual_drift_mixes_regimes_in_proportion() -> None:
    width, at = 4000, 6000
    s = LabelClusterStream(n_instances=10_000, seed=17, drifts=[Drift(at, "labels", width)])
    regime = np.array([t.regime for *_, t in s.iter_with_truth()])
    assert regime[: at - width // 2].sum() == 0
    assert regime[at + width // 2 :].min() == 1
    for lo in range(at - width // 2, at + width // 2, 500):
        centre = lo + 250
        expected = (centre - at) / width + 0.5
        got = regime[lo : lo + 500].mean()
        # binomial standard deviation over 500 draws is <= 0.023; allow 4 sigma
        assert abs(got - expected) < 0.09, (lo, got, expected)
    assert s.regime_at(at - 1) == 0 and s.regime_at(at) == 1
    # The instances of each regime follow their own partition.
    parts = [s.partition_at(0), s.partition_at(at)]
    window = [r for r in s.iter_with_truth() if abs(r[2].position - at) < width // 2]
    fits = [_cluster_of_labelset(parts[t.regime], y) >= 0 for _, y, t in window]
    assert np.mean(fits) > 0.95


def test_two_gradual_drifts_in_sequence() -> None:
    s = LabelClusterStream(
        drifts=[Drift(3000, "concept", 1000), Drift(1000, "labels", 500)], n_instances=4000
    )
    assert s.drift_points == [1000, 3000]
    regime = np.array([t.regime for *_, t in s.iter_with_truth()])
    assert set(regime[:750]) == {0} and set(regime[1250:2500]) == {1}
    assert set(regime[3500:]) == {2}
    assert np.all(np.diff(regime[:750]) >= 0) and set(regime[750:1250]) == {0, 1}


# -- parameters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(n_features=0), "n_features"),
        (dict(n_labels=0), "n_labels"),
        (dict(n_labels=4, n_clusters=5), "n_clusters"),
        (dict(n_clusters=0), "n_clusters"),
        (dict(within=0.0), "within"),
        (dict(within=1.5), "within"),
        (dict(between=-0.1), "between"),
        (dict(cardinality=0), "cardinality"),
        (dict(cardinality=50.0), "cardinality=50.0 is more than"),
        (dict(informative=0), "informative"),
        (dict(informative=21), "informative"),
        (dict(n_clusters=8, informative=2), "cannot tell 8 clusters apart"),
        (dict(noise=-1.0), "noise"),
        (dict(noise=2.0, sparse=True), "noise"),
        (dict(n_instances=-1), "n_instances"),
        (dict(limit=-1), "limit"),
        (dict(seed=1.5), "seed"),
        (dict(sparse=1), "sparse"),
        (dict(drifts=[(100, "labels")]), r"drifts\[0\] must be a Drift"),
        (dict(drifts=[Drift(500)], n_instances=500), "beyond the stream"),
        (dict(drifts=[Drift(100, width=100), Drift(140)]), "overlap"),
        (dict(drifts=[Drift(100), Drift(100, "concept")]), "overlap"),
        (dict(n_clusters=1, drifts=[Drift(10)]), "cannot change the partition"),
        (dict(n_labels=3, n_clusters=3, drifts=[Drift(10, "both")]), "cannot change"),
    ],
)
def test_bad_parameters_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LabelClusterStream(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [dict(at=-1), dict(at=1.5), dict(at=10, kind="label"), dict(at=10, width=-2), dict(at=True)],
)
def test_bad_drift_raises(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="Drift"):
        Drift(**kwargs)


def test_regime_at_rejects_negative_positions() -> None:
    with pytest.raises(ValueError, match="i must be an int >= 0"):
        LabelClusterStream().regime_at(-1)


def test_concept_drift_allowed_with_one_cluster() -> None:
    s = LabelClusterStream(n_clusters=1, drifts=[Drift(50, "concept")], n_instances=100)
    assert len(list(s)) == 100
    assert s.partition_at(99) == [frozenset(s.labels)]
    assert math.isclose(adjusted_rand_index(s.partition_at(0), s.partition_at(99)), 1.0)
