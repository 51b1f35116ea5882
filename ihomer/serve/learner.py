"""The learner role: one process owns the labelled topic and trains the model, record by record.

This module owns :class:`LearnerRole`: the model, its prequential report and the shared
prequential step (predict, score, learn: the live metrics mean what the benchmark's mean), the
limits on what records may add to the model, the labelled consumer (manual assignment of every
partition, resumed from the checkpoint's offsets; by default run in a fetch process of its own,
:class:`ihomer.serve.fetcher.FetchProcess`, so that fetching and parsing the next records
overlaps with learning), the audit log, and the handling of each record: decoded by
:func:`streams.kafka.decode_event`, admitted by :class:`ihomer.serve.limits.Limits`, learned, or
dead-lettered with the reason and its coordinates. With the fetch process, the decoding and the
model's feature encoding are done there too for most records (:mod:`ihomer.serve.rows`: the
learner then maps column ids and learns; a record with a feature new to the model or to the
limits is decoded here, as without it). A record that three runs in a row died on is
dead-lettered without being tried again. When something fails mid-batch, the consumer is moved
back to the first record not yet handled: nothing is skipped. Learning keeps record order
(prequential): each record is predicted, scored and learned on its own, but the bookkeeping
around it (counters, histograms, gauges) is done once per poll batch. Offsets and checkpoints
belong to :class:`ihomer.serve.checkpointer.Checkpointer`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from ihomer.serve.checkpointer import POISON_STRIKES, Checkpointer
from ihomer.serve.config import ServeConfig
from ihomer.serve.guard import model_error, settle_heap
from ihomer.serve.limits import LimitExceeded, Limits
from ihomer.serve.link import BrokerLink
from ihomer.serve.metrics import ServeMetrics
from streams.kafka import EventSchemaError, decode_event, position

__all__ = ["LearnerRole"]

log = logging.getLogger("ihomer.serve")


def _audit_field(s: str) -> str:
    """One tab-free, newline-free field (ids are validated; this is defence in depth)."""
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class AuditLog:
    """``topic partition offset id`` per learned record, one ``write`` system call per line
    (``O_APPEND``: it reaches the kernel before the next record; nothing is buffered, so a full
    disk costs the lines written while it is full, and the log goes on when space is back)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.failing = False

    def write(self, topic: str, partition: int, offset: int, rid: str) -> None:
        line = f"{topic}\t{partition}\t{offset}\t{_audit_field(rid)}\n".encode("utf-8", "replace")
        try:
            os.write(self.fd, line)
        except OSError as e:
            if not self.failing:
                log.error("audit log %s: cannot write (%s); lines are lost until it can",
                          self.path, e.strerror or e)  # fmt: skip
            self.failing = True
        else:
            if self.failing:
                log.info("audit log %s: writing again", self.path)
            self.failing = False

    def close(self) -> None:
        os.close(self.fd)


