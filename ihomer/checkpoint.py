"""Checkpoint files: atomic writes and verified loads.

A checkpoint is ``MAGIC | version (u32) | header length (u32) | JSON header | payload``. The header
holds the payload's length and SHA-256 (and an HMAC-SHA256 when a key is given) plus free metadata
(offsets, model version...). Writing goes to a temporary file in the same folder, is fsynced, then
renamed over the target (and the folder is fsynced), so a crash leaves either the old or the new
checkpoint, never a torn one. Loading checks magic, format version, length and checksum (and HMAC)
**before** the payload is unpickled. Checkpoints are local files written by this process; data that
came from the network is never unpickled.
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

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "FORMAT_VERSION"]

MAGIC = b"IHOMERCK"
FORMAT_VERSION = 2  # 2: leaf models keep their candidate scores in one array
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
        "sha256": hashlib.sha256(payload).hexdigest(),
        "metadata": metadata or {},
    }
    if key is not None:
        header["hmac_sha256"] = hmac.new(key, payload, hashlib.sha256).hexdigest()
    head = json.dumps(header, sort_keys=True).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC)
            f.write(_HEAD.pack(FORMAT_VERSION, len(head)))
            f.write(head)
            f.write(payload)
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
    return len(MAGIC) + _HEAD.size + len(head) + len(payload)


def load_checkpoint(path: str | os.PathLike, key: bytes | None = None) -> tuple[Any, dict]:
    """Verify and load a checkpoint; returns ``(obj, metadata)``.

    Raises :class:`CheckpointError` (naming the file and the reason) on a bad magic, an unknown
    format version, a truncated file, a checksum or HMAC mismatch.
    """
    path = Path(path)
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
    if version != FORMAT_VERSION:
        raise CheckpointError(
            path, f"unsupported format version {version} (this build reads {FORMAT_VERSION})"
        )
    off += _HEAD.size
    try:
        header = json.loads(data[off : off + head_len])
    except ValueError as e:
        raise CheckpointError(path, f"corrupt header: {e}") from e
    payload = data[off + head_len :]
    if len(payload) != header.get("payload_bytes"):
        raise CheckpointError(
            path, f"truncated payload: {len(payload)} of {header.get('payload_bytes')} bytes"
        )
    if hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise CheckpointError(path, "checksum mismatch (file corrupted)")
    if key is not None:
        expected = header.get("hmac_sha256")
        actual = hmac.new(key, payload, hashlib.sha256).hexdigest()
        if expected is None or not hmac.compare_digest(expected, actual):
            raise CheckpointError(path, "HMAC mismatch (not written with this key)")
    try:
        obj = pickle.loads(payload)
    except Exception as e:  # written by an incompatible version of the model code
        raise CheckpointError(
            path, f"payload cannot be loaded by this version of ihomer ({type(e).__name__}: {e})"
        ) from e
    return obj, header.get("metadata", {})
