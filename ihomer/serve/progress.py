"""How far the learner got, kept where a SIGKILL cannot lose it: a memory-mapped offsets file.

The checkpoint says which records the saved model holds; after a crash the learner resumes from
there and learns the later records again. To *count* those replays, the learner writes the next
offset of every partition into a shared memory map after each record (a store into the page cache,
no system call): the kernel keeps the data when the process is killed. The next run reads it once
at start. It is a counter's source, not a durability mechanism: nothing is fsynced, and a power
loss only makes the replay count an underestimate.

It also says which record was *in hand* when the process died (``begin``/``end`` around each
record) and how many consecutive runs died on that same record (``strikes``): the learner
dead-letters a record that killed two runs instead of crash-looping on it. The file is allocated
with real writes (not a sparse ``ftruncate``), so a full disk is an ``OSError`` at creation, never
a SIGBUS on a later store. This module must not know about Kafka.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

__all__ = ["ProgressFile"]

_MAGIC = b"IHPROG02"
#: magic, number of slots, slot in hand (-1: none), suspect slot, suspect offset, strikes
_HEADER = struct.Struct("<8sQqqqq")


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
        init = _HEADER.pack(_MAGIC, n_slots, -1, -1, -1, 0) + struct.pack(f"<{n_slots}q",
                                                                           *[-1] * n_slots)
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
        try:
            written = os.write(fd, init)  # real blocks: ENOSPC here, not SIGBUS later
            if written != size:
                raise OSError(28, "short write (no space left on device?)", str(self.path))
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self._head = memoryview(self._map)[16:_HEADER.size].cast("q")
        self._slots = memoryview(self._map)[_HEADER.size :].cast("q")

    def __setitem__(self, slot: int, offset: int) -> None:
        self._slots[slot] = offset

    def __getitem__(self, slot: int) -> int:
        return self._slots[slot]

    def begin(self, slot: int) -> None:
        """A record of ``slot`` (at offset ``self[slot]``) is in hand."""
        self._head[0] = slot

    def end(self) -> None:
        """No record in hand."""
        self._head[0] = -1

    def set_strikes(self, slot: int, offset: int, strikes: int) -> None:
        """Carry the suspect record and its strike count into this run's file."""
        self._head[1], self._head[2], self._head[3] = slot, offset, strikes

    def close(self) -> None:
        if self._map is not None:
            self._head.release()
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
        return ProgressFile.read_state(path)[0]

    @staticmethod
    def read_state(path: str | os.PathLike) -> tuple[dict[int, int], int, tuple[int, int, int]]:
        """``(offsets, slot in hand or -1, (suspect slot, suspect offset, strikes))``.

        The suspect is the record in hand when the run that wrote ``path`` died; its strikes
        already count that death. Absent or bad files read as no progress, no suspect.
        """
        none: tuple[dict[int, int], int, tuple[int, int, int]] = ({}, -1, (-1, -1, 0))
        try:
            data = Path(path).read_bytes()
        except OSError:
            return none
        if len(data) < _HEADER.size:
            return none
        magic, n, in_hand, s_slot, s_off, strikes = _HEADER.unpack_from(data, 0)
        if magic != _MAGIC or len(data) < _HEADER.size + 8 * n:
            return none
        values = struct.unpack_from(f"<{n}q", data, _HEADER.size)
        offsets = {i: v for i, v in enumerate(values) if v >= 0}
        if 0 <= in_hand < n and in_hand in offsets:
            suspect = (in_hand, offsets[in_hand])
            strikes = strikes + 1 if (s_slot, s_off) == suspect else 1
            return offsets, in_hand, (*suspect, strikes)
        return offsets, -1, (-1, -1, 0)
