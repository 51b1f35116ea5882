"""ArffStream on malformed rows: the error names file, line and reason; lenient mode skips."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams import ArffStream, StreamFormatError
from streams.base import MAX_KEPT_ERRORS

HEADER = """% toy file
@relation 'bad: -C -2'
@attribute num numeric
@attribute col {red,blue}
@attribute bin {0,1}
@attribute l1 {0,1}
@attribute l2 {0,1}

@data
% first rows are fine
1.5,red,1,0,1
"""
# HEADER has 11 lines: the row under test is line 12 (after one more good row and a blank line:
# line 12 good, 13 blank, 14 bad, 15 good).
GOOD_ROW = "2,blue,0,1,1"
BAD_LINE = 14


def make(tmp_path: Path, bad_row: str) -> Path:
    p = tmp_path / "bad.arff"
    p.write_text(HEADER + GOOD_ROW + "\n\n" + bad_row + "\n" + GOOD_ROW + "\n", encoding="utf-8")
    return p


MALFORMED = [
    ("1,red,1,0", "expected 5 values, got 4"),
    ("1,red,1,0,1,1", "expected 5 values, got 6"),
    ("1,red,1,0,1,", "expected 5 values, got 6"),
    ("1,green,1,0,1", "unknown nominal value 'green'"),
    ("1,red,2,0,1", "unknown nominal value '2'"),
    ("abc,red,1,0,1", "'abc' is not a number"),
    ("1,,1,0,1", "empty value"),
    ("1,red,1,?,1", "missing label value"),
    ("1,red,1,2,1", "label value '2' is not 0/1"),
    ("1,'red,1,0,1", "unterminated quote"),
    ("1,'red' x,1,0,1", "after a quoted value"),
    ("{0 1,0 2}", "not greater than the previous index 0"),
    ("{3 1,1 2}", "not greater than the previous index 3"),
    ("{0 1,5 1}", "sparse index 5 is out of range"),
    ("{0 1,x 1}", "sparse index 'x' is not an integer"),
    ("{-1 1}", "sparse index -1 is negative"),
    ("{0 1,2}", "sparse index 2 has no value"),
    ("{0 1,2 1", "not closed"),
    ("{0 1,}", "ends with ','"),
    ("{0 1 2}", "unexpected '2'"),
    ("{0 1}, {2}", "unexpected text after '}'"),
    ("{0 abc}", "'abc' is not a number"),
    ("{1 green}", "unknown nominal value 'green'"),
    ("{3 ?}", "missing label value"),
]


@pytest.mark.parametrize("row, reason", MALFORMED)
def test_strict_mode_raises_with_location(tmp_path, row, reason):
    p = make(tmp_path, row)
    it = iter(ArffStream(p))
    assert next(it)[1] == {"l1": False, "l2": True}
    assert next(it)[1] == {"l1": True, "l2": True}
    with pytest.raises(StreamFormatError) as e:
        next(it)
    err = e.value
    assert err.source == str(p)
    assert err.line == BAD_LINE
    assert reason in err.reason, err.reason
    assert str(err) == f"{p}:{BAD_LINE}: {err.reason}"


@pytest.mark.parametrize("row, reason", MALFORMED)
def test_lenient_mode_skips_counts_and_keeps(tmp_path, row, reason):
    s = ArffStream(make(tmp_path, row), lenient=True)
    rows = list(s)
    assert len(rows) == 3  # the bad row is gone, its neighbours are intact
    assert rows[2][0] == {"num": 2.0, "col": "blue", "bin": 0.0}
    assert s.n_skipped == 1
    assert [e.line for e in s.skipped] == [BAD_LINE]
    assert reason in s.skipped[0].reason


def test_lenient_counts_reset_per_iteration_and_errors_are_bounded(tmp_path):
    n_bad = MAX_KEPT_ERRORS + 5
    body = "".join(f"{i},red,1,0\n" for i in range(n_bad))  # 4 values: all malformed
    p = tmp_path / "many.arff"
    p.write_text(HEADER + body + GOOD_ROW + "\n", encoding="utf-8")
    s = ArffStream(p, lenient=True)
    for _ in range(2):
        assert len(list(s)) == 2
        assert s.n_skipped == n_bad
        kept = s.skipped
        assert len(kept) == MAX_KEPT_ERRORS
        assert kept[-1].line == 11 + n_bad  # the most recent ones are kept
        assert kept[0].line == 11 + n_bad - MAX_KEPT_ERRORS + 1


def test_never_shifts_columns(tmp_path):
    # a row with one value too many must not be read as a shifted record, even leniently
    p = make(tmp_path, "9,red,red,1,0,1")
    s = ArffStream(p, lenient=True)
    assert all(x["num"] != 9.0 for x, _ in s)
    assert s.n_skipped == 1


def test_undecodable_bytes(tmp_path):
    p = tmp_path / "latin.arff"
    p.write_bytes((HEADER + "1,red,1,0,1\n").encode() + b"3,r\xe9d,1,0,1\n")
    with pytest.raises(StreamFormatError, match="UTF-8") as e:
        list(ArffStream(p))
    assert e.value.source == str(p)
