"""open_stream specs, shared_datasets_dir lookup, and river's bundled Yeast as a Stream."""

from __future__ import annotations

import json
import sys
import types

import pytest

import streams
from streams import (
    ArffStream,
    CsvStream,
    JsonlStream,
    StreamFormatError,
    open_stream,
    shared_datasets_dir,
)
from streams.registry import DATASET_FILES, DEFAULT_STREAM, DEV_SUITE, EXTRA, RiverYeastStream


def test_suite_names():
    assert DEV_SUITE == [
        "flags", "emotions", "yeast", "scene", "birds",
        "enron", "medical", "slashdot", "20ng", "tmc2007-500", "delicious",
    ]  # fmt: skip
    assert EXTRA == ["cal500", "corel5k", "delicious"]
    assert set(DATASET_FILES) == set(DEV_SUITE + EXTRA)
    assert DEFAULT_STREAM == "river:yeast"


def test_river_yeast_needs_no_files(monkeypatch, tmp_path):
    monkeypatch.setenv("IHOMER_DATASETS", str(tmp_path / "absent"))
    for spec in ("river:yeast", "yeast-river", " River:Yeast "):
        s = open_stream(spec, limit=5)
        assert isinstance(s, RiverYeastStream)
        assert s.name == "yeast"
        assert s.labels == [f"Class{i}" for i in range(1, 15)]
        rows = list(s)
        assert len(rows) == 5
        for x, y in rows:
            assert list(y) == s.labels and all(type(v) is bool for v in y.values())
            assert list(x) == s.features and all(type(v) is float for v in x.values())
    assert sum(1 for _ in RiverYeastStream()) == 2417


def test_paths_by_extension(tmp_path):
    (tmp_path / "a.arff").write_text(
        "@relation 'a: -C 1'\n@attribute l {0,1}\n@attribute v numeric\n@data\n1,2\n"
    )
    (tmp_path / "b.csv").write_text("v,y\n1,1\n")
    (tmp_path / "c.ndjson").write_text(json.dumps({"x": {"v": 1}, "labels": ["y"]}) + "\n")
    assert isinstance(open_stream(str(tmp_path / "a.arff")), ArffStream)
    assert isinstance(open_stream(tmp_path / "a.arff"), ArffStream)
    assert isinstance(open_stream(str(tmp_path / "b.csv"), label_columns=["y"]), CsvStream)
    c = open_stream(str(tmp_path / "c.ndjson"), limit=1)
    assert isinstance(c, JsonlStream) and c.limit == 1
    with pytest.raises(FileNotFoundError):
        open_stream(str(tmp_path / "missing.arff"))
    (tmp_path / "d.txt").write_text("")
    with pytest.raises(ValueError, match="unknown stream file type"):
        open_stream(str(tmp_path / "d.txt"))
    with pytest.raises(ValueError, match="unknown stream spec"):
        open_stream("no-such-stream")
    with pytest.raises(ValueError, match="only river:yeast"):
        open_stream("river:iris")


def test_missing_shared_folder_is_named(monkeypatch, tmp_path):
    import streams.registry as reg

    monkeypatch.delenv("IHOMER_DATASETS", raising=False)
    monkeypatch.setattr(reg, "_default_shared_dir", lambda: tmp_path / "nowhere" / "datasets")
    monkeypatch.chdir(tmp_path)
    assert shared_datasets_dir() is None
    with pytest.raises(FileNotFoundError, match="nowhere/datasets"):
        open_stream("scene")
    # an explicit IHOMER_DATASETS is authoritative: a wrong value is reported, not replaced
    monkeypatch.setattr(reg, "_default_shared_dir", lambda: tmp_path)
    monkeypatch.setenv("IHOMER_DATASETS", str(tmp_path / "typo"))
    assert shared_datasets_dir() is None
    with pytest.raises(FileNotFoundError, match="typo.*IHOMER_DATASETS"):
        open_stream("medical")


def test_env_var_wins_and_dev_names_resolve(monkeypatch, tmp_path):
    (tmp_path / "medical.arff").write_text(
        "@relation 'M: -C -1'\n@attribute f numeric\n@attribute l {0,1}\n@data\n{0 2,1 1}\n"
    )
    (tmp_path / "flags.arff").write_text(
        "@relation f\n@attribute f numeric\n@attribute red {0,1}\n@data\n3,0\n"
    )
    (tmp_path / "flags.xml").write_text('<labels><label name="red"/></labels>')
    monkeypatch.setenv("IHOMER_DATASETS", str(tmp_path))
    assert shared_datasets_dir() == tmp_path.resolve()
    assert list(open_stream("medical")) == [({"f": 2.0}, {"l": True})]
    flags = open_stream("flags")
    assert flags.labels == ["red"] and flags.label_xml == str(tmp_path.resolve() / "flags.xml")
    with pytest.raises(FileNotFoundError, match="scene.arff.bz2"):
        open_stream("scene")


