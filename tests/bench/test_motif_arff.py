"""benchmarks/motif_arff.py: the stream it writes reads back as the module docstring says (0/1
motifs for {NO,YES}, categories for other words, labels set by two motifs), and a bad argument
is one line and exit 2."""

from __future__ import annotations

import subprocess
import sys

from streams.arff import ArffStream
from tests.bench.scripts import ROOT, load_script

SCRIPT = ROOT / "benchmarks" / "motif_arff.py"


def _module():
    return load_script("motif_arff")


def test_boolean_motifs_read_back_as_zero_one(tmp_path):
    out = tmp_path / "m.arff"
    assert _module().main(["--out", str(out), "--instances", "40", "--motifs", "50",
                           "--labels", "5"]) == 0  # fmt: skip
    labels, present = _module().motif_rows(40, 50, 5, 0)
    rows = list(ArffStream(out))
    assert len(rows) == 40
    for (x, y), ys, on in zip(rows, labels, present):
        assert set(x.values()) <= {0.0, 1.0} and all(type(v) is float for v in x.values())
        assert {int(k[2:]) for k, v in x.items() if v == 1.0} == on
        assert [y[f"F{j}"] for j in range(5)] == ys
    assert any(any(y.values()) for _, y in rows)  # every protein has a function, most a label


def test_other_words_stay_categories(tmp_path):
    out = tmp_path / "c.arff"
    _module().main(["--out", str(out), "--instances", "5", "--motifs", "20", "--labels", "3",
                    "--values", "absent,present"])  # fmt: skip
    x, _ = next(iter(ArffStream(out)))
    assert set(x.values()) <= {"absent", "present"}


def test_bad_values_exit_2(tmp_path):
    r = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "x.arff"),
                        "--values", "a"], capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
