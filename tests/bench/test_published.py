import csv

import pytest

from ihomer.bench.published import DNF_VALUE, PUBLISHED_METRIC_FILES, load_published


def test_published_rows_match_the_reference_files(reference_folder):
    rows = load_published(reference_folder)
    methods = {r["method"] for r in rows}
    assert len(methods) == 17 and "MLHAT" in methods and "iSOUPT" in methods
    by = {(r["stream"], r["method"]): r for r in rows}
    for dataset, stream in [("Flags", "flags"), ("D20ng", "20ng"), ("Tmc", "tmc2007-500")]:
        with open(reference_folder / "micro_f1.csv", newline="") as f:
            line = next(row for row in csv.DictReader(f) if row["Dataset"] == dataset)
        for method in ("MLHAT", "HT", "ARF"):
            row = by[(stream, method)]
            assert row["model"] == f"published:{method}"
            if float(line[method]) >= DNF_VALUE:
                assert row["status"] == "dnf" and row["micro_f1"] is None
            else:
                assert row["micro_f1"] == pytest.approx(float(line[method]))
    assert all(set(PUBLISHED_METRIC_FILES) <= set(r) for r in rows)


def _write(folder, name, rows):
    with open(folder / name, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def test_dnf_marks_every_metric_of_the_row_as_missing(tmp_path):
    header = ["Dataset", "A", "B"]
    _write(tmp_path, "micro_f1.csv", [header, ["Flags", "0.5", "0.0"]])
    _write(tmp_path, "hamming.csv", [header, ["Flags", "0.2", str(DNF_VALUE)]])
    _write(tmp_path, "time_s.csv", [header, ["Flags", "1.5", str(DNF_VALUE)]])
    rows = {r["method"]: r for r in load_published(tmp_path)}
    assert rows["A"]["status"] == "ok" and rows["A"]["micro_f1"] == 0.5
    assert rows["A"]["stream"] == "flags" and rows["A"]["published_time_s"] == 1.5
    assert rows["B"]["status"] == "dnf"
    assert rows["B"]["micro_f1"] is None and rows["B"]["hamming_loss"] is None
    assert rows["B"]["published_time_s"] is None


def test_malformed_reference_file_names_file_and_line(tmp_path):
    _write(tmp_path, "micro_f1.csv", [["Dataset", "A"], ["Flags", "oops"]])
    with pytest.raises(ValueError, match=r"micro_f1.csv:2: A: not a number"):
        load_published(tmp_path)


def test_missing_folder_gives_no_rows(tmp_path):
    assert load_published(tmp_path / "nowhere") == []


def test_measured_here_table_is_parsed(reference_folder):
    from ihomer.bench.published import load_measured_here

    table = load_measured_here(reference_folder)
    text = (reference_folder / "measured-here.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| yeast | moa-br-ht |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert table[("yeast", "moa-br-ht")]["micro_f1"] == float(cells[4])
    assert table[("yeast", "moa-br-ht")]["hamming_loss"] == float(cells[6])
    assert ("mean", "moa-br-ht") not in table  # the means table has no stream column


def test_measured_here_absent_gives_empty(tmp_path):
    from ihomer.bench.published import load_measured_here

    assert load_measured_here(tmp_path) == {}
