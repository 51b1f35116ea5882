"""CsvStream: header, label columns by name or prefix, value semantics, malformed rows."""

from __future__ import annotations

import gzip

import pytest

from streams import CsvStream, StreamFormatError

TEXT = """age,city,note,lab_x,lab_y
31,Lyon,"a, quoted note",1,no
,Nice,,0,YES
4.5e1,"Paris",plain,true,False
"""


def test_prefix_and_values(tmp_path):
    p = tmp_path / "people.csv"
    p.write_text(TEXT)
    s = CsvStream(p, label_prefix="lab_")
    assert s.name == "people" and s.sparse is False
    assert s.labels == ["lab_x", "lab_y"]
    assert s.features == ["age", "city", "note"]
    assert list(s) == [
        ({"age": 31.0, "city": "Lyon", "note": "a, quoted note"}, {"lab_x": True, "lab_y": False}),
        ({"age": None, "city": "Nice", "note": None}, {"lab_x": False, "lab_y": True}),
        ({"age": 45.0, "city": "Paris", "note": "plain"}, {"lab_x": True, "lab_y": False}),
    ]


def test_label_columns_by_name_and_order(tmp_path):
    p = tmp_path / "people.csv"
    p.write_text(TEXT)
    s = CsvStream(p, label_columns=["lab_y", "note"])
    assert s.labels == ["lab_y", "note"]
    assert s.features == ["age", "city", "lab_x"]
    with pytest.raises(StreamFormatError):  # "a, quoted note" is not a label value
        list(s)
    with pytest.raises(StreamFormatError, match="not in the header"):
        CsvStream(p, label_columns=["nope"])
    with pytest.raises(ValueError):
        CsvStream(p)
    with pytest.raises(StreamFormatError, match="no column starts"):
        CsvStream(p, label_prefix="zzz")


def test_other_delimiter_and_gzip(tmp_path):
    p = tmp_path / "d.csv.gz"
    with gzip.open(p, "wt") as f:
        f.write("a;b;y1\n1;x;1\n")
    s = CsvStream(p, label_prefix="y", delimiter=";")
    assert s.name == "d"
    assert list(s) == [({"a": 1.0, "b": "x"}, {"y1": True})]


@pytest.mark.parametrize(
    "row, reason",
    [
        ("1,Lyon,n,1", "expected 5 values, got 4"),
        ("1,Lyon,n,1,no,extra", "expected 5 values, got 6"),
        ("1,Lyon,n,2,no", "'2' is not 1/0/true/false/yes/no"),
        ("1,Lyon,n,,no", "'' is not"),
    ],
)
def test_malformed_rows(tmp_path, row, reason):
    p = tmp_path / "bad.csv"
    p.write_text(TEXT + row + "\n" + "2,Metz,n,1,1\n")
    it = iter(CsvStream(p, label_prefix="lab_"))
    for _ in range(3):
        next(it)
    with pytest.raises(StreamFormatError) as e:
        next(it)
    assert (e.value.source, e.value.line) == (str(p), 5)
    assert reason in e.value.reason
    s = CsvStream(p, label_prefix="lab_", lenient=True)
    rows = list(s)
    assert len(rows) == 4 and rows[-1][0]["city"] == "Metz"
    assert s.n_skipped == 1 and s.skipped[0].line == 5


def test_line_numbers_count_multiline_cells(tmp_path):
    p = tmp_path / "ml.csv"
    p.write_text('a,y\n"two\nlines",1\n3,maybe\n')
    with pytest.raises(StreamFormatError) as e:
        list(CsvStream(p, label_columns=["y"]))
    assert e.value.line == 4


def test_header_errors(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("a,a,y\n1,2,1\n")
    with pytest.raises(StreamFormatError, match="repeated"):
        CsvStream(p, label_columns=["y"])
    p.write_text("")
    with pytest.raises(StreamFormatError, match="no header"):
        CsvStream(p, label_columns=["y"])
    p.write_text("y\n1\n")
    with pytest.raises(StreamFormatError, match="no feature"):
        CsvStream(p, label_columns=["y"])


def test_unlabelled_csv_for_prediction(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("a,b\n1,x\n2,y\n")
    with pytest.raises(ValueError, match="needs label_columns or label_prefix"):
        CsvStream(p)
    s = CsvStream(p, labels_required=False)
    assert s.labels == [] and s.features == ["a", "b"]
    assert list(s) == [({"a": 1.0, "b": "x"}, {}), ({"a": 2.0, "b": "y"}, {})]
