"""The ``ihomer`` command: argument parsing and printing only.

``ihomer evaluate`` runs a prequential evaluation (default: iHOMER on river's bundled Yeast) and can
save the trained model; ``ihomer predict`` writes the label sets a saved model predicts for a file;
``ihomer inspect`` shows a saved model's label hierarchy and cluster trees; ``ihomer bench`` runs
the benchmark (:mod:`ihomer.bench`); ``ihomer serve`` runs the Kafka daemon (:mod:`ihomer.serve`).
The work itself lives in those modules, in :mod:`ihomer.registry` (models),
:mod:`ihomer.persist` (saved models) and :mod:`ihomer.inspection`.

A user mistake (a bad flag, model spec, stream spec or file) is one line on stderr naming the
problem and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from ihomer import __version__

__all__ = ["main", "make_parser"]

_DEFAULT_TRACE_EVERY = 500


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) and exit 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _count(text: str) -> int:
    """An int >= 0 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _label_list(text: str) -> list[str] | int:
    """``a,b,c`` (label names) or an integer N (ARFF: the first N attributes, -N the last)."""
    try:
        return int(text)
    except ValueError:
        pass
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected label names a,b,c or an integer, got {text!r}")
    return names


def _fail(command: str, message: object) -> int:
    print(f"ihomer {command}: error: {message}", file=sys.stderr)
    return 2


def _os_message(e: OSError) -> str:
    if e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return str(e)


# -- streams ---------------------------------------------------------------------------------------
def _add_stream_arguments(p: argparse.ArgumentParser, default: str | None) -> None:
    p.add_argument(
        "--data",
        default=default,
        required=default is None,
        help="the stream: river:yeast (bundled), a development-suite name (scene, medical, ...), "
        "a file (.arff[.gz|.bz2], .csv[.gz], .jsonl[.gz]) or synth[:key=value,...]"
        + (f" [default: {default}]" if default else ""),
    )
    p.add_argument(
        "--labels",
        type=_label_list,
        default=None,
        metavar="A,B,...|N",
        help="which columns are labels: names (CSV, ARFF, JSON lines) or, for ARFF, a count N "
        "(the first N attributes; -N: the last N, as MEKA's -C)",
    )
    p.add_argument(
        "--label-prefix",
        default=None,
        metavar="PREFIX",
        help="CSV: every column whose name starts with PREFIX is a label",
    )
    p.add_argument(
        "--label-xml",
        default=None,
        metavar="FILE",
        help="Mulan ARFF: the label XML (default: the .xml beside the .arff)",
    )
    p.add_argument(
        "--lenient",
        action="store_true",
        help="skip, count and report malformed records instead of stopping at the first one",
    )
    p.add_argument(
        "--max-instances",
        type=_count,
        default=None,
        metavar="N",
        help="read only the first N instances [default: the whole stream]",
    )


def _open(args: argparse.Namespace, labels_required: bool = True) -> Any:
    from streams import open_stream

    kwargs: dict[str, Any] = {
        "labels": args.labels,
        "label_prefix": args.label_prefix,
        "label_xml": args.label_xml,
    }
    if args.lenient:
        kwargs["lenient"] = True
    if not labels_required:
        kwargs["labels_required"] = False
    return open_stream(args.data, **kwargs)


def _unwritable(path: str) -> str | None:
    """Why a model cannot be saved at ``path`` (None when it can): its folder is created and a
    temporary file written and removed there, as the save will do."""
    import os
    import tempfile
    from pathlib import Path

    target = Path(path)
    if target.is_dir():
        return "is a directory"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=target.name + ".", suffix=".probe", dir=target.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        return f"cannot write there ({_os_message(e)})"
    return None


def _stream_length(spec: str, stream: Any) -> int | None:
    """The stream's length when it is known without reading it (for the progress bar)."""
    n = getattr(stream, "n_instances", None)
    if isinstance(n, int):
        return n
    from ihomer.bench.cli import STREAM_SIZES

    return STREAM_SIZES.get(spec.strip().lower())


_ENDLESS = ("{!r} is an endless synthetic stream: give it n_instances=N "
            "(e.g. synth:n_instances=10000) or pass --max-instances N")


def _endless(stream: Any, args: argparse.Namespace) -> bool:
    """A generator without an end (synth without n_instances) and no --max-instances."""
    return (getattr(stream, "n_instances", 0) is None and getattr(stream, "limit", 0) is None
            and args.max_instances is None)  # fmt: skip


