"""The learner's durable state: lock, key, checkpoint generations, offsets, checkpoint-then-commit.

This module owns :class:`Checkpointer`: the exclusive ``flock`` on ``<checkpoint>.lock`` (one
learner per checkpoint), the checkpoint key (``--checkpoint-key``, or a key file: generated at
first start with owner-only permissions, read by replicas), the last ``--checkpoint-keep``
verified generations (``<checkpoint>`` is the newest, older ones ``<checkpoint>.gen-<seq>``) and
the fallback to the newest good one at start (a bad file is moved to ``<checkpoint>.bad``), the
removal of stale temporary files, the offsets of the labelled partitions (:meth:`store_offset`,
the memory-mapped progress file that counts replays and names the record in hand), the policy
(:meth:`expired`: every N records or T seconds, and a bounded backoff after a failed write) and
:meth:`commit`: flush the dead letters, write the checkpoint, **then** commit the offsets. It knows
nothing about the model beyond the ``state()`` callable it is given.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ihomer.checkpoint import (
    CheckpointError,
    load_checkpoint,
    remove_stale_temp_files,
    save_checkpoint,
)
from ihomer.serve.config import ServeConfig
from ihomer.serve.link import BrokerLink
from ihomer.serve.metrics import ServeMetrics
from ihomer.serve.progress import ProgressFile

__all__ = ["Checkpointer", "LearnerLockedError", "CheckpointKeyError", "read_key"]

log = logging.getLogger("ihomer.serve")

_GEN = re.compile(r"\.gen-(\d+)$")
#: Runs in a row that must die with the same record in hand before it is dead-lettered. Two was
#: not enough: in the fault benchmark, a fallback to an older generation replayed a record and two
#: random SIGKILLs in a row landed on it (a valid record lost).
POISON_STRIKES = 3
#: Longest wait between two attempts to write a failing checkpoint.
RETRY_CAP_S = 60.0


class LearnerLockedError(RuntimeError):
    """Another learner process holds the checkpoint's lock."""


class CheckpointKeyError(ValueError):
    """The checkpoint key file is unusable (unreadable, empty, or readable by others)."""


def key_path(config: ServeConfig) -> Path:
    return Path(config.checkpoint_key_file or config.checkpoint_path + ".key")


def read_key(config: ServeConfig, create: bool) -> bytes | None:
    """The checkpoint key: ``--checkpoint-key``, else the key file (made when ``create`` and
    absent: 32 random bytes, hex, mode 0600). ``None`` when there is none and ``create`` is false.

    Raises :class:`CheckpointKeyError` for a key file that is empty, unreadable or readable by
    group or others.
    """
    if config.checkpoint_key:
        return config.checkpoint_key.encode()
    path = key_path(config)
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: read theirs
        except OSError as e:
            raise CheckpointKeyError(
                f"{path}: cannot create the checkpoint key: {e.strerror}"
            ) from None
        else:
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(32) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as e:
                path.unlink(missing_ok=True)
                raise CheckpointKeyError(
                    f"{path}: cannot write the checkpoint key: {e.strerror}"
                ) from None
            log.warning(
                "generated a checkpoint key at %s (owner-only); checkpoints are authenticated "
                "with it: give serving replicas read access to it (--checkpoint-key-file) or pass "
                "the same secret to every process with --checkpoint-key",
                path,
            )
    try:
        st = path.stat()
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise CheckpointKeyError(f"{path}: cannot read the checkpoint key: {e.strerror}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CheckpointKeyError(
            f"{path}: the checkpoint key is readable by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):o}); chmod 600 it"
        )
    if not text:
        raise CheckpointKeyError(f"{path}: the checkpoint key file is empty")
    return text.encode()


