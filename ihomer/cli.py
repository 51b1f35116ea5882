"""The ``ihomer`` command: argument parsing and printing only.

``ihomer evaluate`` runs a prequential evaluation (default: iHOMER on river's bundled Yeast);
``ihomer bench`` runs the benchmark (:mod:`ihomer.bench`); ``ihomer serve`` runs the Kafka daemon
(:mod:`ihomer.serve`). The work itself lives in those modules.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

__all__ = ["main", "parse_model_spec", "build_model"]


def _parse_value(text: str):
    low = text.lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_model_spec(spec: str) -> tuple[str, dict]:
    """Split ``"name:key=value,key=value"`` into the name and typed parameters.

    >>> parse_model_spec("ihomer:n_min=100,threshold=0.4,empty_fallback=false")
    ('ihomer', {'n_min': 100, 'threshold': 0.4, 'empty_fallback': False})
    """
    name, _, rest = spec.partition(":")
    params = {}
    for part in filter(None, rest.split(",")):
        key, eq, value = part.partition("=")
        if not eq:
            raise ValueError(f"model parameter {part!r} in {spec!r} is not key=value")
        params[key.strip()] = _parse_value(value.strip())
    return name.strip(), params


def build_model(spec: str, seed: int = 0):
    """A model from a spec: ``ihomer[:params]`` or any peer the benchmark knows."""
    name, params = parse_model_spec(spec)
    if name == "ihomer":
        from ihomer.model import IHOMER

        params.setdefault("seed", seed)
        return IHOMER(**params)
    try:
        from ihomer.bench.models import make_model
    except ImportError as e:  # pragma: no cover - bench is part of the package
        raise ValueError(f"unknown model {name!r}") from e
    return make_model(spec, seed=seed)


def _evaluate(args: argparse.Namespace) -> int:
    from streams import StreamFormatError, open_stream

    kwargs = {"lenient": True} if args.lenient and not args.data.startswith("synth") else {}
    try:
        stream = open_stream(args.data, **kwargs)
        models = {spec: build_model(spec, seed=args.seed) for spec in args.model}
    except (ValueError, FileNotFoundError) as e:
        print(f"ihomer evaluate: error: {e}", file=sys.stderr)
        return 2
    try:
        results = _run(args, stream, models)
    except StreamFormatError as e:
        print(f"ihomer evaluate: error: {e} (use --lenient to skip bad records)", file=sys.stderr)
        return 2
    skipped = getattr(stream, "n_skipped", 0)
    if skipped:
        print(
            f"ihomer evaluate: skipped {skipped} malformed records, e.g. {stream.skipped[0]}",
            file=sys.stderr,
        )
    _print_results(args, stream, models, results)
    return 0


def _run(args, stream, models) -> dict:
    from ihomer.evaluate import prequential

    results = {}
    for spec, model in models.items():
        progress = (not args.json) and (not args.no_progress) and sys.stderr.isatty()
        if not args.json and not progress:
            print(f"evaluating {spec} on {stream.name} ...", file=sys.stderr)
        results[spec] = prequential(
            model,
            stream,
            max_instances=args.max_instances,
            trace_every=args.trace_every,
            progress=progress,
            measure_memory=args.memory,
        )
    return results


def _print_results(args, stream, models, results) -> None:
    from ihomer.evaluate import format_table

    if args.json:
        out = {
            "data": args.data,
            "stream": stream.name,
            "results": {k: r.to_dict() for k, r in results.items()},
        }
        json.dump(out, sys.stdout, indent=2, default=str)
        print()
    else:
        n = max((r.n for r in results.values()), default=0)
        span = "first" if args.max_instances is not None else "whole stream,"
        print(f"\nPrequential (test-then-train) on {stream.name}: {span} {n:,d} instances\n")
        print(format_table(results))
        for spec, model in models.items():
            events = getattr(model, "events", None)
            if events is not None and hasattr(events, "counts"):
                counts = ", ".join(f"{k}={v}" for k, v in sorted(events.counts.items()))
                k = getattr(model, "n_clusters", "?")
                print(f"\n{spec}: label clusters now: {k}; events: {counts or 'none'}")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ihomer", description="Streaming online multi-label learning (iHOMER)."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("evaluate", help="prequential evaluation of one or more models")
    ev.add_argument(
        "--data",
        default="river:yeast",
        help="stream: river:yeast (default, bundled), a dev-suite name (scene, medical, ...), "
        "a path (.arff[.gz|.bz2], .csv, .jsonl) or synth[:key=value,...]",
    )
    ev.add_argument(
        "--model",
        action="append",
        default=None,
        help="model spec, repeatable: ihomer[:key=value,...] (default) or a benchmark peer "
        "(see `ihomer bench --help`)",
    )
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--max-instances", type=int, default=None)
    ev.add_argument("--trace-every", type=int, default=500)
    ev.add_argument("--memory", action="store_true", help="tracemalloc peak (slower)")
    ev.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    ev.add_argument("--no-progress", action="store_true")
    ev.add_argument(
        "--lenient", action="store_true", help="skip, count and report malformed records"
    )
    ev.set_defaults(func=_evaluate)

    try:
        from ihomer.bench import cli as bench_cli
    except ImportError:
        bench_cli = None
    if bench_cli is not None:
        b = sub.add_parser("bench", help="prequential benchmark against river, MOA, published")
        bench_cli.add_arguments(b)
        b.set_defaults(func=bench_cli.run)

    try:
        from ihomer.serve import cli as serve_cli
    except ImportError:
        serve_cli = None
    if serve_cli is not None:
        s = sub.add_parser("serve", help="Kafka daemon: learn and serve predictions")
        serve_cli.add_arguments(s)
        s.set_defaults(func=serve_cli.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command == "evaluate" and args.model is None:
        args.model = ["ihomer"]
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
