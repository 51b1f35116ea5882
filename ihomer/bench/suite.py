"""Which streams a benchmark run uses by default, and how a bench stream name becomes a stream.

This module owns the bench-only stream aliases (the synthetic drift stream), the ``drifts=``
syntax for synthetic specs (``drifts=AT[:KIND[:WIDTH]]+...``, e.g.
``drifts=7000:labels+14000:concept``)
and :func:`open_bench_stream`. Every other spec goes to :func:`streams.open_stream` unchanged.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SYNTH_DRIFT",
    "SYNTH_QUICK",
    "ALIASES",
    "default_streams",
    "quick_streams",
    "resolve",
    "open_bench_stream",
    "parse_drifts",
]

#: The synthetic stream with scheduled drift of the default run (its seed follows the job's).
SYNTH_DRIFT = "synth-drift"
#: A small synthetic drift stream for ``--quick``.
SYNTH_QUICK = "synth-quick"

ALIASES: dict[str, str] = {
    SYNTH_DRIFT: "synth:n_instances=10000,n_features=30,n_labels=12,n_clusters=3,"
    "seed={seed},drifts=3500:labels+7000:concept",
    SYNTH_QUICK: "synth:n_instances=1500,n_features=10,n_labels=6,n_clusters=2,"
    "seed={seed},drifts=750:labels",
}


def resolve(spec: str) -> str:
    """The full spec behind a bench alias (other specs unchanged)."""
    return ALIASES.get(spec, spec)


def default_streams() -> list[str]:
    """The development suite (when its folder exists) plus the synthetic drift stream."""
    from streams import DEV_SUITE, shared_datasets_dir

    dev = list(DEV_SUITE) if shared_datasets_dir() is not None else ["river:yeast"]
    return dev + [SYNTH_DRIFT]


def quick_streams() -> list[str]:
    """A few small streams for smoke tests (no shared folder needed)."""
    return [SYNTH_QUICK, "river:yeast"]


def parse_drifts(text: str) -> list[Any]:
    """``"AT[:KIND[:WIDTH]]+..."`` -> a list of :class:`streams.synth.Drift` (the parser of
    ``synth:`` specs, :func:`streams.synth.parse_drifts`).

    Examples
    --------
    >>> parse_drifts("500:labels+900:concept:100")
    [Drift(at=500, kind='labels', width=0), Drift(at=900, kind='concept', width=100)]
    """
    from streams.synth import parse_drifts as parse

    return parse(text)


def open_bench_stream(spec: str) -> Any:
    """Open a bench stream name (alias, synthetic spec with ``drifts=``, or any stream spec)."""
    from streams import open_stream

    spec = resolve(spec)
    low = spec.strip().lower()
    if (low == "synth" or low.startswith("synth:")) and "drifts=" in spec:
        head, _, rest = spec.partition(":")
        parts, drifts = [], None
        for part in rest.split(","):
            if part.strip().startswith("drifts="):
                drifts = parse_drifts(part.split("=", 1)[1])
            else:
                parts.append(part)
        return open_stream(head + ":" + ",".join(parts), drifts=drifts or [])
    return open_stream(spec)