class LearnerRole:
    """Train the model from the labelled topic.

    Parameters
    ----------
    config, metrics, link
        Settings, collectors, broker link (dead letters).
    model_factory
        ``() -> model`` for a fresh model.
    """

    def __init__(
        self,
        config: ServeConfig,
        metrics: ServeMetrics,
        link: BrokerLink,
        model_factory: Callable[[], Any],
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.link = link
        self.model_factory = model_factory
        self.checkpointer = Checkpointer(config, metrics, link, self.state)
        self.limits = Limits(config.limit_settings())
        self.consumer: Any = None
        self.fetcher: Any = None
        self.model: Any = None
        self.report: Any = None
        self.step: Any = None
        self.n_learned = 0
        self.n_replayed = 0
        self.n_dead_start = 0
        self.audit: Any = None

    # ------------------------------------------------------------------ state
    def state(self) -> tuple[Any, dict]:
        """What a checkpoint holds: the payload and the counters for its metadata."""
        obj = {"model": self.model, "report": self.report, "limits": self.limits.state()}
        meta = {
            "n_learned": self.n_learned,
            "n_replayed": self.n_replayed,
            "n_dead_lettered": self.n_dead_start + self.link.n_dead,
        }
        return obj, meta

    def load(self) -> dict:
        """Take the lock, load the newest good checkpoint (or a fresh model); its metadata."""
        from ihomer.evaluate import PrequentialStep
        from ihomer.metrics import MultiLabelReport

        ck = self.checkpointer
        ck.take_lock()
        obj, meta = ck.load()
        if obj is not None:
            self.model, self.report = obj["model"], obj["report"]
            self.limits.restore(obj.get("limits"))
            self.n_learned = int(meta.get("n_learned", 0))
            self.n_replayed = int(meta.get("n_replayed", 0))
            self.n_dead_start = int(meta.get("n_dead_lettered", 0))
            written = float(meta.get("written_at", time.time()))
            self.metrics.mark_checkpoint(written)
            self.metrics.reset_event_baseline(self.model)
            log.info(
                "loaded checkpoint %s: %d records learned, written %.1f s ago",
                ck.path, self.n_learned, time.time() - written,
            )  # fmt: skip
        else:
            self.model, self.report = self.model_factory(), MultiLabelReport()
            log.info("no checkpoint at %s: starting a fresh %s model", ck.path, self.config.model)
        self.step = PrequentialStep(self.model, self.report)
        settle_heap()
        self._observe()
        if self.n_learned:
            self.metrics.set_report(self.report.get())
        if self.config.audit_log:
            self.audit = AuditLog(self.config.audit_log)
        return meta

    def _observe(self) -> None:
        self.metrics.observe_model(
            self.model, self.n_learned, len(self.limits.labels), len(self.limits.features)
        )

    # ------------------------------------------------------------------ consumer
    def connect(self, meta: dict) -> bool:
        """Assign every labelled partition and seek to where the model stands."""
        from kafka import KafkaConsumer, TopicPartition

        c, ck = self.config, self.checkpointer
        consumer = self.link.retry(
            "connect learner consumer",
            lambda: KafkaConsumer(**self.link.consumer_config(c.learner_group)),
        )
        if consumer is None:
            return False
        self.consumer = ck.consumer = consumer
        backoff = self.link.backoff()
        parts = None
        while not self.link.stopping():
            parts = consumer.partitions_for_topic(c.labelled_topic)
            if parts:
                break
            delay = backoff.next_delay()
            log.warning(
                "labelled topic %r has no partitions yet (not created?); retrying in %.1f s",
                c.labelled_topic, delay,
            )  # fmt: skip
            backoff.wait(delay)
        if not parts:
            return False
        tps = [TopicPartition(c.labelled_topic, p) for p in sorted(parts)]
        inline = not c.learner_fetches_in_a_process()
        if inline:
            consumer.assign(tps)
        saved = {int(k): int(v) for k, v in meta.get("offsets", {}).items()}
        sources = {}
        for tp in tps:
            start = saved.get(tp.partition)
            sources[tp.partition] = "checkpoint"
            if start is None and not ck.from_beginning:
                start = self.link.retry(
                    "read committed offset", lambda tp=tp: consumer.committed(tp)
                )
                sources[tp.partition] = "committed offset"
            if start is None:
                sources[tp.partition] = "beginning"
                start = 0  # (out of range after retention: the consumer resets to the earliest)
                if inline:
                    consumer.seek_to_beginning(tp)
            elif inline:
                consumer.seek(tp, start)
            ck.offsets[tp.partition] = start
        if not inline:
            from ihomer.serve.fetcher import FetchProcess

            lim = self.limits.settings
            self.fetcher = FetchProcess(
                self.link.consumer_config(c.learner_group), c.labelled_topic, sorted(parts),
                c.max_poll_records, log_level=c.log_level, encode=self.decodes_in_fetcher(),
                max_bytes=c.max_message_bytes, max_features=lim.features_per_record,
                max_names=2 * lim.features_total if lim.features_total else 100_000,
            )  # fmt: skip
            self.fetcher.start(ck.offsets)
        previous = ck.open_progress(max(parts) + 1)
        for p, start in ck.offsets.items():
            log.info(
                "%s: resuming from the %s; %d records consumed by the last run after it will "
                "be replayed",
                position(c.labelled_topic, p, start), sources[p],
                max(0, previous.get(p, start) - start),
            )  # fmt: skip
        p, o, strikes = ck.suspect
        if strikes:
            log.warning(
                "the last run died with %s in hand (%d run(s) in a row)%s",
                position(c.labelled_topic, p, o), strikes,
                ": it will be dead-lettered" if strikes >= POISON_STRIKES else "",
            )  # fmt: skip
        return True

    def decodes_in_fetcher(self) -> bool:
        """Whether the fetch process decodes and encodes records for the model
        (``learner_decode``; ``auto``: when the model encodes with a
        :class:`~ihomer.features.FeatureIndex`, as ihomer does)."""
        from ihomer.features import FeatureIndex

        if self.config.learner_decode == "learner":
            return False
        ok = isinstance(getattr(self.model, "feature_index", None), FeatureIndex)
        if self.config.learner_decode == "fetcher" and not ok:
            log.warning("learner_decode 'fetcher': the model does not take encoded records; "
                        "the learner decodes them")  # fmt: skip
        return ok

    def rewind(self) -> None:
        """After a failure mid-batch: fetch again from the first record not handled."""
        from kafka import TopicPartition

        if self.fetcher is not None:
            self.fetcher.seek(self.checkpointer.offsets)
            return

        for p, o in self.checkpointer.offsets.items():
            try:
                self.consumer.seek(TopicPartition(self.config.labelled_topic, p), o)
            except Exception as e:  # noqa: BLE001 - the next poll retries
                log.warning("cannot seek back partition %d to %d: %s", p, o, e)

    # ------------------------------------------------------------------ records
    def poll(self, timeout_ms: int) -> int:
        if self.fetcher is not None:
            batch = self.fetcher.poll(timeout_ms, self.checkpointer.offsets)
        else:
            batch = self.consumer.poll(
                timeout_ms=timeout_ms, max_records=self.config.max_poll_records
            )
        if not batch:
            return 0
        try:
            n = self.handle(batch)
        except BaseException:
            self.rewind()
            raise
        return n

    def handle(self, batch: dict) -> int:
        """Learn one poll batch in record order.

        Each record still goes through the prequential step on its own (predict, score, learn:
        order matters), with its offset stored and the record in hand named in the progress file
        before and after it (the poison-record guard). What is per batch: the counters, the
        duration histograms (one observation of the batch's mean per record, as for requests),
        the report gauges and the model gauges. A failure mid-batch leaves the counters of the
        records already learned counted (``finally``) and the consumer is sought back by
        :meth:`poll`.
        """
        c, ck, link = self.config, self.checkpointer, self.link
        offsets, replay_until = ck.offsets, ck.replay_until
        step, admit, audit = self.step, self.limits.admit, self.audit
        admit_known, admitted = self.limits.admit_known, self.limits.features
        fetcher = self.fetcher
        resolve = index = None
        if fetcher is not None and fetcher.encode:  # records encoded by the fetch process
            resolve, index = fetcher.rows.resolve, self.model.feature_index
        stopping, begin, survived, store = link.stopping, ck.begin, ck.survived, ck.store_offset
        max_bytes = c.max_message_bytes
        n = learned = replayed = 0
        p0, l0 = step.predict_seconds, step.learn_seconds
        try:
            for tp, msgs in batch.items():
                p = tp.partition
                replay_end = replay_until.get(p, -1)
                for m in msgs:
                    if not n & 31 and stopping():  # (every 32 records: a batch is short)
                        break
                    o = m.offset
                    if o < offsets.get(p, 0):
                        continue  # already in the model (a fetch from before a seek)
                    src = None  # the record's coordinates, made when a message needs them
                    begin(p, o)
                    if ck.is_suspect(p, o):
                        link.dead_letter(
                            m, "crashed_daemon",
                            f"{POISON_STRIKES} runs in a row died with this record in hand; not "
                            "tried again", position(m.topic, p, o),
                        )  # fmt: skip
                        store(p, o + 1)
                        n += 1
                        continue
                    try:
                        enc = m.enc if resolve is not None else None
                        known = None if enc is None else resolve(enc, index, admitted)
                        if known is not None:  # every name known: no JSON, no encoding here
                            x, y, rid = known
                            admit_known(enc.n_features, y)
                        else:
                            src = position(m.topic, p, o)
                            x, y, rid, _ts = decode_event(
                                m.value, src, labelled=True, max_bytes=max_bytes
                            )
                            admit(x, y)
                    except (EventSchemaError, LimitExceeded) as e:
                        link.dead_letter(m, e.category, e.reason, src or position(m.topic, p, o))
                    else:
                        try:
                            step(x, y)
                        except Exception as e:  # noqa: BLE001 - a model bug must not crash-loop
                            src = src or position(m.topic, p, o)
                            log.exception("the model failed on %s", src)
                            link.dead_letter(m, "model_error", model_error(e), src)
                        else:
                            survived()
                            learned += 1
                            if o < replay_end:
                                replayed += 1
                            if audit is not None:
                                where = position(m.topic, p, o) if rid is None else rid
                                audit.write(m.topic, p, o, where)
                    store(p, o + 1)
                    n += 1
        finally:
            if n:
                self._count(learned, replayed, step.predict_seconds - p0,
                            step.learn_seconds - l0)  # fmt: skip
        return n

    def _count(self, learned: int, replayed: int, predict_s: float, learn_s: float) -> None:
        """The metrics of one batch: ``learned`` records learned (``replayed`` of them replays)."""
        topic, m = self.config.labelled_topic, self.metrics
        if learned:
            self.n_learned += learned
            m.records.labels(topic=topic, outcome="learned").inc(learned)
            if replayed:
                self.n_replayed += replayed
                m.replayed.labels(topic=topic).inc(replayed)
            m.predict_seconds.labels(path="prequential").observe(predict_s / learned)
            m.learn_seconds.observe(learn_s / learned)
        # the report first: once ihomer_model_instances reads N, the metrics cover N records
        m.set_report(self.report.get())
        self._observe()

    def lag(self) -> None:
        topic = self.config.labelled_topic
        if self.fetcher is not None:
            highwaters = dict(self.fetcher.highwaters)
            self.metrics.assigned.labels(topic=topic).set(len(self.fetcher.partitions))
        else:
            assignment = self.consumer.assignment()
            self.metrics.assigned.labels(topic=topic).set(len(assignment))
            highwaters = {tp.partition: self.consumer.highwater(tp) for tp in assignment}
        for p, hw in highwaters.items():
            if hw is not None:
                pos = self.checkpointer.offsets.get(p, 0)
                self.metrics.lag.labels(topic=topic, partition=str(p)).set(max(0, hw - pos))

    def close(self) -> None:
        if self.fetcher is not None:
            self.fetcher.close()
        if self.consumer is not None:
            try:
                self.consumer.close(autocommit=False, timeout_ms=5000)
            except Exception:  # noqa: BLE001 - closing on the way out
                pass
        if self.audit is not None:
            self.audit.close()
        self.checkpointer.close()
