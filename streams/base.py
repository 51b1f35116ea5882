"""The common shape of every stream adapter: iteration, limits, lenient skipping, file opening.

This module owns :class:`Stream` (what a driver can rely on from any adapter),
:func:`open_text` (transparent ``gzip`` / ``bz2`` decompression, detected from the magic bytes) and
:func:`corrupt_file_error` (a truncated or corrupt compressed file is a :class:`StreamFormatError`,
in lenient mode too: what follows the damage cannot be read). It must not know about any record
format.
"""

from __future__ import annotations

import bz2
import gzip
import os
import zlib
from collections import deque
from collections.abc import Iterator
from typing import IO

from streams.errors import StreamFormatError

__all__ = ["Stream", "open_text", "corrupt_file_error", "MAX_KEPT_ERRORS"]

#: How many skipped-row errors a lenient stream keeps (the most recent ones).
MAX_KEPT_ERRORS = 1_000

Record = tuple[dict, dict]


def open_text(path: str | os.PathLike) -> IO[str]:
    """Open ``path`` for reading text (UTF-8), decompressing gzip or bzip2 transparently.

    The compression is detected from the first bytes of the file, not from its name.

    Examples
    --------
    >>> import gzip, os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "a.txt.gz")
    >>> with gzip.open(p, "wt") as f:
    ...     _ = f.write("hello\\n")
    >>> with open_text(p) as f:
    ...     f.read()
    'hello\\n'
    """
    with open(path, "rb") as f:
        magic = f.read(3)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8")
    if magic == b"BZh":
        return bz2.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def corrupt_file_error(source: str, exc: BaseException) -> StreamFormatError | None:
    """The :class:`StreamFormatError` for a read failure that means a damaged file (a truncated
    or corrupt gzip / bzip2 stream), or None for other failures (a missing file stays a
    ``FileNotFoundError``).

    Examples
    --------
    >>> str(corrupt_file_error("a.arff.gz", EOFError("Compressed file ended early")))
    'a.arff.gz: truncated or corrupt file (Compressed file ended early)'
    >>> corrupt_file_error("a.arff", FileNotFoundError(2, "No such file")) is None
    True
    """
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
        return None
    if isinstance(exc, EOFError | zlib.error | OSError):
        return StreamFormatError(source, None, f"truncated or corrupt file ({exc})")
    return None


class Stream:
    """Base class of the stream adapters.

    Iterating yields ``(x, y)`` pairs: ``x`` maps feature names to ``float``, ``str`` (a category)
    or ``None`` (missing), ``y`` maps **every** label of the stream to ``True`` / ``False``. Each
    iteration starts from the beginning again (files are re-opened) and memory stays constant.

    Parameters
    ----------
    lenient
        ``False`` (default): the first malformed record raises :class:`StreamFormatError`.
        ``True``: malformed records are skipped, counted in ``n_skipped`` and kept in ``skipped``
        (the last 1,000).
    limit
        Stop after this many instances (``None``: no limit).

    Attributes
    ----------
    name
        Short name of the stream (e.g. ``"scene"``).
    labels
        Label names in stream order (may grow while reading formats that do not declare them).
    features
        Feature names (the non-label attributes).
    sparse
        Whether ``x`` dicts omit zero features (absent feature = 0).
    source
        Where records come from (a file path).

    Examples
    --------
    >>> class Two(Stream):
    ...     def __init__(self, **kw):
    ...         super().__init__(**kw)
    ...         self.name, self.labels, self.features = "two", ["a"], ["f"]
    ...     def _records(self):
    ...         yield {"f": 1.0}, {"a": True}
    ...         self._skip(StreamFormatError("mem", 2, "bad row"))
    ...         yield {"f": 2.0}, {"a": False}
    >>> s = Two(lenient=True)
    >>> [y["a"] for _, y in s], s.n_skipped, str(s.skipped[0])
    ([True, False], 1, 'mem:2: bad row')
    >>> list(Two(limit=1))
    [({'f': 1.0}, {'a': True})]
    """

    name: str = "stream"
    source: str = "<memory>"
    sparse: bool = False

    def __init__(self, *, lenient: bool = False, limit: int | None = None) -> None:
        if not isinstance(lenient, bool):
            raise ValueError(f"lenient must be a bool, got {lenient!r}")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ValueError(f"limit must be None or an int >= 0, got {limit!r}")
        self.lenient = lenient
        self.limit = limit
        self.labels: list[str] = []
        self.features: list[str] = []
        self.n_skipped = 0
        self._skipped: deque[StreamFormatError] = deque(maxlen=MAX_KEPT_ERRORS)

    # -- what subclasses provide -------------------------------------------------------------
    def _records(self) -> Iterator[Record]:
        """Yield every well-formed record; report malformed ones through :meth:`_skip`."""
        raise NotImplementedError

    # -- shared behaviour ----------------------------------------------------------------------
    @property
    def skipped(self) -> list[StreamFormatError]:
        """The errors of the skipped records (lenient mode), the most recent 1,000."""
        return list(self._skipped)

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    @property
    def n_features(self) -> int:
        return len(self.features)

    def _skip(self, error: StreamFormatError) -> None:
        """Raise ``error`` (strict mode) or count and keep it (lenient mode)."""
        if not self.lenient:
            raise error
        self.n_skipped += 1
        self._skipped.append(error)

    def __iter__(self) -> Iterator[Record]:
        self.n_skipped = 0
        self._skipped.clear()
        limit = self.limit
        if limit == 0:
            return
        records = self._records()
        try:
            if limit is None:
                yield from records
            else:
                n = 0
                for record in records:
                    yield record
                    n += 1
                    if n >= limit:
                        return
        except (EOFError, zlib.error, OSError) as exc:
            error = corrupt_file_error(self.source, exc)
            if error is None:
                raise
            raise error from None
        finally:
            records.close()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, source={self.source!r}, "
            f"n_features={len(self.features)}, n_labels={len(self.labels)}, sparse={self.sparse})"
        )
