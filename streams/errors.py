"""The one error type every stream adapter raises for malformed input.

This module owns :class:`StreamFormatError`: *where* a bad record sits (a file path and 1-based
line, or ``"topic[partition]@offset"``) and *why* it is bad. It must not know about any format.
"""

from __future__ import annotations

__all__ = ["StreamFormatError"]


class StreamFormatError(ValueError):
    """A malformed record or header, with its location and the reason.

    Parameters
    ----------
    source
        Where the record comes from: a file path, or ``"topic[partition]@offset"``.
    line
        1-based line number in ``source`` (``None`` when lines do not apply).
    reason
        What is wrong with the record, in words.

    Examples
    --------
    >>> e = StreamFormatError("data/scene.arff", 12, "expected 300 values, got 299")
    >>> str(e)
    'data/scene.arff:12: expected 300 values, got 299'
    >>> str(StreamFormatError("events[3]@1042", None, "labels is not a list"))
    'events[3]@1042: labels is not a list'
    >>> isinstance(e, ValueError)
    True
    """

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        self.source = str(source)
        self.line = line
        self.reason = reason
        super().__init__(self.source, line, reason)

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.source}: {self.reason}"
        return f"{self.source}:{self.line}: {self.reason}"

    def __reduce__(self):  # keep pickling (multiprocessing, checkpoints) faithful
        return (type(self), (self.source, self.line, self.reason))
