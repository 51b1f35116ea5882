"""ArffStream on small hand-made files: label layouts, header grammar, value semantics."""

from __future__ import annotations

import bz2
import gzip
import math
from pathlib import Path

import pytest

from streams import ArffStream, StreamFormatError

MEKA_DENSE = """% a comment before the relation
@RELATION 'toy: -C -2 -split-percentage 66'

@ATTRIBUTE f1 NUMERIC
@attribute f2 real
@Attribute f3 integer
@attribute colour {red, green, 'dark blue'}
@attribute small {0,1}
@attribute l1 {0,1}
@attribute l2 {0,1}

@DATA
% comment inside the data
1.5,2,3,red,1,1,0

-0.25,?,7,'dark blue',0,0,1
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_meka_negative_c_dense_values(tmp_path):
    s = ArffStream(write(tmp_path, "toy.arff", MEKA_DENSE))
    assert s.name == "toy"
    assert s.labels == ["l1", "l2"]
    assert s.features == ["f1", "f2", "f3", "colour", "small"]
    assert s.sparse is False
    rows = list(s)
    assert rows == [
        (
            {"f1": 1.5, "f2": 2.0, "f3": 3.0, "colour": "red", "small": 1.0},
            {"l1": True, "l2": False},
        ),
        (
            {"f1": -0.25, "f2": None, "f3": 7.0, "colour": "dark blue", "small": 0.0},
            {"l1": False, "l2": True},
        ),
    ]
    assert type(rows[0][0]["small"]) is float  # nominal {0,1} is a number
    assert list(rows[0][0]) == s.features  # dense: every feature present, in order


@pytest.mark.parametrize(
    "relation, expected",
    [
        ("'Scene: -C 2 -R'", ["a", "b"]),
        ('"q: -C 1"', ["a"]),
        ("toy:-C -1", ["e"]),
        ("'x -C 3'", ["a", "b", "c"]),
    ],
)
def test_meka_relation_options(tmp_path, relation, expected):
    text = f"@relation {relation}\n" + "".join(f"@attribute {n} {{0,1}}\n" for n in "abcde")
    text += "@data\n1,0,1,0,1\n"
    s = ArffStream(write(tmp_path, "m.arff", text))
    assert s.labels == expected
    (x, y), = list(s)
    assert set(x) == set("abcde") - set(expected)
    assert y == {n: {"a": True, "b": False, "c": True, "d": False, "e": True}[n] for n in expected}


def test_labels_int_overrides_meka(tmp_path):
    text = "@relation 'r: -C 1'\n" + "".join(f"@attribute {n} {{0,1}}\n" for n in "abcd")
    text += "@data\n1,1,0,0\n"
    p = write(tmp_path, "m.arff", text)
    assert ArffStream(p).labels == ["a"]
    assert ArffStream(p, labels=2).labels == ["a", "b"]
    assert ArffStream(p, labels=-3).labels == ["b", "c", "d"]
    with pytest.raises(StreamFormatError, match="leave no feature"):
        ArffStream(p, labels=4)
    with pytest.raises(ValueError):
        ArffStream(p, labels=0)
    with pytest.raises(ValueError):
        ArffStream(p, labels=True)


MULAN = """@relation mulan_toy
@attribute x1 numeric
@attribute lab_b {0,1}
@attribute x2 numeric
@attribute lab_a {0,1}
@attribute x3 {a,b}
@data
1,1,2,0,a
3,0,4,1,b
"""

XML = """<?xml version="1.0" encoding="utf-8"?>
<labels xmlns="http://mulan.sourceforge.net/labels">
<label name="lab_a"></label>
<label name="lab_b"></label>
</labels>
"""


def test_mulan_xml_beside_labels_anywhere(tmp_path):
    p = write(tmp_path, "mt.arff", MULAN)
    write(tmp_path, "mt.xml", XML)
    s = ArffStream(p)
    assert s.labels == ["lab_b", "lab_a"]  # attribute order, not the XML's
    assert s.features == ["x1", "x2", "x3"]
    rows = list(s)
    assert rows == [
        ({"x1": 1.0, "x2": 2.0, "x3": "a"}, {"lab_a": False, "lab_b": True}),
        ({"x1": 3.0, "x2": 4.0, "x3": "b"}, {"lab_a": True, "lab_b": False}),
    ]
    assert list(rows[0][1]) == s.labels


def test_mulan_xml_beside_compressed_file(tmp_path):
    with gzip.open(tmp_path / "mt.arff.gz", "wt") as f:
        f.write(MULAN)
    write(tmp_path, "mt.xml", XML)
    s = ArffStream(tmp_path / "mt.arff.gz")
    assert s.name == "mt" and s.labels == ["lab_b", "lab_a"]
    assert len(list(s)) == 2


def test_explicit_label_xml_and_label_list(tmp_path):
    p = write(tmp_path, "data.arff", MULAN)
    xml = write(tmp_path, "other-name.xml", XML)
    assert ArffStream(p, label_xml=xml).labels == ["lab_b", "lab_a"]
    s = ArffStream(p, labels=["lab_b", "lab_a"])
    assert s.labels == ["lab_b", "lab_a"]
    assert [y for _, y in s] == [{"lab_b": True, "lab_a": False}, {"lab_b": False, "lab_a": True}]
    with pytest.raises(StreamFormatError, match="not attributes"):
        ArffStream(p, labels=["nope"])


def test_no_label_layout_is_an_error(tmp_path):
    p = write(tmp_path, "bare.arff", MULAN)
    with pytest.raises(StreamFormatError) as e:
        ArffStream(p)
    assert e.value.source == str(p)
    assert "bare.xml" in e.value.reason


def test_xml_naming_unknown_label(tmp_path):
    p = write(tmp_path, "mt.arff", MULAN)
    write(tmp_path, "mt.xml", XML.replace("lab_a", "ghost"))
    with pytest.raises(StreamFormatError, match="ghost"):
        ArffStream(p)


def test_bad_xml_reports_its_file(tmp_path):
    p = write(tmp_path, "mt.arff", MULAN)
    xml = write(tmp_path, "mt.xml", "<labels><label name='a'>\n</labels>")
    with pytest.raises(StreamFormatError) as e:
        ArffStream(p)
    assert e.value.source == str(xml)
    assert e.value.line == 2


def test_quoted_names_values_and_escapes(tmp_path):
    text = r"""@relation 'q: -C 1'
