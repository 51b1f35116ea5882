"""Seeded synthetic multi-label stream with planted label clusters and scheduled drift.

This module owns :class:`LabelClusterStream` (the generator), :class:`Drift` (one scheduled change)
and :class:`Truth` (the ground truth behind one instance). The stream knows, at every position,
which partition of the labels is in force, so tests and benchmarks can check a learner's label
clusters against it. It must not know about learners, metrics or files.

Generative model (one *regime* per stretch between drifts):

* the labels are split into ``n_clusters`` disjoint groups of near-equal sizes (seeded shuffle);
* each cluster ``k`` has a centroid ``mu_k`` in ``{-1, +1}`` over the ``informative`` features;
  each label ``l`` has a unit weight vector ``w_l`` over the same features;
* an instance draws an active cluster uniformly, and with probability ``between`` a second one;
  a latent ``u ~ N(0, I)`` sets its informative features to ``mean(mu_active) + u / 2 + noise``;
  label ``l`` is on iff its cluster is active and ``w_l . u > q``, ``q`` chosen so that
  ``P(on | active) = within``; the other features are pure ``N(0, 1)`` noise;
* so the active cluster is recoverable from the features, and inside it which labels are on
  depends on the features too.

Drift kinds: ``"labels"`` draws a new partition of the labels (adjusted Rand index below 0.3
against the old one, same number of clusters, centroids and label rules kept), ``"concept"`` draws
new centroids and label rules (same partition), ``"both"`` does both.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from statistics import NormalDist
from typing import NamedTuple

import numpy as np

from streams.base import Stream
from streams.partition_metrics import adjusted_rand_index

__all__ = ["DRIFT_KINDS", "Drift", "LabelClusterStream", "Truth", "parse_drifts"]

#: The kinds of :class:`Drift`.
DRIFT_KINDS = ("labels", "concept", "both")

#: Instances generated per numpy block (changing it changes the stream for a seed) ...
_BLOCK = 1024
#: ... unless a block's (rows x max(features, labels)) matrices would exceed this many cells.
_BLOCK_CELLS = 1 << 20
#: Scale of the within-cluster latent part of the informative features (centroids are +-1).
_SPREAD = 0.5
#: Sparse mode: probability that a "topic" feature of an active cluster is non-zero.
_P_TOPIC = 0.8
#: A new partition after a labels drift must have an adjusted Rand index below this.
_MAX_ARI = 0.3
_PARTITION_TRIES = 200
_CENTROID_TRIES = 50


@dataclass(frozen=True)
class Drift:
    """One scheduled change of a :class:`LabelClusterStream`.

    Parameters
    ----------
    at
        Position (0-based instance index) where the change is centred: from ``at`` on, the new
        regime is the more probable one.
    kind
        ``"labels"`` (the label-cluster partition changes), ``"concept"`` (the feature to label
        mapping changes, same partition) or ``"both"``.
    width
        ``0``: abrupt. ``> 0``: gradual; over ``width`` instances centred on ``at`` each instance
        comes from the new regime with a probability rising linearly from 0 to 1.

    Examples
    --------
    >>> Drift(500)
    Drift(at=500, kind='labels', width=0)
    >>> Drift(500, "concept", width=200).window
    (400.0, 600.0)
    """

    at: int
    kind: str = "labels"
    width: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.at, bool) or not isinstance(self.at, int | np.integer) or self.at < 0:
            raise ValueError(f"Drift.at must be an int >= 0, got {self.at!r}")
        if self.kind not in DRIFT_KINDS:
            raise ValueError(f"Drift.kind must be one of {DRIFT_KINDS}, got {self.kind!r}")
        if (
            isinstance(self.width, bool)
            or not isinstance(self.width, int | np.integer)
            or self.width < 0
        ):
            raise ValueError(f"Drift.width must be an int >= 0, got {self.width!r}")

    @property
    def window(self) -> tuple[float, float]:
        """``(start, end)`` positions of the mixing window (``(at, at)`` for an abrupt drift)."""
        return (self.at - self.width / 2, self.at + self.width / 2)

    def p_new(self, positions: np.ndarray) -> np.ndarray:
        """Probability that each position is drawn from the new regime."""
        positions = np.asarray(positions, dtype=np.float64)
        if self.width == 0:
            return (positions >= self.at).astype(np.float64)
        return np.clip((positions - self.at) / self.width + 0.5, 0.0, 1.0)


class Truth(NamedTuple):
    """Ground truth behind one generated instance."""

    position: int  # 0-based index in the stream
    regime: int  # 0 before the first drift, k after the k-th
    clusters: tuple[int, ...]  # active cluster ids (primary first), ids index partition_at()


class _Block(NamedTuple):
    start: int  # position of the first row
    x: np.ndarray  # (n, F) float, 0 = absent in sparse mode
    y: np.ndarray  # (n, L) bool
    regime: np.ndarray  # (n,) int
    c1: np.ndarray  # (n,) primary active cluster
    c2: np.ndarray  # (n,) second active cluster, meaningful where `two`
    two: np.ndarray  # (n,) bool


class _Regime(NamedTuple):
    label_cluster: np.ndarray  # (L,) cluster id of each label
    centroids: np.ndarray  # (K, m) in {-1, +1}
    weights: np.ndarray  # (L, m) unit rows
    partition: list[frozenset[str]]


def _is_int(v: object) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _is_real(v: object) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def parse_drifts(text: str | int) -> list[Drift]:
    """``"AT[:KIND[:WIDTH]]+..."`` (the ``drifts=`` of a ``synth:`` spec) -> a list of
    :class:`Drift`; a ValueError names a malformed part.

    Examples
    --------
    >>> parse_drifts("500:labels+900:concept:100")
    [Drift(at=500, kind='labels', width=0), Drift(at=900, kind='concept', width=100)]
    >>> parse_drifts(700)
    [Drift(at=700, kind='labels', width=0)]
    """
    drifts = []
    for part in filter(None, (p.strip() for p in str(text).split("+"))):
        bits = part.split(":")
        try:
            at = int(bits[0])
            kind = bits[1] if len(bits) > 1 else "labels"
            width = int(bits[2]) if len(bits) > 2 else 0
        except ValueError as exc:
            raise ValueError(f"drift {part!r}: expected AT[:KIND[:WIDTH]] ({exc})") from None
        drifts.append(Drift(at, kind, width))
    return drifts


class LabelClusterStream(Stream):
    """Multi-label stream with planted label clusters, features that reveal them, and drift.

    Iterating yields ``(x, y)``: ``x`` maps ``"f0" ..`` to floats (only the non-zero ones when
    ``sparse``), ``y`` maps every label ``"l0" ..`` to a bool. Deterministic for a ``seed``:
    iterating twice gives the same stream, and ``n_instances=N`` gives the first ``N`` instances of
    the infinite stream. Memory is constant; instances are made in numpy blocks.

    Parameters
    ----------
    n_features
        Number of features.
    n_labels
        Number of labels.
    n_clusters
        Number of planted label clusters (1 .. ``n_labels``), sizes as equal as possible.
    cardinality
        Target mean number of labels per instance. ``None``: set by ``within`` (about
        ``within * n_labels / n_clusters``). When given, it replaces ``within``:
        ``P(on | active) = cardinality * n_clusters / (n_labels * (1 + between))`` (``between``
        counts only when ``n_clusters > 1``), which must be in ``(0, 1]``.
    within
        Probability that a label of an active cluster is on (so the within-cluster Jaccard
        similarity is high).
    between
        Probability that an instance activates a second cluster (so the between-cluster Jaccard
        similarity stays low, below ``between``).
    informative
        Number of features that carry the cluster centroids and the label rules (seeded choice of
        columns); the others are noise. ``None``: half of the features (at least enough to tell the
        clusters apart, ``2 ** informative >= n_clusters``).
    noise
        Dense: standard deviation of the Gaussian noise added to the informative features.
        Sparse: probability that a feature outside the active clusters' topics is non-zero.
    drifts
        :class:`Drift` objects (any order; their mixing windows must not overlap).
    n_instances
        Length of the stream; ``None`` for an infinite stream.
    seed
        Seed of everything random.
    sparse
        ``True``: features are non-negative and mostly zero, and ``x`` holds only the non-zero
        ones. Each cluster's "topic" (its informative features with centroid ``+1``) is non-zero
        with probability 0.8, every other feature with probability ``noise``; a non-zero
        informative value is ``exp(u / 2 + noise * e)``, so it still carries the label rules.
    allow_empty
        ``False`` (default): an instance whose active clusters drew no label gets the label whose
        rule came closest to firing, so label sets are never empty.
    limit
        Stop after this many instances, as every :class:`streams.base.Stream` (with
        ``n_instances`` too, the smaller one wins; drifts are checked against ``n_instances``).

    Attributes
    ----------
    name, source, labels, features, sparse
        As every :class:`streams.base.Stream`.

    Notes
    -----
    Ground truth: :meth:`partition_at`, :meth:`regime_at` and :attr:`drift_points` answer for any
    position; :meth:`iter_with_truth` adds a :class:`Truth` (regime and active clusters) to each
    instance; :meth:`iter_arrays` gives the same instances as numpy blocks.

    Examples
    --------
    >>> s = LabelClusterStream(n_features=6, n_labels=6, n_clusters=2, n_instances=1000,
    ...                        drifts=[Drift(500)], seed=1)
    >>> x, y = next(iter(s))
    >>> sorted(x) == s.features, sorted(y) == sorted(s.labels)
    (True, True)
    >>> s.drift_points, s.regime_at(499), s.regime_at(500)
    ([500], 0, 1)
    >>> [len(c) for c in s.partition_at(0)]
    [3, 3]
    >>> sum(1 for _ in s)
    1000
    >>> from streams.partition_metrics import adjusted_rand_index
    >>> adjusted_rand_index(s.partition_at(0), s.partition_at(500)) < 0.3
    True
    """

    def __init__(
        self,
        n_features: int = 20,
        n_labels: int = 12,
        n_clusters: int = 3,
        cardinality: float | None = None,
        within: float = 0.9,
        between: float = 0.02,
        informative: int | None = None,
        noise: float = 0.1,
        drifts: Iterable[Drift] = (),
        n_instances: int | None = None,
        seed: int = 0,
        sparse: bool = False,
        allow_empty: bool = False,
        *,
        limit: int | None = None,
    ) -> None:
        where = "LabelClusterStream"
        if not _is_int(n_features) or n_features < 1:
            raise ValueError(f"{where}: n_features must be an int >= 1, got {n_features!r}")
        if not _is_int(n_labels) or n_labels < 1:
            raise ValueError(f"{where}: n_labels must be an int >= 1, got {n_labels!r}")
        if not _is_int(n_clusters) or not 1 <= n_clusters <= n_labels:
            raise ValueError(
                f"{where}: n_clusters must be an int in [1, n_labels={n_labels}], "
                f"got {n_clusters!r}"
            )
        if not _is_real(within) or not 0 < within <= 1:
            raise ValueError(f"{where}: within must be a probability in (0, 1], got {within!r}")
        if not _is_real(between) or not 0 <= between <= 1:
            raise ValueError(f"{where}: between must be a probability in [0, 1], got {between!r}")
        if cardinality is not None:
            if not _is_real(cardinality) or cardinality <= 0:
                raise ValueError(
                    f"{where}: cardinality must be None or a number > 0, got {cardinality!r}"
                )
            reach = n_labels * (1 + (between if n_clusters > 1 else 0)) / n_clusters
            if cardinality > reach:
                raise ValueError(
                    f"{where}: cardinality={cardinality} is more than the expected number of "
                    f"labels in the active cluster(s) ({reach:.3g}); lower it, or lower "
                    f"n_clusters, or raise n_labels or between"
                )
        min_informative = max(1, int(np.ceil(np.log2(n_clusters))))
        if informative is None:
            if n_features < min_informative:
                raise ValueError(
                    f"{where}: n_features={n_features} cannot tell {n_clusters} clusters apart "
                    f"(need at least {min_informative} features)"
                )
        elif not _is_int(informative) or not 1 <= informative <= n_features:
            raise ValueError(
                f"{where}: informative must be None or an int in [1, n_features={n_features}], "
                f"got {informative!r}"
            )
        elif informative < min_informative:
            raise ValueError(
                f"{where}: informative={informative} features cannot tell {n_clusters} clusters "
                f"apart (need 2 ** informative >= n_clusters, so informative >= "
                f"{min_informative})"
            )
        if not isinstance(sparse, bool):
            raise ValueError(f"{where}: sparse must be a bool, got {sparse!r}")
        if not isinstance(allow_empty, bool):
            raise ValueError(f"{where}: allow_empty must be a bool, got {allow_empty!r}")
        if not _is_real(noise) or noise < 0 or (sparse and noise > 1):
            bound = "a probability in [0, 1] when sparse" if sparse else "a number >= 0"
            raise ValueError(f"{where}: noise must be {bound}, got {noise!r}")
        if n_instances is not None and (not _is_int(n_instances) or n_instances < 0):
            raise ValueError(
                f"{where}: n_instances must be None or an int >= 0, got {n_instances!r}"
            )
        if not _is_int(seed):
            raise ValueError(f"{where}: seed must be an int, got {seed!r}")
        drifts = tuple(drifts)
        for k, d in enumerate(drifts):
            if not isinstance(d, Drift):
                raise ValueError(f"{where}: drifts[{k}] must be a Drift, got {d!r}")
            if n_instances is not None and d.at >= n_instances:
                raise ValueError(
                    f"{where}: drifts[{k}] at={d.at} is beyond the stream "
                    f"(n_instances={n_instances})"
                )
            if d.kind in ("labels", "both") and n_clusters in (1, n_labels):
                raise ValueError(
                    f"{where}: drifts[{k}] kind={d.kind!r} cannot change the partition when "
                    f"n_clusters={n_clusters} and n_labels={n_labels} (only one partition exists)"
                )
        ordered = sorted(drifts, key=lambda d: d.at)
        for prev, nxt in zip(ordered, ordered[1:], strict=False):
            if nxt.window[0] < prev.window[1] or nxt.at == prev.at:
                raise ValueError(
                    f"{where}: the mixing windows of {prev} and {nxt} overlap; "
                    f"space the drifts further apart or narrow them"
                )

        if limit is not None and (not _is_int(limit) or limit < 0):
            raise ValueError(f"{where}: limit must be None or an int >= 0, got {limit!r}")
        stop = [v for v in (n_instances, limit) if v is not None]
        super().__init__(limit=min(stop) if stop else None)
        # Parameters (n_features / n_labels are the base class's len(features) / len(labels)).
        self.n_clusters = n_clusters
        self.cardinality = cardinality
        self.within = within
        self.between = between
        self.informative = informative
        self.noise = noise
        self.drifts = drifts
        self.n_instances = n_instances
        self.seed = seed
        self.sparse = sparse
        self.allow_empty = allow_empty
        # Stream attributes.
        self.name = f"synth_L{n_labels}_K{n_clusters}_s{seed}"
        self.source = "<synthetic>"
        self.labels = [f"l{j}" for j in range(n_labels)]
        self.features = [f"f{j}" for j in range(n_features)]
        # Derived, private.
        self._drifts = tuple(ordered)
        self._m = (
            informative
            if informative is not None
            else min(n_features, max(n_features // 2, min_informative))
        )
        if cardinality is None:
            self._p_on = float(within)
        else:
            reach = n_labels * (1 + (between if n_clusters > 1 else 0)) / n_clusters
            self._p_on = float(cardinality) / reach
        self._regimes: list[_Regime] | None = None
        self._informative_cols: np.ndarray | None = None

    # -- ground truth ------------------------------------------------------------------------
    @property
    def drift_points(self) -> list[int]:
        """Positions of the scheduled drifts, in order."""
        return [d.at for d in self._drifts]

    def regime_at(self, i: int) -> int:
        """Index of the regime in force at position ``i`` (the more probable one in a window)."""
        if not _is_int(i) or i < 0:
            raise ValueError(f"LabelClusterStream.regime_at: i must be an int >= 0, got {i!r}")
        return sum(1 for d in self._drifts if i >= d.at)

    def partition_at(self, i: int) -> list[frozenset[str]]:
        """The planted partition of the labels in force at position ``i``.

        Cluster ``k`` of the list is the cluster id ``k`` of :class:`Truth`. Within a gradual
        drift's window this is the partition of the more probable regime.
        """
        return list(self._get_regimes()[self.regime_at(i)].partition)

    def iter_with_truth(self) -> Iterator[tuple[dict[str, float], dict[str, bool], Truth]]:
        """Iterate ``(x, y, truth)``: the same instances as ``iter(self)``, with their truth."""
        return self._generate(with_truth=True, limit=self.limit)

    # -- generation ----------------------------------------------------------------------------
    def _records(self) -> Iterator[tuple[dict[str, float], dict[str, bool]]]:
        return self._generate(with_truth=False, limit=None)

    def _get_regimes(self) -> list[_Regime]:
        if self._regimes is None:
            self._build()
        return self._regimes  # type: ignore[return-value]

    def _new_partition(
        self, rng: np.random.Generator, old: list[frozenset[str]] | None
    ) -> np.ndarray:
        n_labels, k = len(self.labels), self.n_clusters
        best, best_ari = None, np.inf
        for _ in range(_PARTITION_TRIES if old is not None else 1):
            assign = np.empty(n_labels, dtype=np.int64)
            for c, members in enumerate(np.array_split(rng.permutation(n_labels), k)):
                assign[members] = c
            if old is None:
                return assign
            ari = adjusted_rand_index(old, self._partition(assign))
            if ari < best_ari:
                best, best_ari = assign, ari
            if ari < _MAX_ARI:
                break
        return best  # type: ignore[return-value]

    def _partition(self, assign: np.ndarray) -> list[frozenset[str]]:
        return [
            frozenset(self.labels[j] for j in np.flatnonzero(assign == c))
            for c in range(self.n_clusters)
        ]

    def _new_concept(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        k, m = self.n_clusters, self._m
        best, best_gap = None, -1
        for _ in range(_CENTROID_TRIES):
            cent = rng.choice(np.array([-1.0, 1.0]), size=(k, m))
            gap = m if k == 1 else min(
                int(np.sum(cent[a] != cent[b])) for a in range(k) for b in range(a + 1, k)
            )
            if gap > best_gap:
                best, best_gap = cent, gap
            if gap >= max(1, m // 3):
                break
        w = rng.standard_normal((len(self.labels), m))
        w /= np.linalg.norm(w, axis=1, keepdims=True)
        return best, w  # type: ignore[return-value]

    def _build(self) -> None:
        struct = np.random.default_rng([self.seed, 0])
        self._informative_cols = np.sort(
            struct.choice(len(self.features), size=self._m, replace=False)
        )
        rng = np.random.default_rng([self.seed, 0, 0])
        assign = self._new_partition(rng, None)
        cent, w = self._new_concept(rng)
        regimes = [_Regime(assign, cent, w, self._partition(assign))]
        for r, d in enumerate(self._drifts, start=1):
            rng = np.random.default_rng([self.seed, 0, r])
            prev = regimes[-1]
            assign, cent, w = prev.label_cluster, prev.centroids, prev.weights
            if d.kind in ("labels", "both"):
                assign = self._new_partition(rng, prev.partition)
            if d.kind in ("concept", "both"):
                cent, w = self._new_concept(rng)
            regimes.append(_Regime(assign, cent, w, self._partition(assign)))
        self._regimes = regimes

    def _threshold(self) -> float:
        p = self._p_on
        return -np.inf if p >= 1 else NormalDist().inv_cdf(1 - p)

    def _blocks(self, limit: int | None) -> Iterator[_Block]:
        """The stream as numpy blocks, the last one cut at ``limit``."""
        regimes = self._get_regimes()
        n_feat, k = len(self.features), self.n_clusters
        between = self.between if k > 1 else 0.0
        rng = np.random.default_rng([self.seed, 1])
        n = int(np.clip(_BLOCK_CELLS // max(n_feat, len(self.labels)), 1, _BLOCK))
        start = 0
        while limit is None or start < limit:
            pos = np.arange(start, start + n)
            # Every draw of a block, always in the same order and shapes (the drift schedule and
            # the regimes do not change which random numbers an instance gets).
            r_u = rng.random(n)
            c1 = rng.integers(k, size=n)
            two = rng.random(n) < between
            c2 = (c1 + 1 + rng.integers(max(k - 1, 1), size=n)) % k
            u = rng.standard_normal((n, self._m))
            e = rng.standard_normal((n, n_feat))
            present_u = rng.random((n, n_feat)) if self.sparse else None

            regime = np.zeros(n, dtype=np.int64)
            for d in self._drifts:
                if d.window[0] <= pos[-1]:
                    regime += r_u < d.p_new(pos)
            x = np.zeros((n, n_feat))
            y = np.zeros((n, len(self.labels)), dtype=bool)
            for r in np.unique(regime):
                rows = np.flatnonzero(regime == r)
                g = regimes[r]
                a1, a2, tw, ur = c1[rows], c2[rows], two[rows], u[rows]
                y[rows] = self._block_labels(g, a1, a2, tw, ur)
                pu = None if present_u is None else present_u[rows]
                x[rows] = self._block_features(g, a1, a2, tw, ur, e[rows], pu)
            stop = n if limit is None else min(n, limit - start)
            cut = slice(0, stop)
            yield _Block(start, x[cut], y[cut], regime[cut], c1[cut], c2[cut], two[cut])
            start += n

    def _block_labels(self, g: _Regime, a1, a2, two, u) -> np.ndarray:
        lc = g.label_cluster
        active = (lc[None, :] == a1[:, None]) | (two[:, None] & (lc[None, :] == a2[:, None]))
        score = u @ g.weights.T - self._threshold()
        on = active & (score > 0)
        if not self.allow_empty:
            empty = np.flatnonzero(~on.any(axis=1))
            if len(empty):
                best = np.argmax(np.where(active[empty], score[empty], -np.inf), axis=1)
                on[empty, best] = True
        return on

    def _block_features(self, g: _Regime, a1, a2, two, u, e, present_u) -> np.ndarray:
        cols = self._informative_cols
        other = np.ones(e.shape[1], dtype=bool)
        other[cols] = False
        noise = float(self.noise)
        x = np.empty_like(e)
        if not self.sparse:
            cent = g.centroids[a1]
            cent[two] = (cent[two] + g.centroids[a2[two]]) / 2
            x[:, cols] = cent + _SPREAD * u + noise * e[:, cols]
            x[:, other] = e[:, other]
            return x
        topic = g.centroids[a1] > 0
        topic[two] |= g.centroids[a2[two]] > 0
        p = np.full(e.shape, noise)
        p[:, cols] = np.where(topic, _P_TOPIC, noise)
        x[:, cols] = np.exp(_SPREAD * u + noise * e[:, cols])
        x[:, other] = np.exp(_SPREAD * e[:, other])
        x[present_u >= p] = 0.0
        return x

    def _x_dicts(self, x: np.ndarray) -> list[dict[str, float]]:
        features = self.features
        if not self.sparse:
            return [dict(zip(features, row, strict=True)) for row in x.tolist()]
        mask = x != 0
        rr, cc = np.nonzero(mask)
        keys = np.array(features, dtype=object)[cc].tolist()
        vals = x[rr, cc].tolist()
        out, a = [], 0
        for b in np.cumsum(mask.sum(axis=1)).tolist():
            out.append(dict(zip(keys[a:b], vals[a:b], strict=True)))
            a = b
        return out

    def _generate(self, with_truth: bool, limit: int | None) -> Iterator:
        labels = self.labels
        for blk in self._blocks(limit):
            x_rows, y_rows = self._x_dicts(blk.x), blk.y.tolist()
            if not with_truth:
                for xd, yr in zip(x_rows, y_rows, strict=True):
                    yield xd, dict(zip(labels, yr, strict=True))
                continue
            reg, c1, c2 = blk.regime.tolist(), blk.c1.tolist(), blk.c2.tolist()
            two = blk.two.tolist()
            for j, (xd, yr) in enumerate(zip(x_rows, y_rows, strict=True)):
                clusters = (c1[j], c2[j]) if two[j] else (c1[j],)
                yield xd, dict(zip(labels, yr, strict=True)), Truth(blk.start + j, reg[j], clusters)

    def iter_arrays(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Iterate the same instances as numpy blocks ``(X, Y)``, no dicts (for batch learners).

        ``X`` is float64 ``(n, n_features)`` in :attr:`features` order (zeros included when
        ``sparse``), ``Y`` is bool ``(n, n_labels)`` in :attr:`labels` order; ``n`` is an internal
        block size (at most 1024), smaller for the last block of a finite stream.
        """
        for blk in self._blocks(self.limit):
            yield blk.x, blk.y

    def __repr__(self) -> str:
        return (
            f"LabelClusterStream(n_features={len(self.features)}, n_labels={len(self.labels)}, "
            f"n_clusters={self.n_clusters}, cardinality={self.cardinality}, "
            f"within={self.within}, between={self.between}, informative={self.informative}, "
            f"noise={self.noise}, drifts={list(self._drifts)}, n_instances={self.n_instances}, "
            f"seed={self.seed}, sparse={self.sparse}, allow_empty={self.allow_empty}, "
            f"limit={self.limit})"
        )
