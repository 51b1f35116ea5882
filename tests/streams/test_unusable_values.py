"""A number a model must not see (inf, nan spelt as a number in ARFF, beyond 1e150) is refused by
every file adapter: strict = StreamFormatError naming file:line and the reason; lenient = the
record is skipped, counted and kept, and every other record is read as before."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ihomer import features
from streams import ArffStream, CsvStream, JsonlStream, StreamFormatError
from streams import values as stream_values

BAD = ["inf", "-inf", "Infinity", "1e308", "-1e200", "1.0000001e150"]


def test_the_stream_bound_is_the_encoder_bound():
    assert stream_values.MAX_ABS_VALUE == features.MAX_ABS_VALUE


def _arff_dense(tmp_path: Path, bad: str, mixed: bool) -> Path:
    cat = ("@attribute c {r,g}\n", ",r") if mixed else ("", "")
    rows = "".join(f"{i % 2},{i}.5,2{cat[1]}\n" for i in range(5))
    p = tmp_path / "d.arff"
    p.write_text(
        "@relation 'd: -C 1'\n@attribute y {0,1}\n@attribute a numeric\n@attribute b numeric\n"
        + cat[0] + "@data\n" + f"1,{bad},2{cat[1]}\n" + rows
    )
    return p


def _arff_sparse(tmp_path: Path, bad: str) -> Path:
    rows = "".join(f"{{0 {i % 2},1 {i}.5}}\n" for i in range(5))
    p = tmp_path / "s.arff"
    p.write_text(
        "@relation 's: -C 1'\n@attribute y {0,1}\n@attribute a numeric\n@attribute b numeric\n"
        f"@data\n{{0 1,2 {bad}}}\n" + rows
    )
    return p


def _csv(tmp_path: Path, bad: str) -> Path:
    p = tmp_path / "d.csv"
    p.write_text("a,b,y_1\n" + f"{bad},2,1\n" + "".join(f"{i}.5,2,{i % 2}\n" for i in range(5)))
    return p


def _jsonl(tmp_path: Path, bad: str) -> Path:
    p = tmp_path / "d.jsonl"
    p.write_text(
        f'{{"x": {{"a": {bad}, "b": 2}}, "labels": ["l"]}}\n'
        + "".join(f'{{"x": {{"a": {i}.5}}, "labels": []}}\n' for i in range(5))
    )
    return p


CASES = {
    "arff-dense": (lambda t, b: ArffStream(_arff_dense(t, b, False), **{}), 6),
    "arff-mixed": (lambda t, b: ArffStream(_arff_dense(t, b, True)), 7),
    "arff-sparse": (lambda t, b: ArffStream(_arff_sparse(t, b)), 6),
    "csv": (lambda t, b: CsvStream(_csv(t, b), label_prefix="y_"), 2),
}


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("case", list(CASES))
def test_strict_names_the_file_line_and_reason(tmp_path, case, bad):
    make, line = CASES[case]
    stream = make(tmp_path, bad)
    with pytest.raises(StreamFormatError) as info:
        list(stream)
    assert info.value.line == line and str(info.value).startswith(f"{stream.source}:{line}: ")
    assert "is not finite" in info.value.reason or "largest usable" in info.value.reason


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("case", list(CASES))
def test_lenient_skips_counts_and_keeps_the_rest(tmp_path, case, bad):
    make, line = CASES[case]
    stream = make(tmp_path, bad)
    stream.lenient = True
    records = list(stream)
    assert len(records) == 5 and stream.n_skipped == 1 and stream.skipped[0].line == line
    assert [x["a"] for x, _ in records] == [i + 0.5 for i in range(5)]


@pytest.mark.parametrize("bad", ["1e999", "-1e999", "1e308", "-1e200", "1" + "0" * 400])
def test_jsonl_refuses_unusable_numbers(tmp_path, bad):
    stream = JsonlStream(_jsonl(tmp_path, bad))
    with pytest.raises(StreamFormatError, match=r"d\.jsonl:1: x\['a'\]: .*(finite|largest)"):
        list(stream)
    stream.lenient = True
    assert len(list(stream)) == 5 and stream.n_skipped == 1


def test_nan_text_stays_nan_which_the_model_reads_as_missing_and_the_bound_is_a_value(tmp_path):
    p = tmp_path / "n.csv"
    p.write_text("a,b,y_1\nnan,1e150,1\nNaN,-1e150,0\n")
    xs = [x for x, _ in CsvStream(p, label_prefix="y_")]
    assert [x["b"] for x in xs] == [1e150, -1e150] and all(math.isnan(x["a"]) for x in xs)
    (x, _), *_ = list(ArffStream(_arff_dense(tmp_path, "nan", False)))
    assert math.isnan(x["a"])
    assert next(iter(ArffStream(_arff_dense(tmp_path, "?", False))))[0]["a"] is None
