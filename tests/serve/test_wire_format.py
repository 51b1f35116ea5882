"""The JSON event schema: every kind of bad input becomes an EventSchemaError with a location."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import streams.kafka as wire
from streams.errors import StreamFormatError
from streams.kafka import ERROR_CATEGORIES, EventSchemaError, decode_event, encode_event, position

SRC = position("events", 3, 1042)


@pytest.fixture(autouse=True, scope="module", params=["orjson", "stdlib"])
def parser(request):
    """Every test of the module with each parser: orjson first (decode_event's fast path, with
    ``ihomer[serve]``) and the standard library's alone (an install without orjson)."""
    saved = wire._orjson_loads
    if request.param == "orjson" and saved is None:
        pytest.skip("orjson is not installed")
    if request.param == "stdlib":
        wire._orjson_loads = None
    yield request.param
    wire._orjson_loads = saved


@pytest.mark.parametrize(
    ("raw", "category", "fragment"),
    [
        (b"{oops", "malformed_json", "malformed JSON"),
        (b"\xff\xfe", "malformed_json", "malformed JSON"),
        (None, "malformed_json", "null value"),
        (b'{"features": {"a": NaN}, "labels": []}', "malformed_json", "NaN"),
        (b'{"features": {"a": -Infinity}, "labels": []}', "malformed_json", "Infinity"),
        (b'{"features": {"a": 1e400}, "labels": []}', "non_finite", "'a' is not finite"),
        (b'"just a string"', "wrong_type", "expected a JSON object"),
        (b'{"features": [1, 2], "labels": []}', "wrong_type", "features must be an object"),
        (b'{"features": {"a": {"b": 1}}, "labels": []}', "wrong_type", "feature 'a'"),
        (b'{"features": {}, "labels": 3}', "wrong_type", "labels must be a list"),
        (b'{"features": {}, "labels": [1.5]}', "wrong_type", "labels must be strings"),
        (b'{"features": {}, "labels": {"a": 1}}', "wrong_type", "label 'a'"),
        (b'{"features": {}, "labels": [], "id": [1]}', "wrong_type", "id must be"),
        (b'{"features": {}, "labels": [], "timestamp": {}}', "wrong_type", "timestamp must be"),
        (b'{"features": {}, "labels": [], "extra": 1}', "unknown_field", "'extra'"),
        (b'{"labels": []}', "missing_field", "'features' is missing"),
        (b'{"features": {}}', "missing_field", "'labels' is missing"),
        (b'{"features": {}, "labels": []}' + b" " * 400, "oversized", "over the 400-byte limit"),
        (b'{"features": {}, "labels": [], "id": "\\ud800"}', "invalid_text", "lone surrogate"),
        (b'{"features": {"\\uDC00": 1}, "labels": []}', "invalid_text", "lone surrogate"),
        (b'{"features": {}, "labels": ["\\ud800"]}', "invalid_text", "lone surrogate"),
        (b'{"features": {}, "labels": [], "id": "a\\nb"}', "invalid_text", "control character"),
        (b'{"features": {}, "labels": [], "id": "a\tb"}', "malformed_json", "malformed JSON"),
        (b'{"features": {}, "labels": [], "timestamp": 1e999}', "non_finite", "timestamp"),
        (b'{"features": {"a": 1' + b"0" * 320 + b'}, "labels": []}', "non_finite", "float range"),
    ],
)
def test_bad_labelled_events(raw, category, fragment):
    with pytest.raises(EventSchemaError) as info:
        decode_event(raw, SRC, max_bytes=400)
    e = info.value
    assert isinstance(e, StreamFormatError) and isinstance(e, ValueError)
    assert e.category == category and e.category in ERROR_CATEGORIES
    assert fragment in e.reason
    assert e.source == "events[3]@1042" and str(e).startswith("events[3]@1042: ")


def test_requests_have_no_labels():
    x, y, rid, ts = decode_event(b'{"features": {"a": 2}, "id": "r1", "timestamp": 5}', SRC,
                                 labelled=False)  # fmt: skip
    assert (x, y, rid, ts) == ({"a": 2}, None, "r1", 5)
    with pytest.raises(EventSchemaError, match="unknown field"):
        decode_event(b'{"features": {}, "labels": []}', SRC, labelled=False)


def test_values_kept_as_sent():
    x, y, rid, _ = decode_event(
        b'{"features": {"n": 1.5, "c": "red", "m": null, "b": true}, '
        b'"labels": {"p": true, "q": false}, "id": 12}'
    )
    assert x == {"n": 1.5, "c": "red", "m": None, "b": 1.0}
    assert y == {"p": True, "q": False} and rid == "12"


def test_error_survives_pickling():
    import pickle

    e = EventSchemaError(SRC, "bad", "oversized")
    e2 = pickle.loads(pickle.dumps(e))
    assert (e2.source, e2.reason, e2.category) == (e.source, e.reason, e.category)


finite = st.floats(allow_nan=False, allow_infinity=False)
names = st.text(min_size=1, max_size=8)


@given(
    x=st.dictionaries(names, st.one_of(finite, st.integers(-(10**9), 10**9), names, st.none())),
    labels=st.lists(names, max_size=5),
)
def test_encode_decode_round_trip(x, labels):
    y = {lab: True for lab in labels}
    x2, y2, rid, _ = decode_event(encode_event(x, y, id=7))
    assert x2 == x and y2 == y and rid == "7"


@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_crash(raw):
    try:
        x, y, _, _ = decode_event(raw)
    except EventSchemaError as e:
        assert e.category in ERROR_CATEGORIES
    else:
        assert isinstance(x, dict) and isinstance(y, dict)
        assert all(v is None or isinstance(v, str) or math.isfinite(v) for v in x.values())


def test_encode_refuses_nan():
    with pytest.raises(ValueError):
        encode_event({"a": float("nan")}, {"l": True})
    assert json.loads(encode_event({"a": 1}, None))["features"] == {"a": 1}


def test_valid_surrogate_pairs_and_long_ids():
    x, _, rid, _ = decode_event(b'{"features": {"e": "\\ud83d\\ude00"}, "labels": [], "id": "ok"}')
    assert x == {"e": "\U0001f600"} and rid == "ok"
    with pytest.raises(EventSchemaError, match="over 1024"):
        decode_event(b'{"features": {}, "labels": [], "id": "' + b"i" * 1025 + b'"}')


@given(st.text(max_size=12))
def test_any_accepted_id_is_a_key_and_one_audit_field(rid):
    try:
        _, _, got, _ = decode_event(json.dumps({"features": {}, "labels": [], "id": rid}).encode())
    except EventSchemaError as e:
        assert e.category == "invalid_text"
    else:
        got.encode("utf-8")  # never raises: the prediction's key can be sent
        assert "\n" not in got and "\t" not in got


def test_orjson_never_gives_a_non_finite_number():
    """decode_event's fast path trusts that orjson's numbers are finite floats and 64-bit
    integers (what it refuses, the standard library decides): if a new orjson accepted
    ``1e400`` as infinity, this fails before a non-finite feature could reach a model."""
    orjson = pytest.importorskip("orjson")
    for raw in (b"1e400", b"-1e400", b"1" + b"0" * 400, b"NaN", b"-Infinity", b"[1e309]"):
        with pytest.raises(ValueError):
            orjson.loads(raw)
    for raw in (b"18446744073709551615", b"-9223372036854775809", b"1" + b"0" * 300):
        v = orjson.loads(raw)
        assert math.isfinite(v) and abs(v) <= 1.7976931348623157e308