def test_synth_spec_is_parsed_and_passed(monkeypatch):
    seen = {}

    class Fake:
        def __init__(self, **kw):
            seen.update(kw)

    fake = types.ModuleType("streams.synth")
    fake.LabelClusterStream = Fake
    monkeypatch.setitem(sys.modules, "streams.synth", fake)
    open_stream("synth:n_labels=12, noise=0.25,drift=labels,shuffle=true,seed=none", limit=9)
    assert seen == {
        "n_labels": 12, "noise": 0.25, "drift": "labels", "shuffle": True, "seed": None, "limit": 9,
    }  # fmt: skip
    seen.clear()
    open_stream("synth")
    assert seen == {}
    with pytest.raises(ValueError, match="key=value"):
        open_stream("synth:oops")
    assert streams.LabelClusterStream is Fake  # lazy re-export


def test_unknown_attribute_of_package():
    with pytest.raises(AttributeError):
        streams.NoSuchThing  # noqa: B018


def test_open_stream_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="unknown parameter 'n_instance'; known: n_features"):
        open_stream("synth:n_instance=200")
    with pytest.raises(ValueError, match="is a directory, not a stream file"):
        open_stream(str(tmp_path))
    d = tmp_path / "x.arff"
    d.mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        open_stream(str(d))
    p = tmp_path / "d.jsonl"
    p.write_text('{"x": {}, "labels": []}\n')
    with pytest.raises(ValueError, match="label prefix does not apply to JsonlStream"):
        open_stream(str(p), label_prefix="y_")
    with pytest.raises(ValueError, match="does not apply to river's Yeast"):
        open_stream("river:yeast", labels=["a"])


def test_synth_drifts_from_a_spec():
    from streams.synth import Drift

    s = open_stream("synth:n_instances=100,drifts=30:labels+60:concept:10")
    assert s.drift_points == [30, 60] and list(s._drifts) == [Drift(30), Drift(60, "concept", 10)]
    with pytest.raises(ValueError, match="expected AT"):
        open_stream("synth:drifts=x")


def test_lenient_is_accepted_by_every_kind_of_stream():
    assert len(list(open_stream("synth:n_instances=5", lenient=True))) == 5
    assert open_stream("river:yeast", lenient=True, limit=2).lenient


def test_label_options_reach_each_adapter(tmp_path):
    c = tmp_path / "d.csv"
    c.write_text("a,t1,t2\n1,1,0\n")
    assert open_stream(str(c), labels=["t2"]).labels == ["t2"]
    assert open_stream(str(c), label_prefix="t").labels == ["t1", "t2"]
    a = tmp_path / "m.arff"
    a.write_text("@relation m\n@attribute f numeric\n@attribute l1 {0,1}\n@data\n1,1\n")
    with pytest.raises(StreamFormatError, match="pass labels= or label_xml="):
        open_stream(str(a))
    assert open_stream(str(a), labels=["l1"]).labels == ["l1"]
    assert open_stream(str(a), labels=-1).labels == ["l1"]
    x = tmp_path / "m.xml"
    x.write_text('<labels><label name="l1"/></labels>')
    assert open_stream(str(a), label_xml=str(x)).labels == ["l1"]


def test_a_truncated_compressed_file_is_a_format_error_even_when_lenient(tmp_path):
    import gzip

    rows = "".join(f"{i % 2},{i}.25\n" for i in range(3000))
    data = gzip.compress(("@relation 't: -C 1'\n@attribute y {0,1}\n@attribute a numeric\n"
                          "@data\n" + rows).encode())  # fmt: skip
    p = tmp_path / "t.arff.gz"
    p.write_bytes(data[: len(data) // 2])
    for lenient in (False, True):
        stream = open_stream(str(p), lenient=lenient)
        with pytest.raises(StreamFormatError, match="t.arff.gz: truncated or corrupt file"):
            list(stream)
    p.write_bytes(data[:30])
    with pytest.raises(StreamFormatError, match="truncated or corrupt file"):
        open_stream(str(p))
