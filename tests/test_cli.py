"""The ``ihomer`` command: evaluate's JSON and table outputs, and clear errors."""

from __future__ import annotations

import json

import pytest

from ihomer.cli import build_model, main, parse_model_spec
from ihomer.evaluate import prequential


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


def test_evaluate_table_and_events(capsys):
    assert main(["evaluate", "--max-instances", "120", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "first 120 instances" in out and "ihomer" in out and "label_added=14" in out


def test_model_parameters_from_the_spec(capsys):
    model = build_model("ihomer:n_min=77,threshold=0.4,empty_fallback=false")
    assert (model.n_min, model.threshold, model.empty_fallback) == (77, 0.4, False)
    with pytest.raises(ValueError, match="not key=value"):
        parse_model_spec("ihomer:n_min")


def test_missing_file_is_a_clear_error(capsys, tmp_path):
    missing = tmp_path / "nope.arff"
    assert main(["evaluate", "--data", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "ihomer evaluate: error" in err and "nope.arff" in err


def test_malformed_file_names_file_and_line(capsys, tmp_path):
    bad = tmp_path / "bad.arff"
    bad.write_text(
        "@relation 'bad: -C 1'\n@attribute y {0,1}\n@attribute a numeric\n@data\n1,0.5\n0,zz\n"
    )
    assert main(["evaluate", "--data", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:6" in err


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
