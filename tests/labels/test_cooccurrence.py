"""Co-occurrence counts and Jaccard distances against brute force (with fading and windows)."""

from __future__ import annotations

import numpy as np
import pytest

from ihomer.labels.cooccurrence import CooccurrenceStats, jaccard_distance


def brute_counts(sets: list[list[int]], n_labels: int, fading: float, start: int = 0):
    """n (scalar) and the n11 matrix (n1 on the diagonal) of sets[start:], faded from the end."""
    T = len(sets)
    c = np.zeros((n_labels, n_labels))
    n = 0.0
    for t in range(start, T):
        w = fading ** (T - 1 - t)
        n += w
        for a in sets[t]:
            for b in sets[t]:
                c[a, b] += w
    return c, n


def brute_jaccard(c: np.ndarray) -> np.ndarray:
    L = c.shape[0]
    d = np.ones((L, L))
    for a in range(L):
        for b in range(L):
            den = c[a, a] + c[b, b] - c[a, b]
            d[a, b] = 1.0 - c[a, b] / den if den > 0 else 1.0
    return d


def random_sets(rng: np.random.Generator, n: int, n_labels: int) -> list[list[int]]:
    out = []
    for _ in range(n):
        k = int(rng.integers(0, min(n_labels, 6) + 1))
        out.append(sorted(rng.choice(n_labels, size=k, replace=False).tolist()))
    return out


def test_jaccard_distance_matches_definition():
    rng = np.random.default_rng(0)
    sets = random_sets(rng, 300, 9)
    c, _ = brute_counts(sets, 9, 1.0)
    np.testing.assert_allclose(jaccard_distance(c), brute_jaccard(c))


def test_jaccard_zero_denominator_is_distance_one():
    c = np.zeros((3, 3))
    c[0, 0] = 5.0
    d = jaccard_distance(c)
    assert d[1, 2] == 1.0 and d[0, 1] == 1.0 and d[0, 0] == 0.0


