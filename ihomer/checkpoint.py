"""Checkpoint files: atomic writes and verified loads, header and payload under one tag.

Format 3 is ``MAGIC | version (u32) | header length (u32) | JSON header | payload | tag`` where
``tag`` (32 bytes) covers **every byte before it** (magic, version, header with the offsets and
other metadata, payload): HMAC-SHA256 with ``key`` when one is given, plain SHA-256 otherwise.
So an edited header (offsets moved to skip records) is refused like an edited payload. Without a
key the tag only detects corruption: anyone who can write the file can make a valid one, and the
payload is a pickle, so **load only files you trust, or use a key** (the daemon always does).

Writing goes to a temporary file in the same folder, is fsynced, then renamed over the target (and
the folder is fsynced), so a crash leaves either the old or the new checkpoint, never a torn one
(a temporary file may stay behind: :func:`remove_stale_temp_files`). Loading checks magic, format
version, lengths and tag **before** the payload is unpickled. Format 2 files (a checksum of the
payload only) are still read when no key is given. Data that came from the network is never
unpickled.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pickle
import struct
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "read_metadata",
    "remove_stale_temp_files",
    "FORMAT_VERSION",
]

MAGIC = b"IHOMERCK"
FORMAT_VERSION = 3  # 3: one tag over header and payload; 2 (refused): a payload checksum only
_LEGACY_VERSION = 2
_TAG_BYTES = 32
_HEAD = struct.Struct("<II")


class CheckpointError(ValueError):
    """A checkpoint cannot be trusted: names the file and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(
    path: str | os.PathLike,
    obj: Any,
    metadata: dict | None = None,
    key: bytes | None = None,
) -> int:
    """Write ``obj`` atomically to ``path``; returns the number of bytes written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.ckpt"
    >>> _ = save_checkpoint(p, {"w": [1, 2]}, metadata={"offset": 7})
    >>> load_checkpoint(p)
    ({'w': [1, 2]}, {'offset': 7})
    """
    path = Path(path)
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    header = {
        "payload_bytes": len(payload),
        "tag": "hmac-sha256" if key is not None else "sha256",
        "metadata": metadata or {},
    }
    head = json.dumps(header, sort_keys=True).encode()
    body = MAGIC + _HEAD.pack(FORMAT_VERSION, len(head)) + head
    tag = _tag(key, body, payload)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.write(payload)
            f.write(tag)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)
    return len(body) + len(payload) + len(tag)


def _tag(key: bytes | None, body: bytes, payload: bytes) -> bytes:
    h = hmac.new(key, body, hashlib.sha256) if key is not None else hashlib.sha256(body)
    h.update(payload)
    return h.digest()


def remove_stale_temp_files(path: str | os.PathLike) -> list[str]:
    """Delete the temporary files that writes of ``path`` left behind (a kill mid-write).

    Only call it while no other process writes this checkpoint (the daemon holds its lock).
    Returns the names removed.
    """
    path = Path(path)
    removed = []
    try:
        candidates = list(path.parent.glob(path.name + ".*.tmp"))
    except OSError:
        return removed
    for tmp in candidates:
        try:
            tmp.unlink()
            removed.append(tmp.name)
        except OSError:
            pass
    return removed


def _verified(path: Path, key: bytes | None) -> tuple[dict, bytes]:
    """Read and verify ``path``; returns ``(header, payload)`` without unpickling anything."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CheckpointError(path, f"cannot read: {e.strerror or e}") from e
    if not data.startswith(MAGIC):
        raise CheckpointError(path, "not an ihomer checkpoint (bad magic)")
    off = len(MAGIC)
    if len(data) < off + _HEAD.size:
        raise CheckpointError(path, "truncated header")
    version, head_len = _HEAD.unpack_from(data, off)
    if version not in (FORMAT_VERSION, _LEGACY_VERSION):
        raise CheckpointError(
            path, f"unsupported format version {version} (this build reads {FORMAT_VERSION})"
        )
    if version == _LEGACY_VERSION:
        raise CheckpointError(
            path,
            "format 2 checkpoint (an older ihomer): its header is not authenticated and its "
            "model's internals predate this build (per-tree feature ids, the lifecycle module); "
            "retrain, or load it with the ihomer that wrote it",
        )
    off += _HEAD.size
    if len(data) < off + head_len:
        raise CheckpointError(path, "truncated header")
    try:
        header = json.loads(data[off : off + head_len])
        if not isinstance(header, dict):
            raise ValueError("not an object")
    except ValueError as e:
        raise CheckpointError(path, f"corrupt header: {e}") from e
    end = len(data) - _TAG_BYTES
    payload = data[off + head_len : max(off + head_len, end)]
    if len(payload) != header.get("payload_bytes"):
        raise CheckpointError(
            path, f"truncated payload: {len(payload)} of {header.get('payload_bytes')} bytes"
        )
    actual = _tag(key, data[: off + head_len], payload)
    if not hmac.compare_digest(actual, data[end:]):
        if key is not None:
            raise CheckpointError(
                path, "HMAC mismatch (corrupted, edited, or not written with this key)"
            )
        if header.get("tag") == "hmac-sha256":
            raise CheckpointError(path, "written with a key (HMAC): give the key to load it")
        raise CheckpointError(path, "checksum mismatch (file corrupted)")
    return header, payload


def read_metadata(path: str | os.PathLike, key: bytes | None = None) -> dict:
    """The verified metadata of a checkpoint, without loading (unpickling) its payload."""
    return _verified(Path(path), key)[0].get("metadata", {})


def load_checkpoint(path: str | os.PathLike, key: bytes | None = None) -> tuple[Any, dict]:
    """Verify and load a checkpoint; returns ``(obj, metadata)``.

    Raises :class:`CheckpointError` (naming the file and the reason) on a bad magic, an unknown
    format version, a truncated file, a tag (checksum or HMAC) mismatch over header and payload.
    """
    path = Path(path)
    header, payload = _verified(path, key)
    try:
        obj = pickle.loads(payload)
    except Exception as e:  # written by an incompatible version of the model code
        raise CheckpointError(
            path, f"payload cannot be loaded by this version of ihomer ({type(e).__name__}: {e})"
        ) from e
    return obj, header.get("metadata", {})
