"""Stream base class and StreamFormatError: the contract every adapter shares."""

from __future__ import annotations

import pickle

import pytest

from streams import Stream, StreamFormatError


class Counting(Stream):
    def __init__(self, n_good, bad_every=0, **kw):
        super().__init__(**kw)
        self.n_good, self.bad_every = n_good, bad_every
        self.name, self.labels, self.features = "counting", ["l"], ["f"]
        self.opened = self.closed = 0

    def _records(self):
        self.opened += 1
        try:
            line = 0
            for i in range(self.n_good):
                line += 1
                if self.bad_every and i % self.bad_every == 0:
                    self._skip(StreamFormatError("mem", line, f"bad {i}"))
                    line += 1
                yield {"f": float(i)}, {"l": i % 2 == 0}
        finally:
            self.closed += 1


def test_error_message_and_attributes():
    e = StreamFormatError("a.arff", 3, "why")
    assert (e.source, e.line, e.reason, str(e)) == ("a.arff", 3, "why", "a.arff:3: why")
    assert str(StreamFormatError("t[0]@5", None, "why")) == "t[0]@5: why"
    assert isinstance(e, ValueError)
    e2 = pickle.loads(pickle.dumps(e))
    assert (e2.source, e2.line, e2.reason) == ("a.arff", 3, "why")


def test_strict_raises_lenient_keeps():
    with pytest.raises(StreamFormatError, match="mem:1: bad 0"):
        list(Counting(5, bad_every=2))
    s = Counting(5, bad_every=2, lenient=True)
    assert len(list(s)) == 5
    assert s.n_skipped == 3
    assert [e.reason for e in s.skipped] == ["bad 0", "bad 2", "bad 4"]


def test_limit_stops_and_closes_the_source():
    s = Counting(10, limit=3)
    assert [x["f"] for x, _ in s] == [0.0, 1.0, 2.0]
    assert s.opened == s.closed == 1
    s.limit = 0
    assert list(s) == [] and s.opened == 1


@pytest.mark.parametrize("kw", [{"limit": -1}, {"limit": 1.5}, {"limit": True}, {"lenient": 1}])
def test_bad_parameters(kw):
    with pytest.raises(ValueError):
        Counting(1, **kw)


def test_base_needs_records():
    with pytest.raises(NotImplementedError):
        list(Stream())
