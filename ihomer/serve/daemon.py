"""The daemon: compose the broker link, the learner and server roles; own the loop and signals.

This module owns :class:`Daemon`: it builds the parts for the configured role (``both``,
``learner``, ``server``), starts the metrics endpoint, waits for the broker, runs one loop that
polls each role in turn, checkpoints when the checkpointer says so, watches the broker while idle
and updates the lag gauges; it stops on SIGTERM/SIGINT, :meth:`stop` or ``--max-run-s`` (also
while the broker is away) and shuts down in order (checkpoint, commit, close the consumers, the
producer, the files). The parts: :mod:`ihomer.serve.link` (clients, retries, producer, dead
letters), :mod:`ihomer.serve.checkpointer` (lock, key, generations, offsets, checkpoint then
commit), :mod:`ihomer.serve.learner`, :mod:`ihomer.serve.server`. See ``DESIGN.md``.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

from ihomer.checkpoint import CheckpointError
from ihomer.serve.checkpointer import CheckpointKeyError, LearnerLockedError
from ihomer.serve.config import ServeConfig
from ihomer.serve.learner import LearnerRole
from ihomer.serve.link import BrokerLink
from ihomer.serve.metrics import ServeMetrics
from ihomer.serve.models import make_model
from ihomer.serve.server import ServerRole

__all__ = ["Daemon", "LearnerLockedError"]

log = logging.getLogger("ihomer.serve")

#: Exit statuses: 0 stopped cleanly, 2 user mistake, 3 another learner holds the checkpoint,
#: 4 no checkpoint file verifies (or the key file is unusable).
EXIT_LOCKED, EXIT_CHECKPOINT = 3, 4


class Daemon:
    """Learn from a labelled topic and serve predictions for a request topic.

    Parameters
    ----------
    config
        The settings (:class:`ihomer.serve.config.ServeConfig`).
    registry
        Prometheus registry for the collectors (a fresh one when ``None``).
    model_factory
        ``() -> model`` for a fresh model; defaults to ``make_model(config.model, config.seed)``.

    Examples
    --------
    >>> from ihomer.serve.config import ServeConfig
    >>> d = Daemon(ServeConfig(model="br-logreg", metrics_port=0))
    >>> d.stop()
    >>> d.stopping
    True
    """

    def __init__(
        self,
        config: ServeConfig,
        registry: CollectorRegistry | None = None,
        model_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.config = config
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = ServeMetrics(self.registry)
        self.model_factory = model_factory or (lambda: make_model(config.model, config.seed))
        self.metrics_port: int | None = None
        self._stopping = False
        self._deadline = math.inf
        self._http: Any = None
        self._lag_checked = 0.0
        self.link = BrokerLink(config, self.metrics, lambda: self.stopping)
        self.learner = (
            LearnerRole(config, self.metrics, self.link, self.model_factory)
            if config.learns
            else None
        )
        source = None
        if self.learner is not None:
            learner = self.learner

            def source() -> tuple[Any, int]:
                return learner.model, learner.n_learned

        self.server = (
            ServerRole(config, self.metrics, self.link, source, self.model_factory)
            if config.serves
            else None
        )

    # ------------------------------------------------------------------ control
    @property
    def stopping(self) -> bool:
        """True once a signal, :meth:`stop` or ``max_run_s`` asked the daemon to stop."""
        if not self._stopping and time.monotonic() >= self._deadline:
            log.info("max_run_s=%.1f reached", self.config.max_run_s)
            self._stopping = True
        return self._stopping

    def stop(self, *_: Any) -> None:
        """Ask the loop to finish the record in hand, checkpoint, commit and leave."""
        self._stopping = True

    def install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: Any) -> None:
            if not self._stopping:
                log.info("received %s: finishing the record in hand", signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # ------------------------------------------------------------------ run
    def run(self) -> int:
        """Run until stopped (signal, :meth:`stop` or ``max_run_s``); returns an exit status."""
        c = self.config
        if c.max_run_s > 0:
            self._deadline = time.monotonic() + c.max_run_s
        log.info(
            "ihomer serve %s starting; effective configuration: %s",
            self.server.instance_id if self.server else "learner",
            json.dumps(c.redacted(), sort_keys=True),
        )
        meta: dict = {}
        if self.learner is not None:
            try:
                meta = self.learner.load()
            except LearnerLockedError as e:
                log.error("%s", e)
                return EXIT_LOCKED
            except (CheckpointError, CheckpointKeyError) as e:
                log.error("refusing to start: %s", e)
                self.learner.close()
                return EXIT_CHECKPOINT
            except OSError as e:  # an unwritable or full checkpoint folder, an unreadable file
                log.error("refusing to start: %s: %s", e.filename or c.checkpoint_path,
                          e.strerror or e)  # fmt: skip
                self.learner.close()
                return EXIT_CHECKPOINT
        self._http, self.metrics_port = self.metrics.serve_http(c.metrics_addr, c.metrics_port)
        log.info("metrics on http://%s:%d/metrics", c.metrics_addr, self.metrics_port)
        try:
            ok = self.link.wait_for_broker() and self.link.connect_producer()
            ok = ok and (self.learner is None or self.learner.connect(meta))
            ok = ok and (self.server is None or self.server.connect())
            if ok:
                self._loop()
        finally:
            self._shutdown()
        return 0

    def _loop(self) -> None:
        from kafka.errors import KafkaError

        c = self.config
        learner, server = self.learner, self.server
        backoff = self.link.backoff()
        # Serving keeps the waits short (10 ms): with two consumers in one loop an idle wait on
        # one delays the other, and kafka-python's poll sometimes returns records only when its
        # timeout ends (measured: 100 ms stalls of answered requests at poll_timeout_ms=100).
        wait_ms = min(10, c.poll_timeout_ms) if server else c.poll_timeout_ms
        idle = True
        log.info("running (role %s)", c.role)
        while not self.stopping:
            got = 0
            try:
                if learner is not None:
                    got += learner.poll(wait_ms if idle else 0)
                if server is not None and not self._stopping:
                    got += server.poll(wait_ms if idle and not got else 0)
                backoff.reset()
            except KafkaError as e:
                delay = backoff.next_delay()
                self.metrics.broker_errors.labels(operation="poll").inc()
                log.warning("poll failed: %s: %s; retrying in %.1f s", type(e).__name__, e, delay)
                backoff.wait(delay)
            idle = got == 0
            if idle:
                self.link.watch()
            else:
                self.link.alive()
            if learner is not None and learner.checkpointer.expired():
                learner.checkpointer.commit("interval")
            self._update_lag()

    def _update_lag(self) -> None:
        now = time.monotonic()
        if now - self._lag_checked < 1.0:
            return
        self._lag_checked = now
        for role in (self.learner, self.server):
            if role is not None and role.consumer is not None:
                role.lag()

    def _shutdown(self) -> None:
        log.info("shutting down")
        learner = self.learner
        if learner is not None and learner.consumer is not None:
            ck = learner.checkpointer
            if ck.since or not ck.seq:
                ck.commit("shutdown")
        if self.server is not None:
            self.server.close()
        if self.link.producer is not None:
            self.link.flush(give_up_after_s=10.0)
        if learner is not None:
            learner.close()
        self.link.close()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if learner is not None:
            log.info(
                "stopped: %d records learned (%d replayed), %d dead-lettered, checkpoint %d",
                learner.n_learned, learner.n_replayed, self.link.n_dead, learner.checkpointer.seq,
            )  # fmt: skip
        else:
            log.info("stopped: %d dead-lettered", self.link.n_dead)