@attribute 'the label' {0,1}
@attribute "a name, with comma" numeric
@attribute 'it\'s' {'x, y', "z\"q", '?'}
@attribute plain string
@data
1,  4.5 , 'x, y', 'hello, world'
0,1,"z\"q",'it\'s % not a comment' % a real comment
1,2,'?',?
"""
    s = ArffStream(write(tmp_path, "q.arff", text))
    assert s.labels == ["the label"]
    assert s.features == ["a name, with comma", "it's", "plain"]
    rows = list(s)
    assert rows[0][0] == {"a name, with comma": 4.5, "it's": "x, y", "plain": "hello, world"}
    assert rows[1][0] == {"a name, with comma": 1.0, "it's": 'z"q', "plain": "it's % not a comment"}
    # a quoted '?' is the category "?", an unquoted ? is missing
    assert rows[2][0] == {"a name, with comma": 2.0, "it's": "?", "plain": None}
    assert [y["the label"] for _, y in rows] == [True, False, True]


def test_spaces_around_values_and_trailing_comment(tmp_path):
    text = "@relation 'r: -C 1'\n@attribute l {0,1}\n@attribute c {a,b}\n@attribute v numeric\n"
    text += "@data\n1 , b ,  2 % trailing\n 0,a,3\n"
    assert list(ArffStream(write(tmp_path, "s.arff", text))) == [
        ({"c": "b", "v": 2.0}, {"l": True}),
        ({"c": "a", "v": 3.0}, {"l": False}),
    ]


def test_nominal_zero_one_become_floats_other_nominals_stay_categories(tmp_path):
    # {1,0} and {0,1} are binary indicators; a numeral domain such as {2,10,1,7} is categorical
    # (Weka and MOA semantics): "10" is one category, not ten times "1"
    text = """@relation 'n: -C -1'
