"""The Cython twins of the hot modules: loaded only while their source is unchanged, and the
same results as the sources."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import ihomer.compiled as compiled

ROOT = Path(__file__).resolve().parents[1]
SUFFIX = __import__("importlib.machinery").machinery.EXTENSION_SUFFIXES[0]


def _tree(tmp_path: Path, source: bytes, recorded: bytes, twin: bool = True) -> Path:
    (tmp_path / "trees").mkdir()
    (tmp_path / "trees" / "tree.py").write_bytes(source)
    if twin:
        (tmp_path / "trees" / f"tree.cython{SUFFIX}").write_bytes(b"not really a library")
    manifest = tmp_path / "compiled.json"
    entry = {"file": f"trees/tree.cython{SUFFIX}", "sha256": hashlib.sha256(recorded).hexdigest()}
    manifest.write_text(json.dumps({"ihomer.trees.tree": entry}))
    return manifest


def test_a_twin_is_used_only_while_its_source_has_the_recorded_hash(tmp_path):
    manifest = _tree(tmp_path, b"x = 1\n", b"x = 1\n")
    assert compiled.twins(manifest, tmp_path) == {
        "ihomer.trees.tree": tmp_path / "trees" / f"tree.cython{SUFFIX}"
    }
    (tmp_path / "trees" / "tree.py").write_bytes(b"x = 2\n")  # edited after the build
    assert compiled.twins(manifest, tmp_path) == {}


def test_missing_twins_sources_and_bad_manifests_give_no_twin(tmp_path):
    assert compiled.twins(_tree(tmp_path, b"a\n", b"a\n", twin=False), tmp_path) == {}
    (tmp_path / "trees" / "tree.py").unlink()
    assert compiled.twins(tmp_path / "compiled.json", tmp_path) == {}
    bad = tmp_path / "bad.json"
    for text in ("{not json", "[1, 2]", json.dumps({"ihomer.x": {"file": 3}})):
        bad.write_text(text)
        assert compiled.twins(bad, tmp_path) == {}
    assert compiled.twins(tmp_path / "absent.json", tmp_path) == {}
    outside = {"os": {"file": f"os{SUFFIX}", "sha256": "0" * 64}}  # only ihomer's modules
    bad.write_text(json.dumps(outside))
    assert compiled.twins(bad, tmp_path) == {}


def test_the_makefile_rebuilds_when_a_compiled_module_changes():
    setup_list = re.search(r"COMPILED_MODULES = \[(.*?)\]", (ROOT / "setup.py").read_text(), re.S)
    make = (ROOT / "Makefile").read_text()
    make_list = re.search(r"^COMPILED := (.*?)\n(?=\S)", make, re.S | re.M)
    assert setup_list and make_list
    in_setup = sorted(re.findall(r'"([^"]+\.py)"', setup_list.group(1)))
    assert in_setup == sorted(make_list.group(1).replace("\\", " ").split())


needs_twins = pytest.mark.skipif(
    not compiled.active(), reason="no Cython twins built (no Cython or compiler at install)"
)


@needs_twins
def test_the_hot_modules_run_from_their_twins():
    import ihomer.model
    import ihomer.trees.tree

    assert "ihomer.model" in compiled.loaded() and "ihomer.trees.tree" in compiled.loaded()
    assert ihomer.model.__file__.endswith(SUFFIX) and ".cython" in ihomer.trees.tree.__file__


@needs_twins
def test_the_serve_daemons_record_path_runs_from_its_twins():
    code = ("import ihomer, ihomer.compiled, streams.kafka, ihomer.serve.learner; "
            "print(sorted(ihomer.compiled.loaded()))")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.replace("'", '"'))
    for name in ("streams.kafka", "ihomer.serve.learner", "ihomer.serve.limits",
                 "ihomer.serve.checkpointer", "ihomer.serve.progress"):  # fmt: skip
        assert name in loaded


_RUN = """
import json, sys
from river import datasets
import ihomer, ihomer.compiled
from ihomer.trees import kernels
if kernels._kernels is not None:
    kernels.set_backend("compiled")  # the same kernels both times: only the modules differ
model, out = ihomer.IHOMER(), []
for x, y in datasets.Yeast().take(400):
    out.append(sorted(model.predict_proba_one(x).get("Class1", {}).items()))
    model.learn_one(x, y)
print(json.dumps([bool(ihomer.compiled.loaded()), out]))
"""


@needs_twins
def test_twins_and_sources_give_the_same_predictions():
    runs = []
    for flag in ("0", "1"):
        env = {**os.environ, "IHOMER_NO_COMPILED": flag, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, "-c", _RUN], env=env, capture_output=True, text=True, cwd=ROOT
        )
        assert done.returncode == 0, done.stderr[-2000:]
        runs.append(json.loads(done.stdout))
    (twins_used, with_twins), (sources_used, with_sources) = runs
    assert twins_used and not sources_used
    assert with_twins == with_sources and len(with_twins) == 400


def test_a_streams_module_has_its_twin_beside_its_source(tmp_path):
    """The serve daemon's wire format (streams.kafka) sits beside the ihomer package: its
    twin's file is given relative to the ihomer folder and its source is under streams/."""
    (tmp_path / "ihomer").mkdir()
    (tmp_path / "streams").mkdir()
    (tmp_path / "streams" / "kafka.py").write_bytes(b"x = 1\n")
    (tmp_path / "streams" / f"kafka.cython{SUFFIX}").write_bytes(b"not really a library")
    entry = {"file": f"../streams/kafka.cython{SUFFIX}",
             "sha256": hashlib.sha256(b"x = 1\n").hexdigest()}  # fmt: skip
    manifest = tmp_path / "ihomer" / "compiled.json"
    manifest.write_text(json.dumps({"streams.kafka": entry}))
    assert compiled.twins(manifest, tmp_path / "ihomer") == {
        "streams.kafka": tmp_path / "streams" / f"kafka.cython{SUFFIX}"
    }
    (tmp_path / "streams" / "kafka.py").write_bytes(b"x = 2\n")
    assert compiled.twins(manifest, tmp_path / "ihomer") == {}
