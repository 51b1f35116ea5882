"""Throughput of the neural scorer: train and score samples/s, public API vs raw torch.

For each shape (features -> labels) and batch size this measures, on host numpy batches:

* ``api``: :class:`ihomer.neural.NeuralMultiLabelClassifier` ``learn_many`` /
  ``predict_proba_many``;
* ``raw``: a hand-written torch loop with the same MLP, optimizer (Adam), loss, precision and the
  same host-to-device path (pinned buffer + ``non_blocking`` copy on CUDA; probabilities copied
  back to host numpy when scoring) - the ceiling the API is compared with;

and prints samples/s and the ratio api/raw. Each measurement runs ``--seconds`` after a short
warm-up; on CUDA the clock stops after ``torch.cuda.synchronize()``. With ``--repeat N`` the api and
raw measurements alternate N times and the best of each is reported (robust to a shared, loaded
machine).

Hidden sizes per shape: 120->101: (256, 256); 500->1000: (512, 512); 5000->4000: (1024, 1024);
other shapes: (512, 512). On a CPU the default shapes leave out 5000x4000 (seconds per step on two
cores); name it with ``--shapes`` to run it anyway.

    python benchmarks/neural_throughput.py                       # CPU here, CUDA when present
    python benchmarks/neural_throughput.py --shapes 120x101 --batches 256 --seconds 1
    python benchmarks/neural_throughput.py --json benchmarks/results/neural_throughput_cpu.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ihomer.neural import NeuralMultiLabelClassifier  # noqa: E402
from ihomer.neural.device import resolve_amp, resolve_device  # noqa: E402

HIDDEN = {(120, 101): (256, 256), (500, 1000): (512, 512), (5000, 4000): (1024, 1024)}
ALL_SHAPES = "120x101,500x1000,5000x4000"
CPU_SHAPES = "120x101,500x1000"


def make_batches(d: int, L: int, batch: int, pool: int, seed: int = 0):
    """``pool`` distinct host batches: float32 features and bool labels (about 3% positives)."""
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal((batch, d), dtype=np.float32) for _ in range(pool)]
    ys = [rng.random((batch, L)) < 0.03 for _ in range(pool)]
    return xs, ys


def timed(step, n_per_step: int, seconds: float, sync, warmup: int = 2) -> float:
    for _ in range(warmup):
        step(0)
    sync()
    i = 0
    t0 = time.perf_counter()
    while True:
        step(i)
        i += 1
        if i % 4 == 0 or i < 4:
            sync()
            if time.perf_counter() - t0 >= seconds:
                break
    sync()
    return i * n_per_step / (time.perf_counter() - t0)


def bench_api(d, L, hidden, xs, ys, args, sync):
    model = NeuralMultiLabelClassifier(
        hidden=hidden, device=args.device, amp=args.amp, threads=args.threads, max_batch=1 << 20
    )
    n = xs[0].shape[0]
    k = len(xs)
    train = timed(lambda i: model.learn_many(xs[i % k], ys[i % k]), n, args.seconds, sync)
    score = timed(lambda i: model.predict_proba_many(xs[i % k]), n, args.seconds, sync)
    return train, score, model.engine


def bench_raw(d, L, hidden, xs, ys, args, sync, device, amp_dtype):
    import torch

    torch.manual_seed(0)
    layers = []
    sizes = [d, *hidden]
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(sizes[-1], L))
    net = torch.nn.Sequential(*layers).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="sum")
    cuda = device.type == "cuda"
    n = xs[0].shape[0]
    k = len(xs)
    if cuda:
        px = [torch.empty((n, d), pin_memory=True) for _ in range(2)]
        py = [torch.empty((n, L), dtype=torch.bool, pin_memory=True) for _ in range(2)]
        ev = [torch.cuda.Event() for _ in range(2)]
        used = [False, False]

    def to_dev(i, with_y):
        if not cuda:
            x = torch.from_numpy(xs[i % k])
            return x, (torch.from_numpy(ys[i % k]) if with_y else None)
        s = i % 2
        if used[s]:
            ev[s].synchronize()
        px[s].copy_(torch.from_numpy(xs[i % k]))
        x = px[s].to(device, non_blocking=True)
        y = None
        if with_y:
            py[s].copy_(torch.from_numpy(ys[i % k]))
            y = py[s].to(device, non_blocking=True)
        ev[s].record()
        used[s] = True
        return x, y

    def autocast():
        if amp_dtype is None:
            import contextlib

            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=amp_dtype)

    def train_step(i):
        x, y = to_dev(i, True)
        with autocast():
            logits = net(x)
        loss = loss_fn(logits.float(), y.float()) / n
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def score_step(i):
        with torch.inference_mode():
            x, _ = to_dev(i, False)
            with autocast():
                p = torch.sigmoid(net(x).float())
            if cuda:
                out = np.empty((n, L), dtype=np.float32)
                torch.from_numpy(out).copy_(p)
            else:
                p.numpy()

    train = timed(train_step, n, args.seconds, sync)
    score = timed(score_step, n, args.seconds, sync)
    return train, score


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--shapes",
        default=None,
        help=f"e.g. {ALL_SHAPES} (default: all on CUDA, {CPU_SHAPES} on CPU)",
    )
    ap.add_argument("--batches", default="256,4096")
    ap.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--amp", default="auto", choices=["auto", "bf16", "off"])
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument(
        "--repeat", type=int, default=1, help="alternate api/raw runs, report the best of each"
    )
    ap.add_argument("--pool", type=int, default=4, help="distinct host batches cycled through")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    args = ap.parse_args(argv)

    import torch

    device = resolve_device(args.device)
    amp_dtype = resolve_amp(args.amp, device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    shapes_arg = args.shapes or (ALL_SHAPES if device.type == "cuda" else CPU_SHAPES)
    shapes = [tuple(int(v) for v in s.split("x")) for s in shapes_arg.split(",")]
    batches = [int(b) for b in args.batches.split(",")]

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(
        f"# device={device} ({name or 'cpu'}) amp={amp_dtype} threads={torch.get_num_threads()} "
        f"torch={torch.__version__} seconds/measurement={args.seconds} repeat={args.repeat}"
    )
    print(f"# shapes={shapes_arg} batches={args.batches}")
    header = (
        f"{'shape':>11} {'hidden':>12} {'batch':>6} | {'api train/s':>12} {'raw train/s':>12} "
        f"{'ratio':>6} | {'api score/s':>12} {'raw score/s':>12} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    for d, L in shapes:
        hidden = HIDDEN.get((d, L), (512, 512))
        for b in batches:
            xs, ys = make_batches(d, L, b, args.pool)
            runs = []
            for _ in range(args.repeat):  # api and raw alternate, so load drifts hit both
                api_train, api_score, _engine = bench_api(d, L, hidden, xs, ys, args, sync)
                del _engine
                runs.append(
                    (api_train, api_score)
                    + bench_raw(d, L, hidden, xs, ys, args, sync, device, amp_dtype)
                )
            api_train, api_score, raw_train, raw_score = np.max(np.array(runs), axis=0)
            row = {
                "shape": f"{d}x{L}",
                "hidden": list(hidden),
                "batch": b,
                "api_train": float(api_train),
                "raw_train": float(raw_train),
                "api_score": float(api_score),
                "raw_score": float(raw_score),
            }
            rows.append(row)
            print(
                f"{d:>5}->{L:<5} {str(hidden):>12} {b:>6} | "
                f"{api_train:>12,.0f} {raw_train:>12,.0f} "
                f"{api_train / raw_train:>6.2f} | {api_score:>12,.0f} {raw_score:>12,.0f} "
                f"{api_score / raw_score:>6.2f}",
                flush=True,
            )
    if args.json:
        meta = {
            "device": str(device),
            "device_name": name,
            "amp": str(amp_dtype),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "seconds": args.seconds,
            "repeat": args.repeat,
        }
        Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
