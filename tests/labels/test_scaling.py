"""The label partition at 1,000-10,000 labels keeps planted clusters apart (issue 13).

Streams: at 1,000 labels :class:`streams.synth.LabelClusterStream` as
``benchmarks/label_scaling.py`` builds it (100 features, one planted cluster per 20 labels,
seed 0); at 5,000 and 10,000 labels a cheaper generator of label sets alone with the same shape
(:func:`simple_planted`; the features would take seconds to generate). They are fed to a
``LabelSpace`` configured as ``IHOMER(partitioning="hierarchy")`` configures it (``n_min=200``,
``fading=0.999``, ``min_floor=4``), every label registered first as the model does.

Thresholds, from measurements (the pre-fix figures are those of the dense ODAC label space):

* 1,000 labels (50 planted): adjusted Rand index 1.000 at 1,000 and at 2,000 instances; before,
  0.044 at 1,000 (32 clusters of about 31 labels, cutting across the planted ones; this test
  fails there). Required: >= 0.95 at 1,000 instances.
* 5,000 / 10,000 labels (250 / 500 planted, 8 / 4 instances each in 2,000): pair recall
  0.974 / 0.955 and pair precision 1.000 / 0.994 outside the group of *unplaced* labels (64 /
  444 labels whose cluster was never seen with two of its labels in one window), 251 / 489
  clusters. Before, inside IHOMER at 2,000 instances of LabelClusterStream: ARI 0.018 / 0.015,
  205 / 413 clusters, 2,219 leaves for 250 planted. Required: recall and precision >= 0.9,
  unplaced <= 10% of the labels, clusters within 10% of the planted count, <= 2 leaves per
  planted cluster.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from ihomer.labels import LabelSpace
from streams.partition_metrics import adjusted_rand_index
from streams.synth import LabelClusterStream


def planted_stream(n_labels: int, n: int) -> tuple[list[list[str]], list[frozenset], list[str]]:
    s = LabelClusterStream(
        n_features=100, n_labels=n_labels, n_clusters=n_labels // 20, sparse=False,
        n_instances=n, seed=0,
    )
    names = np.asarray(s.labels)
    sets = [names[row].tolist() for _, Y in s.iter_arrays() for row in Y]  # as the dicts say
    return sets, s.partition_at(0), list(s.labels)


def simple_planted(n_labels: int, n: int, seed: int = 0, within: float = 0.9,
                   between: float = 0.02) -> tuple[list[list[int]], list[list[int]]]:
    """Label sets over labels ``0 .. n_labels-1`` with one planted cluster per 20 labels (shuffled
    assignment): an instance activates one cluster (a second with probability ``between``), each
    label of an active cluster is present with probability ``within`` (at least one is)."""
    rng = np.random.default_rng(seed)
    k = n_labels // 20
    assign = rng.permutation(np.arange(n_labels) % k)
    members = [np.flatnonzero(assign == c) for c in range(k)]
    sets = []
    for _ in range(n):
        active = [int(rng.integers(k))]
        if rng.random() < between:
            active.append(int(rng.integers(k)))
        on = np.concatenate([m[rng.random(m.size) < within] for m in members_of(members, active)])
        if not on.size:
            on = members[active[0]][:1]
        sets.append(sorted(set(on.tolist())))
    return sets, [m.tolist() for m in members]


def members_of(members: list[np.ndarray], active: list[int]) -> list[np.ndarray]:
    return [members[c] for c in dict.fromkeys(active)]


def pair_scores(partition, truth, skip=frozenset()) -> tuple[float, float]:
    """(recall, precision) over label pairs: the share of the planted pairs that share a cluster,
    and the share of the pairs sharing a cluster that are planted together, over the clusters
    holding no label of ``skip``."""
    where = {lab: i for i, c in enumerate(truth) for lab in c}
    recall = sum(_planted_pairs(c, where) for c in partition) / sum(
        len(c) * (len(c) - 1) // 2 for c in truth
    )
    kept = [c for c in partition if not skip & set(c)]
    together = sum(len(c) * (len(c) - 1) // 2 for c in kept)
    return recall, sum(_planted_pairs(c, where) for c in kept) / max(together, 1)


def _planted_pairs(cluster, where) -> int:
    counts: dict[int, int] = {}
    for lab in cluster:
        counts[where[lab]] = counts.get(where[lab], 0) + 1
    return sum(v * (v - 1) // 2 for v in counts.values())


def space_like_the_model() -> LabelSpace:
    return LabelSpace(n_min=200, fading=0.999, min_floor=4)


def test_arrays_give_the_label_sets_of_the_dicts():
    s = LabelClusterStream(n_features=100, n_labels=200, n_clusters=10, n_instances=50, seed=0)
    assert planted_stream(200, 50)[0] == [[k for k, v in y.items() if v] for _, y in s]


def test_thousand_labels_planted_clusters_found_within_a_thousand_instances():
    sets, truth, labels = planted_stream(1000, 1000)
    space = space_like_the_model()
    space.add_labels(labels)
    for y in sets:
        space.learn(y)
    space.check_invariant()
    assert adjusted_rand_index(truth, [set(c) for c in space.partition]) >= 0.95
    assert len(truth) <= len(space.partition) <= len(truth) + 5


@pytest.mark.parametrize("n_labels", [5000, 10000])
def test_five_and_ten_thousand_labels_do_not_collapse_nor_fragment(n_labels):
    sets, truth = simple_planted(n_labels, 2000)
    space = space_like_the_model()
    space.add_labels(range(n_labels))
    t0 = time.process_time()
    for y in sets:
        space.learn(y)
    cpu = time.process_time() - t0
    space.check_invariant()
    unplaced = frozenset(g for n in space._tree.leaves() if n.unplaced for g in n.labels)
    recall, precision = pair_scores(space.partition, truth, unplaced)
    # measured: 5k 251 clusters, recall 0.974, precision 1.000 (0.958 with the unplaced group:
    # ARI 0.966), 64 unplaced labels;
    # 10k 489 clusters, recall 0.955, precision 0.994 outside the 444 unplaced labels (labels of
    # the clusters seen at most once, alone or never: no evidence of where they belong)
    assert recall >= 0.9 and precision >= 0.9
    assert len(unplaced) <= 0.1 * n_labels
    assert len(truth) * 0.9 <= len(space.partition) <= len(truth) * 1.1
    assert len(space.leaves) <= 2 * len(truth)  # measured before: 2,219 leaves for 250
    # the label side stays cheap (measured 0.27 / 0.6 ms per instance; generous for a loaded
    # machine), and memory follows the pairs seen together, not labels² (10k²: 800 MB)
    assert cpu / len(sets) < 3e-3
    assert space.memory_bytes() < 20e6