@attribute loc {2,10,1,7}
@attribute mixed {1,two}
@attribute bit {1,0}
@attribute l {0,1}
@data
10,two,0,1
2,1,1,0
{0 7}
"""
    rows = list(ArffStream(write(tmp_path, "n.arff", text)))
    assert rows[0][0] == {"loc": "10", "mixed": "two", "bit": 0.0}
    assert rows[1][0] == {"loc": "2", "mixed": "1", "bit": 1.0}
    assert all(type(rows[1][0][k]) is str for k in ("loc", "mixed"))
    # a sparse row: an absent nominal takes its first declared value (Weka), as a category too
    assert rows[2][0] == {"loc": "7", "mixed": "1", "bit": 1.0}


def test_boolean_word_nominals_are_zero_one_floats(tmp_path):
    # {NO,YES} (genbase's motif attributes), {true,false}, in any case and either order: 0/1
    # floats, 1.0 for the true value; a two-valued domain of other words stays categorical
    text = """@relation 'b: -C -1'
@attribute motif {NO,YES}
@attribute flag {True,false}
@attribute sex {male,female}
@attribute l {0,1}
@data
YES,false,male,1
NO,True,female,0
{1 false}
"""
    rows = list(ArffStream(write(tmp_path, "b.arff", text)))
    assert rows[0][0] == {"motif": 1.0, "flag": 0.0, "sex": "male"}
    assert rows[1][0] == {"motif": 0.0, "flag": 1.0, "sex": "female"}
    assert all(type(rows[0][0][k]) is float for k in ("motif", "flag"))
    # sparse: an absent nominal takes its first declared value (Weka): NO is 0 (left out), True
    # of {True,false} is 1, male stays a category
    assert rows[2][0] == {"flag": 0.0, "sex": "male"}


SPARSE = """@relation 'sp: -C -2'
@attribute w0 numeric
@attribute w1 numeric
@attribute w2 {0,1}
@attribute w3 numeric
@attribute y0 {0,1}
@attribute y1 {0,1}
@data
{0 1.5,3 2,5 1}
{ 1 0.25 , 2 1 , 4 1 }
{}
{3 ?}
0,0,1,0,1,1
"""


def test_sparse_rows(tmp_path):
    s = ArffStream(write(tmp_path, "sp.arff", SPARSE))
    assert s.sparse is True
    rows = list(s)
    assert rows == [
        ({"w0": 1.5, "w3": 2.0}, {"y0": False, "y1": True}),
        ({"w1": 0.25, "w2": 1.0}, {"y0": True, "y1": False}),
        ({}, {"y0": False, "y1": False}),
        ({"w3": None}, {"y0": False, "y1": False}),  # missing, not zero
        ({"w0": 0.0, "w1": 0.0, "w2": 1.0, "w3": 0.0}, {"y0": True, "y1": True}),  # a dense row
    ]


def test_sparse_absent_nominal_takes_first_value(tmp_path):
    text = """@relation 'w: -C -1'
