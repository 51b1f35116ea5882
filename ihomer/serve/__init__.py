"""The Kafka daemon: learn from a labelled topic, serve predictions, expose Prometheus metrics.

:class:`Daemon` (consume-predict-learn loop, checkpoint-then-commit, dead letters),
:class:`ServeConfig` (settings from flags, file and ``IHOMER_*`` environment) and
:class:`ServeMetrics` (collectors on a registry passed in). Needs the ``serve`` extra
(kafka-python, prometheus-client); importing this package does not import them.
"""

from __future__ import annotations

__all__ = ["Daemon", "ServeConfig", "ServeMetrics"]


def __getattr__(name: str):
    if name == "Daemon":
        from ihomer.serve.daemon import Daemon

        return Daemon
    if name == "ServeConfig":
        from ihomer.serve.config import ServeConfig

        return ServeConfig
    if name == "ServeMetrics":
        from ihomer.serve.metrics import ServeMetrics

        return ServeMetrics
    raise AttributeError(name)