def _label_hint(e: Exception) -> str:
    text = str(e)
    if "pass labels= or label_xml=" in text:
        return text.replace("pass labels= or label_xml=", "pass --labels or --label-xml")
    if "needs label_columns or label_prefix" in text:
        return text.replace("CsvStream needs label_columns or label_prefix",
                            "a CSV file needs --labels or --label-prefix")  # fmt: skip
    return text


# -- evaluate --------------------------------------------------------------------------------------
def _evaluate(args: argparse.Namespace) -> int:
    from ihomer.registry import build_model
    from streams import StreamFormatError

    if args.save is not None and len(args.model) != 1:
        return _fail("evaluate", f"--save keeps one model; {len(args.model)} --model given")
    if args.save is not None and (problem := _unwritable(args.save)):
        return _fail("evaluate", f"--save {args.save}: {problem}")  # before a long run
    try:
        stream = _open(args)
        if _endless(stream, args):
            return _fail("evaluate", _ENDLESS.format(args.data))
        models = {}
        for spec in args.model:
            models[spec] = build_model(spec, seed=args.seed, stream=stream)
    except OSError as e:
        return _fail("evaluate", _os_message(e))
    except ValueError as e:
        return _fail("evaluate", _label_hint(e))
    try:
        results = _run(args, stream, models)
    except StreamFormatError as e:
        hint = "" if args.lenient or e.line is None else " (use --lenient to skip bad records)"
        return _fail("evaluate", f"{e}{hint}")
    except OSError as e:
        return _fail("evaluate", _os_message(e))
    except KeyboardInterrupt:
        print("ihomer evaluate: interrupted", file=sys.stderr)
        return 130
    skipped = getattr(stream, "n_skipped", 0)
    if skipped:
        print(
            f"ihomer evaluate: skipped {skipped} malformed records, e.g. {stream.skipped[0]}",
            file=sys.stderr,
        )
    _print_results(args, stream, models, results)
    if args.save is not None:
        from ihomer.persist import save

        (spec, model), = models.items()
        try:
            size = save(model, args.save, metadata={"spec": spec, "data": args.data})
        except OSError as e:
            return _fail("evaluate", f"cannot save the model: {_os_message(e)}")
        print(f"ihomer evaluate: saved {spec} to {args.save} ({size:,d} bytes)", file=sys.stderr)
    return 0


def _run(args: argparse.Namespace, stream: Any, models: dict) -> dict:
    from ihomer.evaluate import prequential

    trace_every = args.trace_every if args.trace_every is not None else _DEFAULT_TRACE_EVERY
    total = _stream_length(args.data, stream)
    results = {}
    for spec, model in models.items():
        progress = (not args.json) and (not args.no_progress) and sys.stderr.isatty()
        if not args.json and not progress:
            print(f"evaluating {spec} on {stream.name} ...", file=sys.stderr)
        results[spec] = prequential(
            model,
            stream,
            max_instances=args.max_instances,
            trace_every=trace_every,
            progress=progress,
            measure_memory=args.memory,
            total=total,
        )
    return results


def _mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:,.1f} MiB"


def _structure_line(spec: str, model: Any) -> str | None:
    events = getattr(model, "events", None) if hasattr(model, "partition") else None
    if events is None or not hasattr(events, "counts"):
        return None
    from ihomer.inspection import hierarchy

    h = hierarchy(model)
    counts = ", ".join(f"{k}={v}" for k, v in sorted(events.counts.items()))
    line = f"\n{spec}: {len(h.partition)} learning label cluster(s)"
    if getattr(model, "partitioning", "hierarchy") == "one":
        line += " (partitioning='one': one tree over every label; the label hierarchy is "
        line += "partitioning='hierarchy')"
    elif h.nodes:
        line += (f" from {len(h.active)} ODAC cluster(s) ({events.counts.get('cluster_split', 0)}"
                 f" split(s), {events.counts.get('cluster_merge', 0)} merge(s)")  # fmt: skip
        if h.min_size and len(h.active) > len(h.partition):
            line += f"; clusters smaller than {h.min_size} labels are merged for learning"
        line += ")"
    line += f"; events: {counts or 'none'}"
    line += "\n  (--save MODEL, then `ihomer inspect --model MODEL` shows the clusters and trees)"
    return line


