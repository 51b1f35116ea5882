"""Prequential benchmark: iHOMER against river, MOA and the published results.

A thin wrapper around :mod:`ihomer.bench.cli` (the same as ``ihomer bench``); see ``--help``.
Examples::

    python benchmarks/prequential.py --quick              # CI smoke test, < 3 minutes
    python benchmarks/prequential.py                      # dev suite + synth drift, all peers
    python benchmarks/prequential.py --streams my.arff --models ihomer river-br-ht
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ihomer.bench.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