@attribute f numeric
@attribute kind {low,high}
@attribute flag {1,0}
@attribute l {1,0}
@data
{0 2}
{1 high,2 0,3 0}
"""
    rows = list(ArffStream(write(tmp_path, "w.arff", text)))
    assert rows[0] == ({"kind": "low", "flag": 1.0, "f": 2.0}, {"l": True})
    assert rows[1] == ({"kind": "high", "flag": 0.0}, {"l": False})


def test_gzip_and_bzip2_give_the_same_records(tmp_path):
    expected = list(ArffStream(write(tmp_path, "toy2.arff", MEKA_DENSE)))
    with gzip.open(tmp_path / "toy.arff.gz", "wt") as f:
        f.write(MEKA_DENSE)
    with bz2.open(tmp_path / "toy.arff.bz2", "wt") as f:
        f.write(MEKA_DENSE)
    # compression is detected from the content, not the name
    (tmp_path / "renamed.arff").write_bytes(gzip.compress(MEKA_DENSE.encode()))
    for name in ("toy.arff.gz", "toy.arff.bz2", "renamed.arff"):
        s = ArffStream(tmp_path / name)
        assert s.name in ("toy", "renamed")
        assert list(s) == expected


def test_iterating_twice_reopens_and_limit(tmp_path):
    p = write(tmp_path, "toy.arff", MEKA_DENSE)
    s = ArffStream(p)
    assert list(s) == list(s)
    assert len(list(ArffStream(p, limit=1))) == 1
    assert list(ArffStream(p, limit=0)) == []
    with pytest.raises(ValueError):
        ArffStream(p, limit=-1)


def test_nan_text_is_a_float_nan(tmp_path):
    text = "@relation 'r: -C 1'\n@attribute l {0,1}\n@attribute v numeric\n@data\n1,NaN\n"
    ((x, _),) = list(ArffStream(write(tmp_path, "n.arff", text)))
    assert math.isnan(x["v"])


def test_numeric_label_column(tmp_path):
    text = "@relation 'r: -C 1'\n@attribute l numeric\n@attribute v numeric\n@data\n1,2\n0.0,3\n"
    ys = [y for _, y in ArffStream(write(tmp_path, "n.arff", text))]
    assert ys == [{"l": True}, {"l": False}]


@pytest.mark.parametrize(
    "header, reason",
    [
        ("@relation 'r: -C 1'\n@attribute l {0,1}\n@attribute v blob\n", "unknown type 'blob'"),
        ("@relation 'r: -C 1'\n@attribute l {0,1}\n@attribute l numeric\n", "declared twice"),
        ("@relation 'r: -C 1'\n@attribute l {0,1}\n@attribute v {}\n", "empty nominal domain"),
        ("@relation 'r: -C 1'\n@attribute l {0,1}\n@attribute v {a,b\n", "not closed"),
        ("@relation 'r: -C 1'\n@attribute l {a,b}\n@attribute v numeric\n", "non-binary"),
        ("@relation 'r: -C 1'\n@attribute l string\n@attribute v numeric\n", "not binary"),
        ("@relation 'r: -C 1'\n@attribute l {0,1}\n@attribute v relational\n", "relational"),
        ("@relation 'r: -C 1'\n@attribute l {0,1}\nnonsense here\n", "expected @relation"),
        ("@attribute l {0,1}\n", "before @relation"),
    ],
)
def test_header_errors(tmp_path, header, reason):
    p = write(tmp_path, "h.arff", header + "@data\n")
    with pytest.raises(StreamFormatError) as e:
        ArffStream(p)
    assert reason in e.value.reason
    assert e.value.source == str(p)


def test_header_error_line_number(tmp_path):
    text = "% c\n\n@relation 'r: -C 1'\n@attribute l {0,1}\n@attribute v x\n"
    p = write(tmp_path, "h.arff", text)
    with pytest.raises(StreamFormatError) as e:
        ArffStream(p)
    assert e.value.line == 5
    assert str(e.value).startswith(f"{p}:5: ")


def test_missing_data_section(tmp_path):
    p = write(tmp_path, "h.arff", "@relation 'r: -C 1'\n@attribute l {0,1}\n@attribute v numeric\n")
    with pytest.raises(StreamFormatError, match="no @data"):
        ArffStream(p)
