"""How far the learner got, kept where a SIGKILL cannot lose it: a memory-mapped offsets file.

The checkpoint says which records the saved model holds; after a crash the learner resumes from
there and learns the later records again. To *count* those replays, the learner writes the next
offset of every partition into a shared memory map after each record (a store into the page cache,
no system call): the kernel keeps the data when the process is killed. The next run reads it once
at start. It is a counter's source, not a durability mechanism: nothing is fsynced, and a power
loss only makes the replay count an underestimate. This module must not know about Kafka.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

__all__ = ["ProgressFile"]

_MAGIC = b"IHPROG01"
_HEADER = struct.Struct("<8sQ")  # magic, number of slots


class ProgressFile:
    """Fixed-size array of int64 "next offsets", one slot per partition, in a mapped file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "p"
    >>> with ProgressFile(path, 3) as p:
    ...     p[1] = 42
    >>> ProgressFile.read(path)
    {1: 42}
    """

    def __init__(self, path: str | os.PathLike, n_slots: int) -> None:
        if n_slots < 1:
            raise ValueError(f"n_slots must be >= 1, not {n_slots}")
        self.path = Path(path)
        self.n_slots = n_slots
        size = _HEADER.size + 8 * n_slots
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
        try:
            os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        _HEADER.pack_into(self._map, 0, _MAGIC, n_slots)
        self._slots = memoryview(self._map)[_HEADER.size :].cast("q")
        for i in range(n_slots):
            self._slots[i] = -1

    def __setitem__(self, slot: int, offset: int) -> None:
        self._slots[slot] = offset

    def __getitem__(self, slot: int) -> int:
        return self._slots[slot]

    def close(self) -> None:
        if self._map is not None:
            self._slots.release()
            self._map.close()
            self._map = None

    def __enter__(self) -> ProgressFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def read(path: str | os.PathLike) -> dict[int, int]:
        """``{slot: next offset}`` for the slots written; ``{}`` if the file is absent or bad."""
        try:
            data = Path(path).read_bytes()
        except OSError:
            return {}
        if len(data) < _HEADER.size:
            return {}
        magic, n = _HEADER.unpack_from(data, 0)
        if magic != _MAGIC or len(data) < _HEADER.size + 8 * n:
            return {}
        values = struct.unpack_from(f"<{n}q", data, _HEADER.size)
        return {i: v for i, v in enumerate(values) if v >= 0}
