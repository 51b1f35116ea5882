"""JsonlStream: labels as a list or a y object, labels learned as they appear, validation."""

from __future__ import annotations

import json

import pytest

from streams import JsonlStream, StreamFormatError


def write(tmp_path, lines):
    p = tmp_path / "s.jsonl"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_labels_grow_and_y_has_every_label_seen(tmp_path):
    p = write(
        tmp_path,
        [
            json.dumps({"x": {"a": 1, "b": "red", "c": None}, "labels": ["l1"]}),
            "",
            json.dumps({"x": {"a": 2.5}, "labels": ["l2", "l1", "l2"]}),
            json.dumps({"x": {}, "y": {"l3": True, "l1": 0}}),
            json.dumps({"x": {"d": 0}, "labels": []}),
        ],
    )
    s = JsonlStream(p)
    assert s.labels == [] and s.sparse is True
    rows = list(s)
    assert rows == [
        ({"a": 1.0, "b": "red", "c": None}, {"l1": True}),
        ({"a": 2.5}, {"l1": True, "l2": True}),
        ({}, {"l1": False, "l2": False, "l3": True}),
        ({"d": 0.0}, {"l1": False, "l2": False, "l3": False}),
    ]
    assert type(rows[0][0]["a"]) is float
    assert s.labels == ["l1", "l2", "l3"]
    assert s.features == ["a", "b", "c", "d"]
    assert list(s) == rows  # re-reading starts again (labels are re-learned in the same order)


def test_known_labels_up_front(tmp_path):
    p = write(tmp_path, [json.dumps({"x": {"a": 1}, "labels": ["b"]})])
    s = JsonlStream(p, labels=["a", "b"])
    assert s.labels == ["a", "b"]
    assert list(s) == [({"a": 1.0}, {"a": False, "b": True})]


@pytest.mark.parametrize(
    "line, reason",
    [
        ("{not json", "Expecting property name"),
        ('{"x": {"a": NaN}, "labels": []}', "NaN is not allowed"),
        ('{"x": {"a": Infinity}, "labels": []}', "Infinity is not allowed"),
        ('{"x": {"a": 1e999}, "labels": []}', "not finite"),
        ('{"x": {"a": true}, "labels": []}', "must be a number, a string or null"),
        ('{"x": {"a": [1]}, "labels": []}', "must be a number, a string or null"),
        ('{"x": [1], "labels": []}', "'x' must be an object"),
        ('{"labels": []}', "missing 'x'"),
        ('{"x": {}}', "need exactly one of"),
        ('{"x": {}, "labels": [], "y": {}}', "need exactly one of"),
        ('{"x": {}, "labels": "l1"}', "'labels' must be a list"),
        ('{"x": {}, "labels": [1]}', "must hold strings"),
        ('{"x": {}, "y": {"a": 2}}', "must be true/false"),
        ('{"x": {}, "y": []}', "'y' must be an object"),
        ('{"x": {}, "labels": [], "extra": 1}', "unknown key"),
        ("[1, 2]", "must be a JSON object"),
    ],
)
def test_malformed_lines(tmp_path, line, reason):
    good = json.dumps({"x": {"a": 1}, "labels": ["l"]})
    p = write(tmp_path, [good, "", line, good])
    with pytest.raises(StreamFormatError) as e:
        list(JsonlStream(p))
    assert (e.value.source, e.value.line) == (str(p), 3)
    assert reason in e.value.reason, e.value.reason
    s = JsonlStream(p, lenient=True)
    assert len(list(s)) == 2
    assert s.n_skipped == 1 and s.skipped[0].line == 3


def test_unlabelled_records_for_prediction(tmp_path):
    p = tmp_path / "u.jsonl"
    p.write_text('{"x": {"a": 1}}\n{"x": {"a": 2}, "labels": ["l"]}\n')
    with pytest.raises(StreamFormatError, match="need exactly one of 'labels'"):
        list(JsonlStream(p))
    assert list(JsonlStream(p, labels_required=False)) == [
        ({"a": 1.0}, {}),
        ({"a": 2.0}, {"l": True}),
    ]