def _trace_table(result: Any) -> str:
    head = ["n", "mi_F1", "window_mi_F1", "window_subset", "clusters", "seconds"]
    rows = [head]
    for t in result.trace:
        k = t.get("n_clusters")
        rows.append([
            f"{t['n']:,d}", f"{t['micro_f1']:.4f}", f"{t['window_micro_f1']:.4f}",
            f"{t['window_subset_accuracy']:.4f}", "-" if k is None else str(k),
            f"{t['seconds']:.2f}",
        ])  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows)


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
        return
    n = max((r.n for r in results.values()), default=0)
    span = "first" if args.max_instances is not None else "whole stream,"
    print(f"\nPrequential (test-then-train) on {stream.name}: {span} {n:,d} instances\n")
    print(format_table(results))
    for spec, result in results.items():
        if args.trace_every is not None:
            print(f"\n{spec}: every {args.trace_every:,d} instances (window_*: since the "
                  "previous line)\n" + _trace_table(result))  # fmt: skip
        if args.memory:
            print(f"\n{spec}: peak traced Python memory {_mib(result.peak_memory_bytes)} "
                  f"(tracemalloc, which slowed this run); process peak RSS "
                  f"{_mib(result.peak_rss_bytes)}")  # fmt: skip
    for spec, model in models.items():
        line = _structure_line(spec, model)
        if line:
            print(line)


# -- predict ---------------------------------------------------------------------------------------
def _predict(args: argparse.Namespace) -> int:
    from ihomer.metrics import MultiLabelReport
    from streams import StreamFormatError

    try:
        from ihomer.persist import load

        model = load(args.model)
        stream = _open(args, labels_required=False)
        if _endless(stream, args):
            return _fail("predict", _ENDLESS.format(args.data))
        out = sys.stdout if args.output in (None, "-") else open(args.output, "w", encoding="utf-8")
    except OSError as e:
        return _fail("predict", _os_message(e))
    except ValueError as e:
        return _fail("predict", _label_hint(e))
    report = MultiLabelReport()
    n = 0
    try:
        for x, y in stream:
            if args.max_instances is not None and n >= args.max_instances:
                break
            y_pred = model.predict_one(x) or {}
            record: dict[str, Any] = {"i": n, "labels": [k for k, on in y_pred.items() if on]}
            if args.proba:
                proba = model.predict_proba_one(x) or {}
                record["proba"] = {str(k): float(p.get(True, 0.0))
                                   for k, p in proba.items()}  # fmt: skip
            if y:
                record["true"] = [k for k, on in y.items() if on]
                report.update(y, y_pred)
            out.write(json.dumps(record, default=str) + "\n")
            n += 1
    except StreamFormatError as e:
        hint = "" if args.lenient or e.line is None else " (use --lenient to skip bad records)"
        return _fail("predict", f"{e}{hint}")
    except OSError as e:
        return _fail("predict", _os_message(e))
    finally:
        if out is not sys.stdout:
            out.close()
    where = "stdout" if out is sys.stdout else args.output
    summary = f"ihomer predict: {n:,d} record(s) -> {where}"
    if report.n:
        m = report.get()
        summary += (f"; {report.n:,d} labelled: micro-F1 {m['micro_f1']:.4f}, subset accuracy "
                    f"{m['subset_accuracy']:.4f}, Hamming loss {m['hamming_loss']:.4f} "
                    "(predicted without learning)")  # fmt: skip
    skipped = getattr(stream, "n_skipped", 0)
    if skipped:
        summary += f"; skipped {skipped} malformed record(s), e.g. {stream.skipped[0]}"
    print(summary, file=sys.stderr)
    return 0


# -- inspect ---------------------------------------------------------------------------------------
def _inspect(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ihomer.inspection import cluster_trees, hierarchy
    from ihomer.persist import load

    try:
        model = load(args.model)
    except (OSError, ValueError) as e:
        return _fail("inspect", e)
    h = hierarchy(model)
    trees = cluster_trees(model)
    if args.json:
        data = h.to_dict()
        data["clusters"] = [{"labels": [str(lab) for lab in t.labels], "n_nodes": t.n_nodes}
                            for t in trees]  # fmt: skip
        print(json.dumps(data, indent=2))
    else:
        print(h.summary())
        for t in trees:
            print()
            print(t.summary())
    if args.dot is not None:
        folder = Path(args.dot)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "hierarchy.dot").write_text(h.to_dot() + "\n")
            for t in trees:
                (folder / f"cluster_{t.index}.dot").write_text(t.to_dot() + "\n")
        except OSError as e:
            return _fail("inspect", _os_message(e))
        print(f"ihomer inspect: wrote {1 + len(trees)} dot file(s) to {folder} "
              f"(render: dot -Tpng {folder}/hierarchy.dot -o hierarchy.png)",
              file=sys.stderr)  # fmt: skip
    return 0


