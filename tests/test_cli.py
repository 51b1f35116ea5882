"""The ``ihomer`` command, through the real entry point (``python -m ihomer``) for every user
mistake: one line naming the problem, exit status 2, no traceback. Also evaluate's outputs, the
label options for CSV and Mulan files, unusable numbers in files, --save / predict / inspect."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ihomer
from ihomer.cli import main, make_parser
from ihomer.evaluate import prequential
from ihomer.registry import build_model

ROOT = Path(__file__).resolve().parents[1]

MULAN = """@relation mulan
@attribute f1 numeric
@attribute f2 numeric
@attribute lab_a {0,1}
@attribute lab_b {0,1}
@data
"""
MULAN_XML = '<labels><label name="lab_a"/><label name="lab_b"/></labels>'


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "ihomer", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _rows(n: int, start: int = 0) -> list[tuple[float, float, int, int]]:
    return [((i % 7) / 7, (i % 3) / 3, int(i % 7 < 3), int(i % 3 == 0)) for i in range(start, n)]


def _mulan(folder: Path, bad: str | None = None, n: int = 300, name: str = "m") -> Path:
    rows = _rows(n)
    lines = [f"{a},{b},{la},{lb}" for a, b, la, lb in rows]
    if bad is not None:
        lines[0] = f"{bad},0.5,1,0"
    p = folder / f"{name}.arff"
    p.write_text(MULAN + "\n".join(lines) + "\n")
    return p


def _csv(folder: Path, bad: str | None = None, n: int = 300) -> Path:
    lines = [f"{a},{b},{la},{lb}" for a, b, la, lb in _rows(n)]
    if bad is not None:
        lines[0] = f"{bad},0.5,1,0"
    p = folder / "d.csv"
    p.write_text("f1,f2,tag_a,tag_b\n" + "\n".join(lines) + "\n")
    return p


def _jsonl(folder: Path, bad: str | None = None, n: int = 300) -> Path:
    lines = []
    for a, b, la, lb in _rows(n):
        labels = [lab for lab, on in (("tag_a", la), ("tag_b", lb)) if on]
        lines.append(json.dumps({"x": {"f1": a, "f2": b}, "labels": labels}))
    if bad is not None:
        lines[0] = '{"x": {"f1": ' + bad + ', "f2": 0.5}, "labels": ["tag_a"]}'
    p = folder / "d.jsonl"
    p.write_text("\n".join(lines) + "\n")
    return p


def _truncated_gz(folder: Path) -> Path:
    data = gzip.compress(_mulan(folder, n=3000, name="big").read_bytes())
    p = folder / "t.arff.gz"
    p.write_bytes(data[: len(data) // 2])
    (folder / "t.xml").write_text(MULAN_XML)
    return p


# -- every user mistake: one line, exit 2, no traceback ------------------------------------------
BAD_INPUTS = {
    "unknown-model-parameter": (["evaluate", "--model", "ihomer:grace_period=10"],
                                "unknown parameter 'grace_period'"),
    "bad-model-parameter": (["evaluate", "--model", "ihomer:n_min=-1"],
                            "n_min must be a positive integer, got -1"),
    "bad-seed-parameter": (["evaluate", "--model", "ihomer:seed=abc"], "seed must be"),
    "unknown-model": (["evaluate", "--model", "nope"], "unknown model 'nope'"),
    "unknown-synth-parameter": (["evaluate", "--data", "synth:n_instance=200"],
                                "unknown parameter 'n_instance'"),
    "endless-synth": (["evaluate", "--data", "synth"], "is an endless synthetic stream"),
    "bad-drift": (["evaluate", "--data", "synth:n_instances=50,drifts=x:labels"],
                  "drift 'x:labels': expected AT[:KIND[:WIDTH]]"),
    "negative-max-instances": (["evaluate", "--max-instances", "-5"],
                               "--max-instances: expected an integer >= 0, got -5"),
    "negative-trace-every": (["evaluate", "--trace-every", "-1"], "--trace-every: expected"),
    "directory-as-data": (["evaluate", "--data", "."], "is a directory, not a stream file"),
    "missing-file": (["evaluate", "--data", "nope.arff"], "nope.arff not found"),
    "truncated-gz": (["evaluate", "--data", "t.arff.gz"], "t.arff.gz: truncated or corrupt"),
    "truncated-gz-lenient": (["evaluate", "--data", "t.arff.gz", "--lenient"],
                             "t.arff.gz: truncated or corrupt"),
    "csv-without-labels": (["evaluate", "--data", "d.csv"],
                           "a CSV file needs --labels or --label-prefix"),
    "mulan-without-xml": (["evaluate", "--data", "nox.arff"], "pass --labels or --label-xml"),
    "label-xml-for-csv": (["evaluate", "--data", "d.csv", "--label-xml", "m.xml"],
                          "a label XML does not apply to CsvStream"),
    "inf-in-arff": (["evaluate", "--data", "inf.arff", "--label-xml", "m.xml"],
                    "inf.arff:7: attribute 'f1' (index 0): inf is not finite"),
    "huge-in-csv": (["evaluate", "--data", "d.csv", "--label-prefix", "tag_"],
                    "d.csv:2: feature 'f1': 1e+308 is beyond the largest usable magnitude"),
    "save-two-models": (["evaluate", "--model", "ihomer", "--model", "br-logreg", "--save", "x"],
                        "--save keeps one model"),
    "save-into-a-directory": (["evaluate", "--save", "."], "--save .: is a directory"),
    "save-where-one-cannot-write": (["evaluate", "--save", "/proc/ihomer/m.ihomer"],
                                    "cannot write there (/proc/ihomer"),
    "predict-corrupt-model": (["predict", "--model", "d.csv", "--data", "d.jsonl"],
                              "d.csv: not an ihomer checkpoint"),
    "predict-missing-model": (["predict", "--model", "nope.ihomer", "--data", "d.jsonl"],
                              "nope.ihomer: cannot read"),
    "predict-without-data": (["predict", "--model", "x"], "the following arguments are required"),
    "inspect-foreign-file": (["inspect", "--model", "m.xml"], "m.xml: not an ihomer checkpoint"),
    "unknown-command": (["frobnicate"], "invalid choice: 'frobnicate'"),
}  # fmt: skip


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    _mulan(folder)
    (folder / "m.xml").write_text(MULAN_XML)
    _mulan(folder, bad="inf", name="inf")
    _mulan(folder, name="nox")
    _csv(folder, bad="1e308")
    _jsonl(folder)
    _truncated_gz(folder)
    return folder


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_a_user_mistake_is_one_line_and_exit_2(workdir, case):
    args, reason = BAD_INPUTS[case]
    done = run_cli(*args, cwd=workdir)
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(errors) == 1, done.stderr
    assert errors[0].startswith("ihomer") and reason in errors[0], errors[0]
    others = [line for line in done.stderr.splitlines() if line != errors[0]]
    assert all(line.startswith("evaluating ") for line in others), done.stderr  # no usage block


def test_version_and_help_for_every_flag(capsys):
    assert run_cli("--version", cwd=ROOT).stdout.strip() == f"ihomer {ihomer.__version__}"
    parser = make_parser()
    commands = parser._subparsers._group_actions[0].choices  # argparse keeps them there
    assert set(commands) >= {"evaluate", "predict", "inspect", "bench", "serve"}
    for name, sub in commands.items():
        for action in sub._actions:
            if action.dest != "help":
                assert action.help and action.help.strip(), f"{name} {action.option_strings}"


# -- evaluate ------------------------------------------------------------------------------------
def test_evaluate_json_matches_the_python_api(capsys):
    assert main(["evaluate", "--max-instances", "150", "--json", "--trace-every", "50"]) == 0
    out = json.loads(capsys.readouterr().out)
    res = out["results"]["ihomer"]
    assert out["stream"] == "yeast" and res["n"] == 150
    from river import datasets

    offline = prequential(build_model("ihomer"), datasets.Yeast(), max_instances=150)
    for name, value in offline.metrics.items():
        assert res["metrics"][name] == pytest.approx(value, abs=1e-12), name
    assert [t["n"] for t in res["trace"]] == [50, 100, 150]


def test_evaluate_table_events_trace_and_memory(capsys):
    assert main(["evaluate", "--max-instances", "120", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "first 120 instances" in out and "ihomer" in out and "label_added=14" in out
    assert "window_mi_F1" not in out and "peak traced" not in out
    assert "learning label cluster(s)" in out
    argv = ["evaluate", "--max-instances", "120", "--no-progress", "--trace-every", "40",
            "--memory"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    table = out[out.index("window_mi_F1"):].splitlines()
    assert [row.split()[0] for row in table[1:4]] == ["40", "80", "120"]
    assert "peak traced Python memory" in out and "MiB" in out


def test_csv_and_mulan_files_from_the_cli(workdir, capsys):
    csv = _csv(workdir / "..", n=200)  # a clean copy beside the work folder
    assert main(["evaluate", "--data", str(csv), "--label-prefix", "tag_", "--json"]) == 0
    by_prefix = json.loads(capsys.readouterr().out)["results"]["ihomer"]
    assert main(["evaluate", "--data", str(csv), "--labels", "tag_a,tag_b", "--json"]) == 0
    by_names = json.loads(capsys.readouterr().out)["results"]["ihomer"]
    assert by_prefix["n"] == by_names["n"] == 200 and by_prefix["metrics"] == by_names["metrics"]
    mulan = workdir / "m.arff"
    assert main(["evaluate", "--data", str(mulan), "--label-xml", str(workdir / "m.xml"),
                 "--json"]) == 0  # fmt: skip
    by_xml = json.loads(capsys.readouterr().out)["results"]["ihomer"]
    assert main(["evaluate", "--data", str(mulan), "--labels", "lab_a,lab_b", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"]["ihomer"]["metrics"] == by_xml["metrics"]
    assert main(["evaluate", "--data", str(mulan), "--labels", "-2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"]["ihomer"]["metrics"] == by_xml["metrics"]
    assert by_xml["n"] == 300


@pytest.mark.parametrize("fmt", ["arff", "csv", "jsonl"])
@pytest.mark.parametrize("bad", ["inf", "1e308"])
def test_an_unusable_number_never_poisons_a_run(tmp_path, capsys, fmt, bad):
    """strict: exit 2 naming file:line; lenient: the record is skipped and the run is the run
    of the file without it, exactly."""
    make = {"arff": _mulan, "csv": _csv, "jsonl": _jsonl}[fmt]
    extra = {"arff": ["--labels", "lab_a,lab_b"], "csv": ["--label-prefix", "tag_"],
             "jsonl": []}[fmt]  # fmt: skip
    bad_text = "1e999" if (fmt, bad) == ("jsonl", "inf") else bad
    dirty = make(tmp_path, bad=bad_text)
    assert main(["evaluate", "--data", str(dirty), *extra, "--json"]) == 2
    err = capsys.readouterr().err
    line = {"arff": 7, "csv": 2, "jsonl": 1}[fmt]
    assert f"{dirty}:{line}: " in err and "--lenient" in err
    assert main(["evaluate", "--data", str(dirty), *extra, "--json", "--lenient"]) == 0
    captured = capsys.readouterr()
    lenient = json.loads(captured.out)["results"]["ihomer"]
    assert "skipped 1 malformed records" in captured.err
    clean = make(tmp_path / "..", n=300)
    text = clean.read_text().splitlines(keepends=True)
    first_data = {"arff": 6, "csv": 1, "jsonl": 0}[fmt]
    clean.write_text("".join(text[:first_data] + text[first_data + 1:]))
    assert main(["evaluate", "--data", str(clean), *extra, "--json"]) == 0
    reference = json.loads(capsys.readouterr().out)["results"]["ihomer"]
    assert lenient["n"] == reference["n"] == 299
    assert lenient["metrics"] == reference["metrics"]


def test_lenient_mode_skips_and_reports(capsys, tmp_path):
    bad = tmp_path / "bad.arff"
    rows = "".join(f"{i % 2},{i / 10}\n" for i in range(30))
    bad.write_text(
        "@relation 'bad: -C 1'\n@attribute y {0,1}\n@attribute a numeric\n@data\n"
        + rows + "0,zz\n" + rows
    )
    assert main(["evaluate", "--data", str(bad), "--lenient", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["results"]["ihomer"]["n"] == 60
    assert "skipped 1 malformed records" in captured.err and f"{bad}:35" in captured.err


# -- save, predict, inspect ----------------------------------------------------------------------
def test_save_then_predict_gives_the_saved_models_predictions(tmp_path, capsys):
    model_path = tmp_path / "yeast.ihomer"
    argv = ["evaluate", "--max-instances", "400", "--no-progress", "--save", str(model_path)]
    assert main(argv) == 0
    assert f"saved ihomer to {model_path}" in capsys.readouterr().err
    model = ihomer.load(model_path)
    assert model.n_learned == 400
    from river import datasets

    records = list(datasets.Yeast().take(450))[400:]
    data = tmp_path / "requests.jsonl"
    data.write_text("".join(json.dumps({"x": x}) + "\n" for x, _ in records))
    out = tmp_path / "pred.jsonl"
    argv = ["predict", "--model", str(model_path), "--data", str(data), "--output", str(out),
            "--proba"]  # fmt: skip
    assert main(argv) == 0
    assert "50 record(s)" in capsys.readouterr().err
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["i"] for r in lines] == list(range(50))
    for (x, _), r in zip(records, lines):
        expected = model.predict_one(x)
        assert r["labels"] == [k for k, on in expected.items() if on] and "true" not in r
        assert r["proba"]["Class1"] == pytest.approx(model.predict_proba_one(x)["Class1"][True])


def test_predict_labelled_and_unlabelled_csv(tmp_path, capsys):
    model_path = tmp_path / "m.ihomer"
    csv = _csv(tmp_path, n=300)
    argv = ["evaluate", "--data", str(csv), "--label-prefix", "tag_", "--save", str(model_path),
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["predict", "--model", str(model_path), "--data", str(csv),
                 "--label-prefix", "tag_", "--max-instances", "20"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    labelled = [json.loads(line) for line in captured.out.splitlines()]
    assert len(labelled) == 20 and all("true" in r for r in labelled)
    assert "20 labelled: micro-F1" in captured.err
    features = tmp_path / "features.csv"
    features.write_text("f1,f2\n" + "".join(f"{a},{b}\n" for a, b, _, _ in _rows(20)))
    assert main(["predict", "--model", str(model_path), "--data", str(features)]) == 0
    unlabelled = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["labels"] for r in unlabelled] == [r["labels"] for r in labelled]
    assert all("true" not in r for r in unlabelled)
    assert main(["predict", "--model", str(model_path), "--data", "synth"]) == 2
    assert "endless synthetic stream" in capsys.readouterr().err


def test_inspect_text_json_and_dot(tmp_path, capsys):
    model_path = tmp_path / "m.ihomer"
    assert main(["evaluate", "--max-instances", "700", "--no-progress",
                 "--model", "ihomer:n_min=100,partitioning=hierarchy",
                 "--save", str(model_path)]) == 0  # fmt: skip
    capsys.readouterr()
    model = ihomer.load(model_path)
    assert main(["inspect", "--model", str(model_path), "--dot", str(tmp_path / "dot")]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{model.n_clusters} learning cluster(s) after 700 instances")
    assert "ODAC label tree" in captured.out and "split a cluster of" in captured.out
    assert captured.out.count("\ncluster ") == model.n_clusters
    names = sorted(p.name for p in (tmp_path / "dot").iterdir())
    assert names == sorted(["hierarchy.dot"] + [f"cluster_{i}.dot" for i in
                                                 range(model.n_clusters)])  # fmt: skip
    assert main(["inspect", "--model", str(model_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [tuple(c) for c in data["partition"]] == model.partition
    assert len(data["clusters"]) == model.n_clusters


def test_serve_without_its_extra_says_what_to_install(monkeypatch, capsys):
    for name in [m for m in sys.modules if m.startswith("ihomer.serve.") and m not in (
            "ihomer.serve.cli", "ihomer.serve.config", "ihomer.serve.models")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if not installed
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "the serve extra is not installed" in err and "pip install 'ihomer[serve]'" in err


def test_bench_quick_leaves_nothing_in_the_work_tree(tmp_path):
    done = run_cli("bench", "--quick", "--models", "majority-labelset", "--streams",
                   "synth:n_instances=60", "--jobs", "1", "--no-plots", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == [] and "ihomer-bench-quick-" in done.stdout
