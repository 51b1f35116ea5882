"""LabelSpace: the invariant under arbitrary streams (hypothesis), new labels, versions, drift
reactions, parameters and pickling."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ihomer.labels import LabelSpace


def assert_covers(space: LabelSpace) -> None:
    space.check_invariant()
    seen = space.labels
    for clusters in (space.partition, space.leaves):
        flat = [lab for c in clusters for lab in c]
        assert sorted(map(str, flat)) == sorted(map(str, seen))
        assert len(flat) == len(set(flat)) == len(seen)
    order = {lab: i for i, lab in enumerate(seen)}
    for c in space.partition:  # first-seen order inside clusters, clusters by earliest label
        assert [order[lab] for lab in c] == sorted(order[lab] for lab in c)
    firsts = [order[c[0]] for c in space.partition]
    assert firsts == sorted(firsts)


label_sets = st.one_of(
    st.lists(st.integers(0, 40), max_size=6),  # small sets from a pool, duplicates allowed
    st.just([]),  # empty label sets
    st.lists(st.integers(0, 200), min_size=30, max_size=120),  # huge sets with new labels
    st.sampled_from([[0, 1, 2], [3, 4, 5], [6, 7], [0, 1], [3, 4]]),  # some structure
)
actions = st.one_of(
    label_sets.map(lambda y: ("learn", y)),
    st.lists(st.integers(0, 250), max_size=5).map(lambda y: ("add", y)),
    st.just(("check_now", None)),
    st.floats(0.0, 1.0).map(lambda f: ("fade", f)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.one_of(label_sets.map(lambda y: ("learn", y)), actions), max_size=120),
    n_min=st.integers(1, 12),
    tau=st.sampled_from([0.1, 0.5, 1.0]),
    fading=st.sampled_from([1.0, 0.9]),
    min_size=st.sampled_from([None, 1, 3]),
)
def test_every_seen_label_in_exactly_one_cluster(steps, n_min, tau, fading, min_size):
    space = LabelSpace(n_min=n_min, tau=tau, fading=fading, min_size=min_size, delta=0.5)
    version = space.partition_version
    for kind, arg in steps:
        before = space.partition
        if kind == "learn":
            events = space.learn([f"l{v}" for v in arg])
        elif kind == "add":
            events = space.add_labels(f"l{v}" for v in arg)
        elif kind == "check_now":
            events = space.check_now()
        else:
            space.speed_up_fading(arg)
            events = []
        assert_covers(space)
        changed = space.partition != before
        assert (space.partition_version != version) == changed
        assert sum(k == "repartition" for k, _ in events) == int(changed)
        version = space.partition_version
        if kind in ("learn", "add"):  # new labels are in the partition immediately
            added = [d["label"] for k, d in events if k == "label_added"]
            assert set(added) <= {lab for c in space.partition for lab in c}


def test_new_labels_go_where_their_known_companions_are():
    space = LabelSpace(n_min=100, fading=1.0, min_size=1)
    for i in range(400):
        space.learn(["a", "b"] if i % 2 else ["c", "d"])
    assert sorted(space.leaves) == [("a", "b"), ("c", "d")]
    events = space.learn(["c", "d", "e"])
    assert events[0] == ("label_added", {"label": "e"})
    assert ("c", "d", "e") in space.leaves and ("c", "d", "e") in space.partition
    # no known label beside it: the largest active cluster (ties: earliest label)
    space.add_labels(["f"])
    assert ("c", "d", "e", "f") in space.leaves
    assert space.labels == ["c", "d", "a", "b", "e", "f"]


def test_labels_in_first_seen_order_and_add_labels_counts_as_seen():
    space = LabelSpace()
    space.learn(["z", "y", "z"])
    events = space.add_labels(["x", "y", "w"])
    assert space.labels == ["z", "y", "x", "w"]
    assert [d["label"] for k, d in events if k == "label_added"] == ["x", "w"]
    assert space.add_labels(["x", "w"]) == []


def test_min_size_is_the_mode_of_label_set_sizes():
    space = LabelSpace()
    assert space.current_min_size == 1
    for y in [[], [], ["a"]]:
        space.learn(y)
    assert space.current_min_size == 1  # mode 0 -> at least 1
    for y in [["a", "b", "c"]] * 3 + [["a", "b"]] * 3:
        space.learn(y)
    assert space.current_min_size == 2  # tie 2 vs 3 -> the smaller
    space.learn(["a", "b", "c"])
    assert space.current_min_size == 3
    assert LabelSpace(min_size=5).current_min_size == 5


def test_version_bumps_only_on_real_change():
    space = LabelSpace(n_min=50, fading=1.0, min_size=1)
    versions = set()
    for i in range(1000):
        before = space.partition
        space.learn(["a", "b"] if i % 2 else ["c", "d", "e"])
        if space.partition != before:
            versions.add(space.partition_version)
    assert len(versions) == space.partition_version  # one bump per change, none otherwise
    v = space.partition_version
    space.check_now()  # nothing changed in the stream: the partition stays
    assert space.partition_version == v


def test_check_now_reacts_without_waiting_for_the_grace_period():
    space = LabelSpace(n_min=10_000, fading=1.0, min_size=1)
    for i in range(300):
        space.learn(["a", "b"] if i % 2 else ["c", "d"])
    assert space.n_splits == 0  # the grace period has not ended
    events = space.check_now()
    assert [k for k, _ in events][:1] == ["cluster_split"]
    assert sorted(space.leaves) == [("a", "b"), ("c", "d")]


def test_speed_up_fading_forgets_the_past():
    space = LabelSpace(fading=1.0)
    for _ in range(100):
        space.learn(["a", "b"])
    space.speed_up_fading(0.1)
    block, n = space._stats.counts([0, 1])
    assert n == pytest.approx(10.0) and block[0, 1] == pytest.approx(10.0)
    with pytest.raises(ValueError, match="factor"):
        space.speed_up_fading(1.5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"delta": 0.0}, "delta"),
        ({"delta": 1.0}, "delta"),
        ({"tau": -0.1}, "tau"),
        ({"n_min": 0}, "n_min"),
        ({"n_min": 2.5}, "n_min"),
        ({"fading": 0.0}, "fading"),
        ({"fading": 1.1}, "fading"),
        ({"min_size": 0}, "min_size"),
        ({"max_depth": -1}, "max_depth"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LabelSpace(**kwargs)


def test_pickle_round_trip_gives_identical_future():
    rng = np.random.default_rng(0)
    groups = [["a", "b", "c"], ["d", "e", "f", "g"], ["h", "i"]]

    def draw():
        y = set()
        for g in groups:
            if rng.random() < 0.4:
                y.update(lab for lab in g if rng.random() < 0.85)
        if rng.random() < 0.01:
            y.add(f"new{int(rng.integers(1000))}")
        return sorted(y)

    space = LabelSpace(n_min=60, fading=0.995)
    for _ in range(700):
        space.learn(draw())
    clone = pickle.loads(pickle.dumps(space))
    assert clone.partition == space.partition and clone.leaves == space.leaves
    for _ in range(1500):
        y = draw()
        assert clone.learn(y) == space.learn(y)
        assert clone.partition_version == space.partition_version
    assert clone.check_now() == space.check_now()
    assert clone.partition == space.partition and clone.leaves == space.leaves
    assert (clone.n_splits, clone.n_merges) == (space.n_splits, space.n_merges)
    assert space.n_splits > 0  # the comparison covered structural changes


def test_repr_shows_parameters():
    assert "n_min=7" in repr(LabelSpace(n_min=7))


def test_add_labels_accepts_y_itself():
    space = LabelSpace()
    assert [k for k, _ in space.add_labels({"a": True, "b": False})] == [
        "label_added", "label_added", "repartition"
    ]
    assert space.add_labels({"b": True, "a": False}) == []  # all known: one set comparison
    assert [d["label"] for _, d in space.add_labels({"c": False, "a": True})[:1]] == ["c"]
    assert space.labels == ["a", "b", "c"]


def test_partition_recomputed_after_a_split_while_statistics_settle():
    space = LabelSpace(n_min=50, fading=0.995, min_size=1)
    calls = []
    original = space._refine

    def spy(events):
        calls.append(space.n_seen)
        original(events)

    space._refine = spy
    split_at = None
    for t in range(1, 1001):
        events = space.learn(["a", "b"] if t % 2 else ["c", "d"])
        if split_at is None and any(k == "cluster_split" for k, _ in events):
            split_at = t
    assert split_at is not None
    follow_ups = [c - split_at for c in calls if c > split_at]
    # n_min, then doubling gaps within 4 / (1 - fading) = 800 instances
    assert follow_ups[:4] == [50, 150, 350, 750] and all(f <= 800 for f in follow_ups)


def test_memory_follows_the_pairs_seen_together_not_labels_squared():
    small, large = LabelSpace(), LabelSpace()
    small.add_labels(range(10))
    large.add_labels(range(4000))
    assert large.memory_bytes() < 4000 * 200 < 4000 * 4000  # O(labels), nothing seen together
    before = large.memory_bytes()
    for i in range(100):
        large.learn([(i + j) % 4000 for j in range(20)])  # 100 sets of 20: under 2,100 pairs
    grown = large.memory_bytes() - before
    assert 2 * 16 * 1000 < grown < 2 * 16 * 2100 * 4  # key + weight per pair, global + window
    assert large.memory_bytes() > small.memory_bytes()


def test_min_floor_bounds_the_mode_rule():
    """With min_size=None the minimum cluster size is max(mode of |Y|, min_floor)."""
    from ihomer.labels import LabelSpace

    # mutually exclusive labels (single-label stream): ODAC isolates every label
    single = [[f"l{i % 8}"] for i in range(3000)]
    spec = LabelSpace(n_min=100)
    floored = LabelSpace(n_min=100, min_floor=4)
    for present in single:
        spec.learn(present)
        floored.learn(present)
    assert spec.current_min_size == 1 and floored.current_min_size == 4
    assert max(len(c) for c in spec.partition) == 1, "the spec's rule: singletons"
    assert min(len(c) for c in floored.partition) >= 4
    for space in (spec, floored):
        space.check_invariant()