# -- parser ----------------------------------------------------------------------------------------
def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ihomer",
        description="Streaming online multi-label learning (iHOMER).",
        epilog="Every command: --help for its options. Errors are one line and exit status 2.",
    )
    parser.add_argument("--version", action="version", version=f"ihomer {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ev = sub.add_parser(
        "evaluate",
        help="prequential (test-then-train) evaluation of one or more models",
        description="Test-then-train each model over the stream; print river-defined metrics.",
    )
    _add_stream_arguments(ev, default="river:yeast")
    ev.add_argument(
        "--model",
        action="append",
        default=None,
        metavar="SPEC",
        help="model spec, repeatable: ihomer[:key=value,...] (default ihomer; any parameter of "
        "ihomer.IHOMER), br-logreg, a benchmark peer (ihomer bench --list-models) or "
        "package.module:factory",
    )
    ev.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the models that take one (a spec's seed=... wins) [default: 0]",
    )
    ev.add_argument(
        "--trace-every",
        type=_count,
        default=None,
        metavar="N",
        help="record the metrics every N instances and print them as a table (window_*: over "
        f"the last N) [default: no table; --json traces every {_DEFAULT_TRACE_EVERY}]",
    )
    ev.add_argument(
        "--memory",
        action="store_true",
        help="measure the peak Python memory with tracemalloc and print it (slows the run)",
    )
    ev.add_argument("--json", action="store_true", help="machine-readable results on stdout")
    ev.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (it is shown only when stderr is a terminal)",
    )
    ev.add_argument(
        "--save",
        default=None,
        metavar="MODEL",
        help="save the trained model to this file at the end (one --model only; "
        "load it with ihomer.load, ihomer predict or ihomer inspect)",
    )
    ev.set_defaults(func=_evaluate)

    pr = sub.add_parser(
        "predict",
        help="predict the label sets of a file with a saved model (JSON lines)",
        description="Write one JSON line per record: {\"i\", \"labels\": [...]} (plus \"proba\" "
        "with --proba, \"true\" when the record is labelled). The model does not learn.",
    )
    pr.add_argument("--model", required=True, metavar="MODEL",
                    help="a model saved by ihomer evaluate --save or ihomer.save")  # fmt: skip
    _add_stream_arguments(pr, default=None)
    pr.add_argument("--output", default=None, metavar="FILE",
                    help="where to write the JSON lines [default: stdout]")  # fmt: skip
    pr.add_argument("--proba", action="store_true",
                    help="add each label's probability")  # fmt: skip
    pr.set_defaults(func=_predict)

    ins = sub.add_parser(
        "inspect",
        help="show a saved model's label hierarchy and cluster trees",
        description="The learning clusters, the ODAC label tree, when each split / merge / "
        "re-partition happened, and each cluster's tree.",
    )
    ins.add_argument("--model", required=True, metavar="MODEL", help="a saved model")
    ins.add_argument("--dot", default=None, metavar="DIR",
                     help="also write Graphviz dot files (hierarchy + one per cluster) to DIR")
    ins.add_argument("--json", action="store_true", help="the hierarchy as JSON on stdout")
    ins.set_defaults(func=_inspect)

    from ihomer.bench import cli as bench_cli

    b = sub.add_parser("bench", help="prequential benchmark against river, MOA, published results")
    bench_cli.add_arguments(b)
    b.set_defaults(func=bench_cli.run)

    from ihomer.serve import cli as serve_cli

    s = sub.add_parser("serve", help="Kafka daemon: learn and serve predictions (extra: serve)")
    serve_cli.add_arguments(s)
    s.set_defaults(func=serve_cli.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command == "evaluate" and args.model is None:
        args.model = ["ihomer"]
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # e.g. `ihomer inspect ... | head`: the reader left, not an error
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
