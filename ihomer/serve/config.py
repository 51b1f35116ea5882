"""The daemon's configuration: defaults < config file < ``IHOMER_*`` environment < CLI flags.

This module owns the list of settings, their types and defaults, how they are read from a JSON or
TOML file, from the environment and from parsed CLI flags, their validation, and the redacted view
that the daemon logs once at start. It must not talk to Kafka or touch the model.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from streams.kafka import DEFAULT_MAX_MESSAGE_BYTES

__all__ = ["ServeConfig", "ENV_PREFIX", "SECRET_FIELDS", "ROLES"]

ENV_PREFIX = "IHOMER_"
#: Settings never logged in clear.
SECRET_FIELDS = frozenset({"sasl_password", "ssl_password", "checkpoint_key"})
ROLES = ("both", "learner", "server")


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {v!r}")


@dataclass
class ServeConfig:
    """Every setting of ``ihomer serve``.

    Examples
    --------
    >>> cfg = ServeConfig.load(env={"IHOMER_CHECKPOINT_INTERVAL": "50"}, cli={"role": "learner"})
    >>> cfg.checkpoint_interval, cfg.role
    (50, 'learner')
    >>> ServeConfig(sasl_password="hunter2").redacted()["sasl_password"]
    '***'
    """

    bootstrap_servers: str = "127.0.0.1:9092"
    role: str = "both"  # both | learner | server
    labelled_topic: str = "ihomer-events"
    request_topic: str = "ihomer-requests"
    prediction_topic: str = "ihomer-predictions"
    dead_letter_topic: str = "ihomer-dead-letters"
    learner_group: str = "ihomer-learner"
    server_group: str = "ihomer-server"
    client_id: str = "ihomer-serve"
    model: str = "ihomer"
    seed: int = 42
    checkpoint_path: str = "ihomer-serve.ckpt"
    checkpoint_interval: int = 1000  # labelled records between checkpoints
    checkpoint_interval_s: float = 30.0  # and at most this many seconds
    checkpoint_key: str = ""  # optional HMAC key for checkpoints (secret)
    snapshot_poll_s: float = 2.0  # server role: how often to look for a newer checkpoint
    audit_log: str = ""  # optional file: one line per learned record (topic partition offset id)
    metrics_addr: str = "127.0.0.1"
    metrics_port: int = 9464  # 0 = pick a free port (logged)
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_poll_records: int = 200
    poll_timeout_ms: int = 100
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 1000
    fetch_max_wait_ms: int = 20
    retry_backoff_s: float = 0.5  # first wait when the broker is unreachable
    retry_backoff_max_s: float = 10.0
    max_run_s: float = 0.0  # 0 = run until signalled (tests and benchmarks use a bound)
    log_level: str = "INFO"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: str = ""
    ssl_password: str = ""
    extra: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ loading
    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "extra"]

    @classmethod
    def _coerce(cls, name: str, value: Any, where: str) -> Any:
        types = {f.name: f.type for f in fields(cls)}
        if name not in types or name == "extra":
            raise ValueError(f"{where}: unknown setting {name!r}")
        kind = types[name]
        try:
            if kind == "bool":
                return _bool(value)
            if kind == "int":
                if isinstance(value, bool):
                    raise ValueError("a boolean is not an integer")
                return int(value)
            if kind == "float":
                return float(value)
            return str(value)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where}: setting {name!r}: {e}") from None

    @classmethod
    def read_file(cls, path: str | os.PathLike) -> dict[str, Any]:
        """Settings from a ``.toml`` or ``.json`` file (a ``[serve]`` table is used if present)."""
        path = Path(path)
        try:
            text = path.read_bytes()
        except OSError as e:
            raise ValueError(f"{path}: cannot read config file: {e.strerror or e}") from None
        try:
            if path.suffix == ".json":
                data = json.loads(text)
            else:
                data = tomllib.loads(text.decode())
        except (ValueError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: invalid config file: {e}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the config file must hold a table/object")
        if isinstance(data.get("serve"), dict):
            data = data["serve"]
        return {k.replace("-", "_"): v for k, v in data.items()}

    @classmethod
    def load(
        cls,
        file: str | os.PathLike | None = None,
        env: Mapping[str, str] | None = None,
        cli: Mapping[str, Any] | None = None,
    ) -> ServeConfig:
        """Merge the sources (later wins): defaults, ``file``, ``IHOMER_*`` in ``env``, ``cli``.

        ``cli`` values that are ``None`` (flags not given) are ignored. Raises ``ValueError`` naming
        the source of an unknown or ill-typed setting.
        """
        values: dict[str, Any] = {}
        if file:
            for k, v in cls.read_file(file).items():
                values[k] = cls._coerce(k, v, str(file))
        env = os.environ if env is None else env
        names = set(cls.field_names())
        for key, v in env.items():
            if not key.startswith(ENV_PREFIX):
                continue
            name = key[len(ENV_PREFIX) :].lower()
            if name in names:
                values[name] = cls._coerce(name, v, f"environment {key}")
        for k, v in (cli or {}).items():
            if v is not None:
                values[k] = cls._coerce(k, v, f"--{k.replace('_', '-')}")
        cfg = cls(**values)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {self.role!r}")
        if self.checkpoint_interval < 1:
            raise ValueError(f"checkpoint_interval must be >= 1, not {self.checkpoint_interval}")
        if self.checkpoint_interval_s <= 0:
            raise ValueError(f"checkpoint_interval_s must be > 0, not {self.checkpoint_interval_s}")
        if self.max_poll_records < 1:
            raise ValueError(f"max_poll_records must be >= 1, not {self.max_poll_records}")
        if self.max_message_bytes < 16:
            raise ValueError(f"max_message_bytes must be >= 16, not {self.max_message_bytes}")
        if not 0 <= self.metrics_port <= 65535:
            raise ValueError(f"metrics_port must be in 0..65535, not {self.metrics_port}")
        if self.retry_backoff_s <= 0 or self.retry_backoff_max_s < self.retry_backoff_s:
            raise ValueError("need 0 < retry_backoff_s <= retry_backoff_max_s")

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with secrets replaced by ``'***'`` (empty ones stay empty)."""
        out = dataclasses.asdict(self)
        for k in SECRET_FIELDS:
            if out.get(k):
                out[k] = "***"
        return out

    @property
    def learns(self) -> bool:
        return self.role in ("both", "learner")

    @property
    def serves(self) -> bool:
        return self.role in ("both", "server")

    def kafka_security(self) -> dict[str, Any]:
        """Client settings for authentication (empty for PLAINTEXT)."""
        out: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.sasl_mechanism:
            out.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password,
            )
        if self.ssl_password:
            out["ssl_password"] = self.ssl_password
        return out
