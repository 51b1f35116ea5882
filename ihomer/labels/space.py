"""The label space of iHOMER: every label seen, its statistics, the ODAC hierarchy over labels and
the refined learning partition, behind one small facade (:class:`LabelSpace`).

It owns *when* things happen (grace periods, drift reactions, placing new labels, recomputing the
partition) and reports structural events as ``(kind, detail)`` tuples. It must not know about
learners or features.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np

from ihomer.labels.cooccurrence import CooccurrenceStats, jaccard_distance, jaccard_similarity
from ihomer.labels.odac import (
    LabelTree,
    assign_to_pivots,
    components,
    diameters,
    hoeffding_bound,
    isolated_labels,
    merge_condition,
    separable,
    sparse_diameters,
    split_condition,
)
from ihomer.labels.partition import check_partition, refine_partition

__all__ = ["LabelSpace"]

Event = tuple[str, dict[str, Any]]

#: Clusters up to this size get the dense ODAC tests (``k × k`` distances); larger ones only the
#: sparse ones (the merge test and the components split), which cost O(pairs seen together).
DENSE_MAX = 2048


class LabelSpace:
    """Online label clustering: Jaccard co-occurrence, ODAC hierarchy, refined partition.

    Feed it the labels present in each instance (:meth:`learn`); read the learning partition
    (:attr:`partition`: disjoint clusters covering every label seen) and react to the structural
    events it returns.

    Parameters
    ----------
    delta
        ODAC confidence parameter of the Hoeffding bound ``sqrt(ln(1/δ) / (2n))`` (R = 1).
    tau
        ODAC tie threshold: a split may happen once the bound is below ``tau``.
    n_min
        Grace period: each active cluster is checked every ``n_min`` instances after it was
        (re)activated.
    fading
        Factor in (0, 1] by which every past instance is down-weighted at each new instance
        (1: no fading). The Hoeffding bound uses the effective (faded) count, so with
        ``fading < 1`` it never drops below ``sqrt(ln(1/δ)(1 - fading)/2)``.
    min_size
        Minimum size of a cluster of the learning partition; ``None``: the most frequent label-set
        size seen so far (ties: the smaller), at least 1.
    max_depth
        Clusters at this depth of the hierarchy (root: 0) do not split.
    min_floor
        With ``min_size=None``, the minimum cluster size is ``max(mode of |Y|, min_floor)``;
        ``1`` is the spec's rule (the mode alone). With ``min_floor > 1``, a cluster of at least
        ``min_floor`` labels with no co-occurrence at all with any other cluster is not merged
        (only the tree could place it; see :func:`~ihomer.labels.partition.refine_partition`).
    components_from
        Clusters of at least this many labels try the components split first (see Notes);
        ``10**9`` turns it off.
    evidence
        What ``n`` the Hoeffding bound of the dense ODAC tests counts: ``"active"`` (default) the
        instances since the cluster opened in which at least one of its labels was present (the
        instances its distances are estimated from), ``"instances"`` every instance since it
        opened (ODAC's ``n``; with many rare labels it lets a cluster split on no evidence).

    Notes
    -----
    The learning partition is recomputed (from the current faded co-occurrence of all labels)
    when the hierarchy changes (split, merge, new label), when the minimum size changes, and on
    :meth:`check_now`; ``partition_version`` moves only when the result differs. Because the
    faded co-occurrence still carries the past when a drift makes the hierarchy change, a split or
    merge also schedules follow-up recomputations ``n_min``, ``2·n_min``, ``4·n_min``, ...
    instances later, within ``4 / (1 - fading)`` instances (``16·n_min`` without fading).

    A label seen for the first time goes to the active cluster holding most of the known labels
    present with it in that instance (ties: the cluster of the earliest such label); with no known
    label beside it, to the largest active cluster (ties: the earliest). Before the first split
    that is the root. Its counts in that cluster start when it is added. A cluster of three or
    more labels can split it off again when it does not fit, and the refinement may move it
    anywhere.

    Two extensions of the ODAC split test, for the Jaccard distance that saturates at 1 (labels
    that never meet): when the ODAC test does not split a cluster, it still splits at its pivots
    if the two sides hardly ever co-occur (:func:`~ihomer.labels.odac.separable`), or else splits
    off the labels that hardly co-occur with any other of the cluster
    (:func:`~ihomer.labels.odac.isolated_labels`). Without them a pair, or a group of unrelated
    labels, once formed, could never be separated (ODAC's second factor is 0 when ``d1 = d0``).

    For large label spaces, a third extension is tried before the ODAC test: the *components
    split*. When the labels of a cluster that were present together since it opened form two or
    more connected components (of two labels or more), and ``ε < τ`` (``ε`` over every instance
    since it opened: the components never met in that many instances), the cluster splits into
    them at once, a multiway split, instead of one binary split per grace period (``log2 K``
    grace periods for ``K`` groups, with the labels that meet neither pivot shared out between
    the sides). A label with no partner in the window joins the component it is most similar to
    in the global counts; labels with no similarity at all form one more group, marked
    *unplaced*, from which a later window may split off even a single component. A cluster of
    more than ``DENSE_MAX`` labels gets only the sparse tests (this split and the merge test),
    O(pairs seen together) instead of O(k²).

    Examples
    --------
    >>> space = LabelSpace(n_min=50, min_size=1)
    >>> for i in range(600):
    ...     _ = space.learn(["a", "b"] if i % 2 else ["c", "d", "e"])
    >>> space.partition
    [('c', 'd', 'e'), ('a', 'b')]
    >>> space.check_invariant()
    """

    def __init__(
        self,
        *,
        delta: float = 0.1,
        tau: float = 0.1,
        n_min: int = 200,
        fading: float = 0.999,
        min_size: int | None = None,
        max_depth: int = 16,
        min_floor: int = 1,
        components_from: int = 2,
        evidence: str = "active",
    ) -> None:
        if not 0.0 < delta < 1.0:
            raise ValueError(f"LabelSpace: delta must be in (0, 1), got {delta!r}")
        if not tau >= 0.0:
            raise ValueError(f"LabelSpace: tau must be >= 0, got {tau!r}")
        if not (isinstance(n_min, int | np.integer) and n_min >= 1):
            raise ValueError(f"LabelSpace: n_min must be an integer >= 1, got {n_min!r}")
        if not 0.0 < fading <= 1.0:
            raise ValueError(f"LabelSpace: fading must be in (0, 1], got {fading!r}")
        if min_size is not None and not (isinstance(min_size, int | np.integer) and min_size >= 1):
            raise ValueError(
                f"LabelSpace: min_size must be None or an integer >= 1, got {min_size!r}"
            )
        if not (isinstance(min_floor, int | np.integer) and min_floor >= 1):
            raise ValueError(f"LabelSpace: min_floor must be an integer >= 1, got {min_floor!r}")
        if evidence not in ("active", "instances"):
            raise ValueError(
                f"LabelSpace: evidence must be 'active' or 'instances', got {evidence!r}"
            )
        if not (isinstance(components_from, int | np.integer) and components_from >= 2):
            raise ValueError(
                f"LabelSpace: components_from must be an integer >= 2, got {components_from!r}"
            )
        if not (isinstance(max_depth, int | np.integer) and max_depth >= 0):
            raise ValueError(f"LabelSpace: max_depth must be an integer >= 0, got {max_depth!r}")
        self.delta = delta
        self.tau = tau
        self.n_min = int(n_min)
        self.fading = fading
        self.min_size = min_size
        self.max_depth = int(max_depth)
        self.min_floor = int(min_floor)
        self.components_from = int(components_from)
        self.evidence = evidence
        self._reset()

    def _reset(self) -> None:
        self._labels: list[Hashable] = []
        self._index: dict[Hashable, int] = {}
        self._stats = CooccurrenceStats(self.fading)
        self._tree = LabelTree()
        self._stats.open_window(self._tree.root, [])
        self._tree.nodes[self._tree.root].due = self.n_min
        self._heap: list[tuple[int, int]] = [(self.n_min, self._tree.root)]
        self._t = 0
        self._size_counts: dict[int, int] = {}
        self._mode_raw = -1  # most frequent label-set size so far (ties: the smaller)
        self._mode = 1
        self._used_min_size = 1
        self._part_gids: tuple[tuple[int, ...], ...] = ()
        self._part_cache: list[tuple[Hashable, ...]] | None = []
        self._version = 0
        self._dirty = False
        self._new_since = False  # labels added since the last refinement
        self._refined_at = 0
        # splits and merges re-partition at most every _refine_gap instances (new labels: now)
        self._refine_gap = max(1, self.n_min // 4)
        self._settle_next = 0  # next follow-up recomputation of the partition (0: none)
        self._settle_gap = self.n_min
        self._settle_until = 0
        self._n_splits = 0
        self._n_merges = 0

    def __repr__(self) -> str:
        return (
            f"LabelSpace(delta={self.delta}, tau={self.tau}, n_min={self.n_min}, "
            f"fading={self.fading}, min_size={self.min_size}, max_depth={self.max_depth}, "
            f"min_floor={self.min_floor}, components_from={self.components_from}, "
            f"evidence={self.evidence!r})"
        )

    # -- read-only views ------------------------------------------------------------------------
    @property
    def labels(self) -> list[Hashable]:
        """Every label seen, in first-seen order."""
        return list(self._labels)

    @property
    def partition(self) -> list[tuple[Hashable, ...]]:
        """The refined learning partition: disjoint clusters covering every label seen; labels in
        first-seen order inside a cluster, clusters ordered by their earliest label."""
        if self._part_cache is None:
            lab = self._labels
            self._part_cache = [tuple(lab[g] for g in c) for c in self._part_gids]
        return list(self._part_cache)

    @property
    def partition_version(self) -> int:
        """Incremented each time :attr:`partition` changes."""
        return self._version

    @property
    def leaves(self) -> list[tuple[Hashable, ...]]:
        """The raw ODAC active clusters (before refinement), ordered by their earliest label."""
        lab = self._labels
        return [tuple(lab[g] for g in n.labels) for n in self._tree.leaves() if n.labels]

    @property
    def n_splits(self) -> int:
        return self._n_splits

    @property
    def n_merges(self) -> int:
        return self._n_merges

    @property
    def n_seen(self) -> int:
        """Number of instances learned."""
        return self._t

    @property
    def current_min_size(self) -> int:
        """The minimum cluster size the partition uses now."""
        if self.min_size is not None:
            return self.min_size
        return max(self._mode, self.min_floor)

    def memory_bytes(self) -> int:
        """Approximate bytes of the learned state (dominated by the pairs of labels seen
        together: 16 bytes per pair globally, and again in the window of its cluster)."""
        return self._stats.memory_bytes() + 200 * len(self._tree.nodes) + 100 * len(self._labels)

    def check_invariant(self) -> None:
        """Raise ValueError unless every seen label is in exactly one cluster of the partition
        and exactly one ODAC leaf."""
        L = len(self._labels)
        check_partition(self._part_gids, L, "LabelSpace.partition")
        check_partition([n.labels for n in self._tree.leaves()], L, "LabelSpace.leaves")

    # -- updates --------------------------------------------------------------------------------
    def add_labels(self, labels: Iterable[Hashable]) -> list[Event]:
        """Register labels (e.g. every key of ``y``, present or not); new ones get a place.

        Passing ``y`` itself (a mapping) or a set is cheapest: known labels are then skipped by
        one set comparison.
        """
        index = self._index
        if isinstance(labels, Mapping):
            labels = labels.keys()
        if isinstance(labels, AbstractSet) and index.keys() >= labels:
            return []
        new = [lab for lab in dict.fromkeys(labels) if lab not in index]
        events: list[Event] = []
        if new:
            self._add_new(new, [], events)
            self._refine(events)
        return events

    def learn(self, present: Iterable[Hashable]) -> list[Event]:
        """Learn one instance whose present labels are ``present``; return the events it caused.

        Costs O(k²) in the ``k`` present labels, plus the periodic checks of the clusters whose
        grace period ended at this instance.
        """
        index = self._index
        gids: list[int] = []
        new: list[Hashable] | None = None
        for lab in dict.fromkeys(present):
            g = index.get(lab)
            if g is None:
                if new is None:
                    new = []
                new.append(lab)
            else:
                gids.append(g)
        events: list[Event] = []
        if new is not None:
            gids.extend(self._add_new(new, gids, events))
        self._t += 1
        t = self._t
        self._stats.update(gids)

        k = len(gids)
        sizes = self._size_counts
        c = sizes.get(k, 0) + 1
        sizes[k] = c
        raw = self._mode_raw
        if k != raw:
            c_mode = sizes.get(raw, 0)
            if c > c_mode or (c == c_mode and k < raw):
                self._mode_raw = k
                self._mode = max(k, 1)
                if self.min_size is None and self.current_min_size != self._used_min_size:
                    self._dirty = True

        heap = self._heap
        while heap and heap[0][0] <= t:
            due, node_id = heapq.heappop(heap)
            node = self._tree.nodes.get(node_id)
            if node is None or node.children is not None or node.due != due:
                continue  # stale entry
            self._check(node_id, events)
        if self._settle_next and t >= self._settle_next:
            self._dirty = True
            self._settle_gap *= 2
            nxt = t + self._settle_gap
            self._settle_next = nxt if nxt <= self._settle_until else 0
        if self._dirty and (self._new_since or t - self._refined_at >= self._refine_gap):
            self._refine(events)
        return events

    def check_now(self) -> list[Event]:
        """Global drift reaction: check every active cluster now (ignoring grace periods) and
        recompute the partition from the current statistics (and again ``n_min``, ``2·n_min``,
        ... instances later, as after a split)."""
        events: list[Event] = []
        for node_id in sorted(n.id for n in self._tree.leaves()):
            node = self._tree.nodes.get(node_id)
            if node is not None and node.children is None:
                self._check(node_id, events)
        self._structure_changed()  # recompute now, and again while the statistics catch up
        self._refine(events)
        return events

    def speed_up_fading(self, factor: float) -> None:
        """Forget part of the past at once: every statistic accumulated so far (global counts and
        every active cluster's counts since its activation) is multiplied by ``factor`` in [0, 1].

        New instances then weigh ``1 / factor`` times more than the past, as if the fading had
        been faster for a while; the Hoeffding bounds widen accordingly (less evidence), so the
        hierarchy only changes once new instances support it. ``factor = 1`` does nothing,
        ``factor = 0`` forgets everything.
        """
        if not 0.0 <= factor <= 1.0:
            raise ValueError(
                f"LabelSpace.speed_up_fading: factor must be in [0, 1], got {factor!r}"
            )
        self._stats.discount(factor)

    # -- internals ------------------------------------------------------------------------------
    def _add_new(self, new: list[Hashable], known: list[int], events: list[Event]) -> list[int]:
        tree = self._tree
        if known:
            counts: dict[int, int] = {}
            first: dict[int, int] = {}
            for g in known:
                leaf = tree.leaf_of(g)
                counts[leaf] = counts.get(leaf, 0) + 1
                first[leaf] = min(first.get(leaf, g), g)
            target = max(counts, key=lambda n: (counts[n], -first[n]))
        else:
            target = max(tree.leaves(), key=lambda n: (len(n.labels), -(n.labels[0] if n.labels
                                                                         else -1))).id
        out = []
        for lab in new:
            g = self._stats.add_label()
            self._labels.append(lab)
            self._index[lab] = g
            tree.add_label(g, target)
            out.append(g)
            events.append(("label_added", {"label": lab}))
        self._stats.extend_window(target, out)
        self._dirty = True
        self._new_since = True  # new labels must join the partition at once
        return out

    def _structure_changed(self) -> None:
        """Recompute the partition now, and again ``n_min``, ``2·n_min``, ``4·n_min``, ...
        instances later while within the settling horizon."""
        self._dirty = True
        self._settle_gap = self.n_min
        self._settle_next = self._t + self.n_min
        horizon = 4.0 / (1.0 - self.fading) if self.fading < 1.0 else 16.0 * self.n_min
        self._settle_until = self._t + horizon

    def _schedule(self, node_id: int) -> None:
        node = self._tree.nodes[node_id]
        node.due = self._t + self.n_min
        heapq.heappush(self._heap, (node.due, node_id))

    def _check(self, node_id: int, events: list[Event]) -> None:
        """ODAC test of one active cluster: aggregate first, then split."""
        tree = self._tree
        node = tree.nodes[node_id]
        self._schedule(node_id)
        k = len(node.labels)
        if k < 2:
            return
        n1, pi, pj, n11, n, n_active = self._stats.window_pairs(node_id)
        if n <= 0:
            return
        eps = eps_all = hoeffding_bound(1.0, self.delta, n)
        if self.evidence == "active":
            if n_active <= 0:
                return
            eps = hoeffding_bound(1.0, self.delta, n_active)
        dense = k <= DENSE_MAX
        if dense:
            block = np.diag(n1)
            block[pi, pj] = n11
            block[pj, pi] = n11
            dist = jaccard_distance(block)
            m = diameters(dist)
        else:
            m = sparse_diameters(k, pi, pj, 1.0 - jaccard_similarity(n1[pi], n1[pj], n11))
        if node.parent is not None:
            parent = tree.nodes[node.parent]
            if merge_condition(m.d1, eps, parent.d1_split, parent.eps_split):
                self._merge(parent.id, m.d1, eps, events)
                return
        if node.depth >= self.max_depth:
            return
        if k >= self.components_from and eps_all < self.tau:
            groups, rest = self._component_groups(node, n1, pi, pj, n11)
            if len(groups) >= 2:
                self._split(node_id, groups, m, eps, n, "components", events)
                if rest:
                    tree.nodes[tree.nodes[node_id].children[-1]].unplaced = True
                return
        if not dense:
            return
        labels = np.asarray(node.labels)
        i, j = m.pivots
        rule = "odac"
        mask = assign_to_pivots(dist, i, j)
        if k >= 3 and split_condition(m, eps, self.tau):
            pass
        elif separable(dist, mask, eps, self.tau):
            rule = "separable"
        else:
            lonely = isolated_labels(dist, eps, self.tau)
            if not lonely.any():
                return
            rule = "isolated"
            if not lonely.all():
                mask = lonely
        self._split(node_id, [labels[mask].tolist(), labels[~mask].tolist()], m, eps, n, rule,
                    events)

    def _component_groups(
        self, node: Any, n1: np.ndarray, pi: np.ndarray, pj: np.ndarray, n11: np.ndarray
    ) -> tuple[list[list[int]], bool]:
        """The labels of a cluster grouped by the connected components of its window's
        co-occurrence graph (an edge: a pair present together since the cluster opened), and
        whether the last group is one of labels that could not be placed; ``([], False)`` when
        that makes one group.

        A label with no edge (not seen since the cluster opened, or only alone) carries no
        evidence of where it belongs. In a cluster made of such labels (``node.unplaced``: the
        root, or such a group of an earlier split), labels with no edge stay together in one
        more group; any component of two or more labels can then be split off. Elsewhere it
        takes two such components, and a label with no edge joins the component it is most
        similar to in the global (faded, all-time) counts, or, with no such similarity, the
        group of unplaced labels.
        """
        labels = node.labels
        keep = n11 > 0.0
        k = len(labels)
        n_comp, comp = components(k, pi[keep], pj[keep])
        size = np.bincount(comp, minlength=n_comp)
        big = size >= 2
        n_big = int(np.count_nonzero(big))
        if n_big < (1 if node.unplaced else 2):
            return [], False
        rank = np.full(n_comp, -1, dtype=np.intp)
        rank[big] = np.arange(n_big)
        group = rank[comp]  # -1: a label with no edge
        lone = np.flatnonzero(group < 0)
        lab = np.asarray(labels, dtype=np.intp)
        if lone.size and not node.unplaced:
            a, b, sim = self._stats.similarities()
            where = np.full(self._stats.n_labels, -1, dtype=np.intp)
            where[lab] = np.arange(k)
            pa, pb = where[a], where[b]
            inside = (pa >= 0) & (pb >= 0) & (sim > 0.0)
            pa, pb, sim = pa[inside], pb[inside], sim[inside]
            row = np.full(k, -1, dtype=np.intp)
            row[lone] = np.arange(lone.size)
            score = np.zeros(lone.size * n_big)
            for x, y in ((pa, pb), (pb, pa)):
                sel = (row[x] >= 0) & (group[y] >= 0)
                score += np.bincount(row[x[sel]] * n_big + group[y[sel]], weights=sim[sel],
                                     minlength=score.size)
            score = score.reshape(lone.size, n_big)
            best = np.argmax(score, axis=1)
            linked = score[np.arange(lone.size), best] > 0.0
            group[lone[linked]] = best[linked]
            lone = lone[~linked]
        group[lone] = n_big  # the group of labels with no evidence at all
        if np.unique(group).size < 2:
            return [], False
        order = np.argsort(group, kind="stable")
        cuts = np.flatnonzero(np.diff(group[order])) + 1
        return [g.tolist() for g in np.split(lab[order], cuts)], bool(lone.size)

    def _split(
        self, node_id: int, groups: list[list[int]], m: Any, eps: float, n: float, rule: str,
        events: list[Event],
    ) -> None:
        tree = self._tree
        node = tree.nodes[node_id]
        k = len(node.labels)
        labels = node.labels
        self._stats.close_window(node_id)
        ids = tree.split_many(node_id, groups, d1=m.d1, eps=eps)
        for child in ids:
            self._stats.open_window(child, tree.nodes[child].labels)
            self._schedule(child)
        self._n_splits += 1
        self._structure_changed()
        i, j = m.pivots
        events.append(("cluster_split", {
            "size": k, "sizes": tuple(len(g) for g in groups), "d1": m.d1, "d2": m.d2,
            "d0": m.d0, "dbar": m.dbar, "eps": eps, "n": n, "depth": node.depth, "rule": rule,
            "pivots": (self._labels[labels[i]], self._labels[labels[j]]),
        }))

    def _merge(self, parent_id: int, d1_leaf: float, eps_leaf: float, events: list[Event]) -> None:
        tree = self._tree
        parent = tree.nodes[parent_id]
        d1_parent, eps_parent = parent.d1_split, parent.eps_split
        dropped = tree.descendants(parent_id)
        for d in dropped:
            self._stats.close_window(d)
        tree.merge(parent_id)
        self._stats.open_window(parent_id, parent.labels)
        self._schedule(parent_id)
        self._n_merges += 1
        self._structure_changed()
        events.append(("cluster_merge", {
            "size": len(parent.labels), "d1": d1_leaf, "eps": eps_leaf,
            "parent_d1": d1_parent, "parent_eps": eps_parent, "n_dropped": len(dropped),
            "depth": parent.depth,
        }))

    def _refine(self, events: list[Event]) -> None:
        self._dirty = False
        self._new_since = False
        self._refined_at = self._t
        ms = self.current_min_size
        self._used_min_size = ms
        leaves = [n for n in self._tree.leaves() if n.labels]
        groups = [n.labels for n in leaves]
        paths = [self._tree.path(n.id) for n in leaves]
        keep = self.min_floor if self.min_size is None and self.min_floor > 1 else None
        refined = refine_partition(groups, paths, ms, self._stats.similarities, keep_apart=keep)
        part = tuple(tuple(c) for c in refined)
        if part != self._part_gids:
            self._part_gids = part
            self._part_cache = None
            self._version += 1
            events.append(("repartition", {"n_clusters": len(part), "min_size": ms}))
