"""Seeded synthetic sparse *text* stream: word counts over a Zipfian vocabulary, planted label
clusters with their own topic words, labels with their own cue words.

This module owns :class:`SyntheticTextStream`. It is the many-feature companion of
:class:`streams.synth.LabelClusterStream` (whose sparse mode draws every feature of every
instance, so it cannot reach 100,000 features): here an instance costs what its ~50 words cost,
whatever the vocabulary. It must not know about learners, metrics or files.

Generative model (no drift):

* the labels are split into ``n_clusters`` disjoint groups of near-equal sizes (seeded shuffle);
  each cluster has ``topic_words`` topic words and each label ``cue_words`` cue words, drawn
  from the vocabulary (seeded, without replacement inside a cluster or a label);
* an instance picks one cluster uniformly, and with probability ``between`` a second one; each
  label of an active cluster is on with probability ``within`` (at least one label is on);
* its words: ``background`` tokens from the Zipfian vocabulary (``P(rank r) ~ 1 / (r + 1)``),
  ``topic`` tokens from the active clusters' topic words, and ``cue`` tokens for each label on
  (drawn from that label's cue words); ``x`` maps each distinct word to its count.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from streams.base import Stream

__all__ = ["SyntheticTextStream"]


def _is_int(v: object) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _is_prob(v: object, low_open: bool = False) -> bool:
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        return False
    return (0 < v <= 1) if low_open else (0 <= v <= 1)


class SyntheticTextStream(Stream):
    """Sparse word-count stream with planted label clusters (see the module docstring).

    Iterating yields ``(x, y)``: ``x`` maps words ``"w0" ..`` to their count (a float, only the
    words present), ``y`` maps every label ``"l0" ..`` to a bool. Deterministic for a ``seed``
    (iterating twice gives the same stream); memory is constant in the stream's length and
    ``O(n_features + n_labels * cue_words)`` in its shape.

    Parameters
    ----------
    n_features
        Vocabulary size (number of features).
    n_labels
        Number of labels.
    n_clusters
        Number of planted label clusters, ``1 .. n_labels``; ``None``: ``max(1, n_labels // 20)``.
    within
        Probability that a label of an active cluster is on.
    between
        Probability that an instance activates a second cluster.
    background, topic, cue
        Tokens per instance from the whole vocabulary, from the active clusters' topic words, and
        per label on from its cue words. The defaults give about 50 distinct words per instance
        at a few labels per instance.
    topic_words, cue_words
        Topic words per cluster and cue words per label (each at most ``n_features``).
    n_instances
        Length of the stream; ``None`` for an infinite stream.
    seed
        Seed of everything random.
    limit
        Stop after this many instances (with ``n_instances`` too, the smaller one wins).

    Examples
    --------
    >>> s = SyntheticTextStream(n_features=20_000, n_labels=100, n_instances=200, seed=1)
    >>> len(s.features), len(s.labels), s.sparse
    (20000, 100, True)
    >>> rows = list(s)
    >>> len(rows), rows == list(s)
    (200, True)
    >>> x, y = rows[0]
    >>> sorted(y) == sorted(s.labels), all(v >= 1.0 for v in x.values())
    (True, True)
    >>> 35 < sum(len(x) for x, _ in rows) / len(rows) < 65
    True
    >>> all(any(y.values()) for _, y in rows)
    True
    """

    sparse = True

    def __init__(
        self,
        n_features: int = 20_000,
        n_labels: int = 100,
        n_clusters: int | None = None,
        within: float = 0.25,
        between: float = 0.1,
        background: int = 36,
        topic: int = 8,
        cue: int = 2,
        topic_words: int = 40,
        cue_words: int = 5,
        n_instances: int | None = None,
        seed: int = 0,
        *,
        limit: int | None = None,
    ) -> None:
        where = "SyntheticTextStream"
        if not _is_int(n_features) or n_features < 1:
            raise ValueError(f"{where}: n_features must be an int >= 1, got {n_features!r}")
        if not _is_int(n_labels) or n_labels < 1:
            raise ValueError(f"{where}: n_labels must be an int >= 1, got {n_labels!r}")
        if n_clusters is None:
            n_clusters = max(1, n_labels // 20)
        if not _is_int(n_clusters) or not 1 <= n_clusters <= n_labels:
            raise ValueError(
                f"{where}: n_clusters must be None or an int in [1, n_labels={n_labels}], "
                f"got {n_clusters!r}"
            )
        if not _is_prob(within, low_open=True):
            raise ValueError(f"{where}: within must be a probability in (0, 1], got {within!r}")
        if not _is_prob(between):
            raise ValueError(f"{where}: between must be a probability in [0, 1], got {between!r}")
        for key, value in (("background", background), ("topic", topic), ("cue", cue)):
            if not _is_int(value) or value < 0:
                raise ValueError(f"{where}: {key} must be an int >= 0, got {value!r}")
        for key, value in (("topic_words", topic_words), ("cue_words", cue_words)):
            if not _is_int(value) or not 1 <= value <= n_features:
                raise ValueError(
                    f"{where}: {key} must be an int in [1, n_features={n_features}], got {value!r}"
                )
        if n_instances is not None and (not _is_int(n_instances) or n_instances < 0):
            raise ValueError(
                f"{where}: n_instances must be None or an int >= 0, got {n_instances!r}"
            )
        if not _is_int(seed):
            raise ValueError(f"{where}: seed must be an int, got {seed!r}")
        if limit is not None and (not _is_int(limit) or limit < 0):
            raise ValueError(f"{where}: limit must be None or an int >= 0, got {limit!r}")
        stop = [v for v in (n_instances, limit) if v is not None]
        super().__init__(limit=min(stop) if stop else None)
        self.n_clusters = int(n_clusters)
        self.within = within
        self.between = between
        self.background = background
        self.topic = topic
        self.cue = cue
        self.topic_words = topic_words
        self.cue_words = cue_words
        self.n_instances = n_instances
        self.seed = seed
        self.name = f"synth-text-{n_features}f-{n_labels}l"
        self.source = repr(self)
        self.labels = [f"l{j}" for j in range(n_labels)]
        self.features = [f"w{j}" for j in range(n_features)]

    # -- generation ------------------------------------------------------------------------------
    def _structure(self) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Clusters' members, topic words, cue words, the words in Zipf rank order, rank CDF."""
        rng = np.random.default_rng([self.seed, 0])
        n_feat, n_lab = len(self.features), len(self.labels)
        members = np.array_split(rng.permutation(n_lab), self.n_clusters)
        topics = np.stack(
            [rng.choice(n_feat, size=self.topic_words, replace=False) for _ in members]
        )
        cues = np.stack(
            [rng.choice(n_feat, size=self.cue_words, replace=False) for _ in range(n_lab)]
        )
        by_rank = rng.permutation(n_feat)
        cdf = np.cumsum(1.0 / np.arange(1, n_feat + 1))
        cdf /= cdf[-1]
        return members, topics, cues, by_rank, cdf

    def _records(self) -> Iterator[tuple[dict[str, float], dict[str, bool]]]:
        members, topics, cues, by_rank, cdf = self._structure()
        rng = np.random.default_rng([self.seed, 1])
        labels, words = self.labels, self.features
        k, last = self.n_clusters, len(words) - 1
        all_off = dict.fromkeys(labels, False)
        while True:
            active = [int(rng.integers(k))]
            if k > 1 and rng.random() < self.between:
                active.append(int((active[0] + 1 + rng.integers(k - 1)) % k))
            on = np.concatenate([members[c][rng.random(len(members[c])) < self.within]
                                 for c in active])  # fmt: skip
            if len(on) == 0:  # never an empty label set: one label of the first cluster
                pool = members[active[0]]
                on = pool[[int(rng.integers(len(pool)))]]
            ranks = np.minimum(np.searchsorted(cdf, rng.random(self.background)), last)
            tokens = [by_rank[ranks]]
            tokens += [topics[c][rng.integers(self.topic_words, size=self.topic)] for c in active]
            pick = rng.integers(self.cue_words, size=(len(on), self.cue))
            tokens.append(np.take_along_axis(cues[on], pick, axis=1).ravel())
            ids, counts = np.unique(np.concatenate(tokens), return_counts=True)
            x = {words[i]: float(c) for i, c in zip(ids.tolist(), counts.tolist(), strict=True)}
            y = dict(all_off)
            for j in on.tolist():
                y[labels[j]] = True
            yield x, y

    def __repr__(self) -> str:
        return (
            f"SyntheticTextStream(n_features={len(self.features)}, n_labels={len(self.labels)}, "
            f"n_clusters={self.n_clusters}, within={self.within}, between={self.between}, "
            f"background={self.background}, topic={self.topic}, cue={self.cue}, "
            f"topic_words={self.topic_words}, cue_words={self.cue_words}, "
            f"n_instances={self.n_instances}, seed={self.seed}, limit={self.limit})"
        )
