"""``ihomer serve``: flags for every setting, and the entry point that runs the daemon.

This module owns argument parsing for the daemon and the process-level concerns (logging setup,
signal handlers, exit status). The settings themselves, and their precedence (defaults < config
file < ``IHOMER_*`` environment < flags), live in :mod:`ihomer.serve.config`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields

from ihomer.serve.config import ServeConfig

__all__ = ["add_arguments", "run", "main"]

_HELP = {
    "bootstrap_servers": "Kafka bootstrap servers, host:port[,host:port]",
    "role": "both (learn and serve), learner (learn, publish snapshots) or server (serve only)",
    "learner_fetch": "where the learner consumes the labelled topic: auto (a fetch process of "
    "its own on 2+ CPUs), process or inline (in the learner's loop)",
    "learner_decode": "where labelled records are decoded and encoded for the model: auto (in "
    "the fetch process when there is one and the model is ihomer), fetcher or learner",
    "model": "ihomer, br-logreg or module:factory",
    "checkpoint_path": "checkpoint file (the model snapshot servers load)",
    "checkpoint_interval": "labelled records between checkpoints (bounds replays after a crash)",
    "checkpoint_interval_s": "seconds between checkpoints at most",
    "audit_log": "append 'topic partition offset id' per learned record to this file",
    "metrics_addr": "address of the /metrics endpoint (default loopback only)",
    "metrics_port": "port of the /metrics endpoint (0: pick a free one)",
    "max_run_s": "stop after this many seconds (0: run until SIGTERM/SIGINT)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--config`` and one ``--flag`` per setting (default None: not given)."""
    parser.add_argument("--config", help="TOML or JSON config file ([serve] table or top level)")
    for f in fields(ServeConfig):
        if f.name == "extra":
            continue
        kind = {"int": int, "float": float}.get(f.type, str)
        help_text = _HELP.get(f.name, "")
        secret = " (secret: never logged)" if "password" in f.name or f.name.endswith("key") else ""
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=kind,
            default=None,
            help=f"{help_text}{secret} [default: {f.default!r}; env IHOMER_{f.name.upper()}]",
        )


def run(args: argparse.Namespace) -> int:
    """Build the configuration from ``args``, the environment and the file; run the daemon."""
    names = ServeConfig.field_names()
    cli = {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}
    try:
        config = ServeConfig.load(file=getattr(args, "config", None), cli=cli)
    except ValueError as e:
        print(f"ihomer serve: configuration error: {e}", file=sys.stderr)
        return 2
    try:
        from ihomer.serve.daemon import Daemon
        from ihomer.serve.logs import configure_logging
    except ModuleNotFoundError as e:  # a core install: the serve extra is missing
        print(f"ihomer serve: error: the serve extra is not installed (no module {e.name!r}); "
              "install it with: pip install 'ihomer[serve]'", file=sys.stderr)  # fmt: skip
        return 2

    configure_logging(config.log_level)

    daemon = Daemon(config)
    daemon.install_signal_handlers()
    return daemon.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ihomer serve", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