@pytest.mark.parametrize("fading", [1.0, 0.97, 0.5])
def test_counts_match_brute_force(fading):
    # fading 0.5 renormalises the lazy scale many times (0.5 ** -t passes 1e100 at t ~ 333)
    rng = np.random.default_rng(1)
    n_labels = 11
    sets = random_sets(rng, 800, n_labels)
    s = CooccurrenceStats(fading)
    for _ in range(n_labels):
        s.add_label()
    for y in sets:
        s.update(y)
    c, n = s.counts(range(n_labels))
    bc, bn = brute_counts(sets, n_labels, fading)
    np.testing.assert_allclose(c, bc, rtol=1e-9, atol=1e-12)
    assert s.n == pytest.approx(bn, rel=1e-9)
    np.testing.assert_allclose(
        s.distance_rows(np.arange(n_labels)), brute_jaccard(bc), rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize("fading", [1.0, 0.95, 0.5])
def test_window_counts_only_since_opened(fading):
    rng = np.random.default_rng(2)
    n_labels = 8
    sets = random_sets(rng, 600, n_labels)
    s = CooccurrenceStats(fading)
    for _ in range(n_labels):
        s.add_label()
    sub = [1, 4, 6]
    for t, y in enumerate(sets):
        if t == 250:
            s.open_window("w", sub)
        s.update(y)
    block, n = s.window("w")
    bc, bn = brute_counts(sets, n_labels, fading, start=250)
    np.testing.assert_allclose(block, bc[np.ix_(sub, sub)], rtol=1e-9, atol=1e-9)
    assert n == pytest.approx(bn, rel=1e-9)


def test_window_extended_with_new_label_and_capacity_growth():
    s = CooccurrenceStats()
    a = s.add_label()
    s.open_window("w", [a])
    s.update([a])
    new = [s.add_label() for _ in range(20)]  # grows the matrix past its first capacity
    s.extend_window("w", new[:2])
    s.update([a, new[0]])
    s.update([new[0], new[1]])
    block, n = s.window("w")
    assert n == 3.0
    np.testing.assert_array_equal(block, [[2, 1, 0], [1, 2, 1], [0, 1, 1]])


def test_update_touches_only_present_labels():
    s = CooccurrenceStats()
    for _ in range(50):
        s.add_label()
    s.update([3, 7, 9])
    c, n = s.counts(range(50))
    assert n == 1.0 and c.sum() == 9.0
    assert c[np.ix_([3, 7, 9], [3, 7, 9])].min() == 1.0


def test_discount_scales_the_past_and_windows():
    s = CooccurrenceStats(0.9)
    a, b = s.add_label(), s.add_label()
    for _ in range(30):
        s.update([a, b])
    s.open_window("w", [a, b])
    for _ in range(10):
        s.update([a])
    before_c, before_n = s.counts([a, b])
    wb, wn = s.window("w")
    s.discount(0.25)
    after_c, after_n = s.counts([a, b])
    np.testing.assert_allclose(after_c, before_c * 0.25)
    assert after_n == pytest.approx(before_n * 0.25)
    wa, wn2 = s.window("w")
    np.testing.assert_allclose(wa, wb * 0.25)
    assert wn2 == pytest.approx(wn * 0.25)
    s.update([b])  # a new instance weighs 1 after the discount
    assert s.counts([b])[0][0, 0] == pytest.approx(before_c[1, 1] * 0.25 * 0.9 + 1.0)


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_bad_fading_rejected(bad):
    with pytest.raises(ValueError, match="fading"):
        CooccurrenceStats(bad)


def test_pickle_of_the_dense_version_loads_as_sparse_counts():
    """A state pickled by the dense version (``_m``: ``L × L`` counts, windows as ``[gids,
    snapshot, n0]``) is converted: same counts, same window counts."""
    import pickle

    rng = np.random.default_rng(5)
    sets = random_sets(rng, 200, 6)
    bc, bn = brute_counts(sets, 6, 1.0)
    late, late_n = brute_counts(sets, 6, 1.0, start=120)
    sub = [1, 3, 4]
    m = np.zeros((8, 8))
    m[:6, :6] = bc
    snap = (bc - late)[np.ix_(sub, sub)]
    old = {"fading": 1.0, "_inv_fading": 1.0, "_m": m, "_n_labels": 6, "_w": 1.0, "_n": bn,
           "_windows": {"w": [np.array(sub), snap, bn - late_n]}}
    s = CooccurrenceStats.__new__(CooccurrenceStats)
    s.__setstate__(old)
    s = pickle.loads(pickle.dumps(s))
    np.testing.assert_allclose(s.counts(range(6))[0], bc)
    block, n = s.window("w")
    np.testing.assert_allclose(block, late[np.ix_(sub, sub)])
    assert n == pytest.approx(late_n)
    s.update([1, 3])  # and it goes on counting
    assert s.window("w")[0][0, 1] == pytest.approx(late[1, 3] + 1)


def test_windows_are_disjoint_and_pairs_sparse():
    s = CooccurrenceStats()
    for _ in range(1000):
        s.add_label()
    s.open_window("a", [0, 1, 2])
    with pytest.raises(ValueError, match="already in a window"):
        s.open_window("b", [2, 3])
    s.open_window("b", [3, 4])
    s.update([0, 1, 3, 4, 999])  # shared out: pairs (0, 1) to "a", (3, 4) to "b"
    n1, i, j, n11, n, n_active = s.window_pairs("a")
    assert n1.tolist() == [1, 1, 0] and (i.tolist(), j.tolist(), n11.tolist()) == ([0], [1], [1])
    assert (n, n_active) == (1.0, 1.0)
    s.update([999])
    assert s.window_pairs("b")[4:] == (2.0, 1.0)  # n counts every instance, n_active its own
    assert s.n_pairs == 10  # the 5 labels' pairs, nothing else of the 1000 x 1000