class Checkpointer:
    """Lock, key, generations and offsets of the learner; checkpoint then commit.

    Parameters
    ----------
    config, metrics, link
        Settings, collectors, and the broker link (flushed before each checkpoint).
    state
        ``() -> (obj, metadata)``: what to save (the model and its companions) and extra metadata.
    """

    def __init__(
        self,
        config: ServeConfig,
        metrics: ServeMetrics,
        link: BrokerLink,
        state: Callable[[], tuple[Any, dict]],
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.link = link
        self.state = state
        self.path = Path(config.checkpoint_path)
        self.key: bytes | None = None
        self.consumer: Any = None  # set by the learner once it has one
        self.offsets: dict[int, int] = {}  # partition -> next offset to learn
        self.replay_until: dict[int, int] = {}
        self.suspect: tuple[int, int, int] = (-1, -1, 0)  # partition, offset, strikes
        self.progress: ProgressFile | None = None
        self.seq = 0
        self.since = 0
        self._last = time.monotonic()
        self._retry_at = 0.0
        self._failures = 0
        self._lock_fd: int | None = None
        self._current_good = False
        self.from_beginning = False  # no checkpoint verified: ignore the committed offsets

    @property
    def progress_path(self) -> Path:
        return Path(str(self.path) + ".progress")

    # ------------------------------------------------------------------ start
    def take_lock(self) -> None:
        import fcntl

        path = str(self.path) + ".lock"
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise LearnerLockedError(
                f"{path}: another learner holds this checkpoint; run exactly one learner per "
                "labelled topic (serving replicas use --role server)"
            ) from None
        self._lock_fd = fd

    def generations(self) -> list[Path]:
        """Older generations, newest first."""
        found = []
        for p in self.path.parent.glob(self.path.name + ".gen-*"):
            m = _GEN.search(p.name)
            if m:
                found.append((int(m.group(1)), p))
        return [p for _, p in sorted(found, reverse=True)]

    def load(self) -> tuple[Any, dict]:
        """The newest verified checkpoint ``(obj, metadata)``; ``(None, {})`` when there is none.

        Bad files are logged, counted (``ihomer_checkpoint_fallbacks_total``) and the newest is
        moved to ``<checkpoint>.bad``. Raises :class:`CheckpointError` when files exist but none
        verifies (starting fresh would silently discard the model).
        """
        self.key = read_key(self.config, create=True)
        for name in remove_stale_temp_files(self.path):
            log.info("removed %s, left by a write that was interrupted", name)
        candidates = ([self.path] if self.path.exists() else []) + self.generations()
        errors = []
        for i, p in enumerate(candidates):
            try:
                obj, meta = load_checkpoint(p, key=self.key)
            except CheckpointError as e:
                errors.append(str(e))
                self.metrics.checkpoint_fallbacks.inc()
                log.error("checkpoint %s cannot be used: %s", p, e.reason)
                continue
            if i:
                log.warning(
                    "fell back to the older generation %s (seq %s): the records after its offsets "
                    "are learned again and counted as replays",
                    p, meta.get("seq"),
                )  # fmt: skip
                if self.path.exists():
                    os.replace(self.path, str(self.path) + ".bad")
                    log.warning("moved the bad checkpoint to %s.bad", self.path)
            self._current_good = i == 0
            self.seq = int(meta.get("seq", 0))
            return obj, meta
        if candidates and not self.config.checkpoint_fresh_fallback:
            raise CheckpointError(
                self.path,
                f"none of the {len(candidates)} checkpoint file(s) verifies ({'; '.join(errors)}); "
                "move them away to start a fresh model",
            )
        if candidates:
            # The last resort loses no record: a fresh model learns the topic again from its
            # beginning (the committed offsets belong to the model that is gone).
            self.from_beginning = True
            if self.path.exists():
                os.replace(self.path, str(self.path) + ".bad")
            log.error(
                "none of the %d checkpoint file(s) verifies: starting a fresh model from the "
                "beginning of the labelled topic (every record is learned again and counted as a "
                "replay; the bad newest file is kept as %s.bad)",
                len(candidates), self.path,
            )  # fmt: skip
        return None, {}

    def open_progress(self, n_slots: int) -> dict[int, int]:
        """Read the last run's progress (replays, the record in hand at its death), start ours.

        Returns the last run's next offset per partition.
        """
        previous, _in_hand, suspect = ProgressFile.read_state(self.progress_path)
        self.suspect = suspect
        for p, start in self.offsets.items():
            seen = previous.get(p, start)
            if seen > start:
                self.replay_until[p] = seen
        try:
            self.progress = ProgressFile(self.progress_path, n_slots)
        except OSError as e:
            self.progress = None
            log.error(
                "cannot create %s (%s): replays after a crash will not be counted",
                self.progress_path, e.strerror or e,
            )  # fmt: skip
            return previous
        for p, o in self.offsets.items():
            self.progress[p] = o
        self.progress.set_strikes(*suspect)
        return previous

    # ------------------------------------------------------------------ per record
    def begin(self, partition: int, offset: int) -> None:
        """The record at ``offset`` of ``partition`` is in hand (named if the process dies)."""
        if self.progress is not None:
            self.progress[partition] = offset
            self.progress.begin(partition)

    def survived(self) -> None:
        """The record in hand went through the model: a death from now on is not its fault."""
        if self.progress is not None:
            self.progress.end()

    def store_offset(self, partition: int, offset: int) -> None:
        """Record ``offset`` as the next one to learn on ``partition`` (one record done)."""
        self.offsets[partition] = offset
        self.since += 1
        if self.progress is not None:
            self.progress[partition] = offset
            self.progress.end()

    def is_suspect(self, partition: int, offset: int) -> bool:
        """Did :data:`POISON_STRIKES` runs in a row die with this record in hand?"""
        p, o, strikes = self.suspect
        return strikes >= POISON_STRIKES and (p, o) == (partition, offset)

    def expired(self) -> bool:
        """Time for a checkpoint: N records or T seconds since the last, outside a backoff."""
        if not self.since:
            return False
        now = time.monotonic()
        if now < self._retry_at:
            return False
        c = self.config
        return self.since >= c.checkpoint_interval or now - self._last >= c.checkpoint_interval_s

    # ------------------------------------------------------------------ checkpoint, commit
    def commit(self, reason: str) -> bool:
        """Flush dead letters, write the checkpoint, then commit the labelled offsets."""
        stopping = self.link.stopping()
        if not self.link.flush(give_up_after_s=10.0 if stopping else None):
            self.metrics.checkpoints.labels(outcome="skipped").inc()
            return False
        t0 = time.perf_counter()
        now = time.time()
        obj, extra = self.state()
        meta = {
            "topic": self.config.labelled_topic,
            "offsets": {str(p): o for p, o in self.offsets.items()},
            "seq": self.seq + 1,
            "written_at": now,
            "model": self.config.model,
            "reason": reason,
            **extra,
        }
        try:
            self._keep_generation()
            size = save_checkpoint(self.path, obj, metadata=meta, key=self.key)
        except OSError as e:
            self._failed(e)
            return False
        if self._failures:
            log.info("checkpoint written again after %d failed attempts", self._failures)
        self._failures, self._retry_at, self._current_good = 0, 0.0, True
        self.seq += 1
        self._prune()
        dt = time.perf_counter() - t0
        self.metrics.checkpoint_seconds.observe(dt)
        self.metrics.checkpoints.labels(outcome="written").inc()
        self.metrics.checkpoint_bytes.set(size)
        self.metrics.mark_checkpoint(now)
        self.since = 0
        self._last = time.monotonic()
        log.debug("checkpoint %d (%s): %d bytes in %.3f s", self.seq, reason, size, dt)
        self._commit_offsets()
        return True

    def _failed(self, e: OSError) -> None:
        self.metrics.checkpoints.labels(outcome="failed").inc()
        delay = min(RETRY_CAP_S, self.config.retry_backoff_s * 2**self._failures)
        self._failures += 1
        self._retry_at = time.monotonic() + delay
        why = e.strerror or str(e)
        if e.errno == errno.ENOSPC:
            why = "no space left on the device"
        msg = "checkpoint %s failed: %s; offsets stay uncommitted, next attempt in %.1f s"
        if self._failures == 1:
            log.error(msg, self.path, why, delay)
        else:  # one ERROR per failure streak; the rest are quieter
            log.warning(msg + " (attempt %d)", self.path, why, delay, self._failures)

    def _keep_generation(self) -> None:
        """Rename the current checkpoint to generation ``seq`` before the new one is written.

        A rename, not a hard link: a generation must not share its bytes (its inode) with the
        file that a disk fault or an edit would damage. A crash before the new file is in place
        leaves the generation, which the next start loads.
        """
        if self.config.checkpoint_keep < 2 or not self._current_good or not self.path.exists():
            return
        gen = Path(f"{self.path}.gen-{self.seq}")
        if not gen.exists():
            os.replace(self.path, gen)

    def _prune(self) -> None:
        for old in self.generations()[max(0, self.config.checkpoint_keep - 1) :]:
            try:
                old.unlink()
            except OSError:
                pass

    def _commit_offsets(self) -> None:
        from kafka import TopicPartition
        from kafka.errors import KafkaError
        from kafka.structs import OffsetAndMetadata

        if self.consumer is None:
            return
        topic = self.config.labelled_topic
        offsets = {
            TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in self.offsets.items()
        }
        try:
            self.consumer.commit(offsets, timeout_ms=5000)
            self.metrics.commits.labels(outcome="ok").inc()
        except KafkaError as e:
            # The checkpoint holds the offsets; the next checkpoint commits again.
            self.metrics.commits.labels(outcome="failed").inc()
            self.metrics.broker_errors.labels(operation="commit").inc()
            log.warning(
                "commit of labelled offsets failed (%s: %s); will retry", type(e).__name__, e
            )

    def close(self) -> None:
        if self.progress is not None:
            self.progress.close()
            self.progress = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
