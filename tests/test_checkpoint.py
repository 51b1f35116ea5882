"""Checkpoints: atomic writes, and every way a file can be untrustworthy is refused with the file
name and the reason before (or instead of) unpickling."""

from __future__ import annotations

import os

import pytest

from ihomer import IHOMER
from ihomer.checkpoint import (
    FORMAT_VERSION,
    MAGIC,
    CheckpointError,
    load_checkpoint,
    read_metadata,
    remove_stale_temp_files,
    save_checkpoint,
)


def test_roundtrip_of_a_trained_model(tmp_path):
    from river import datasets

    model = IHOMER()
    data = list(datasets.Yeast().take(200))
    for x, y in data:
        model.learn_one(x, y)
    path = tmp_path / "m.ckpt"
    save_checkpoint(path, model, metadata={"offsets": {"t[0]": 199}})
    loaded, meta = load_checkpoint(path)
    assert meta == {"offsets": {"t[0]": 199}}
    assert loaded.predict_proba_one(data[0][0]) == model.predict_proba_one(data[0][0])


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda b: b"NOTACKPT" + b[8:], "bad magic"),
        (lambda b: b[:8] + (99).to_bytes(4, "little") + b[12:], "unsupported format version 99"),
        (lambda b: b[:-5], "truncated payload"),
        (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "checksum mismatch"),
        (lambda b: b[:10], "truncated header"),
    ],
)
def test_damaged_files_are_refused(tmp_path, damage, reason):
    path = tmp_path / "m.ckpt"
    save_checkpoint(path, {"w": list(range(100))})
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert str(path) in str(err.value) and reason in str(err.value)


def test_hmac_key_is_checked(tmp_path):
    path = tmp_path / "m.ckpt"
    save_checkpoint(path, [1, 2, 3], key=b"secret")
    assert load_checkpoint(path, key=b"secret")[0] == [1, 2, 3]
    with pytest.raises(CheckpointError, match="HMAC mismatch"):
        load_checkpoint(path, key=b"other")


def test_incompatible_payload_is_a_checkpoint_error(tmp_path):
    payload = b"cihomer.model\nNoSuchClass\n."  # a pickle naming a class that does not exist
    path = tmp_path / "m.ckpt"
    import hashlib
    import json
    import struct

    head = json.dumps(
        {
            "payload_bytes": len(payload),
            "metadata": {},
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
    ).encode()
    path.write_bytes(MAGIC + struct.pack("<II", 2, len(head)) + head + payload)  # format 2
    with pytest.raises(CheckpointError, match="format 2"):  # older model internals
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="format 2"):  # and never trusted with a key
        load_checkpoint(path, key=b"k")


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "m.ckpt"
    save_checkpoint(path, "old")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        save_checkpoint(path, "new")
    monkeypatch.undo()
    assert load_checkpoint(path)[0] == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ckpt"]


def _edit_header(raw: bytes, old: bytes, new: bytes) -> bytes:
    """Replace ``old`` by ``new`` (same length) inside the JSON header."""
    assert len(old) == len(new) and raw.count(old) == 1
    return raw.replace(old, new)


@pytest.mark.parametrize("key", [None, b"secret"])
def test_an_edited_header_is_refused(tmp_path, key):
    """The offsets live in the header: moving them would silently skip records."""
    path = tmp_path / "m.ckpt"
    save_checkpoint(path, {"w": 1}, metadata={"offsets": {"0": 100}}, key=key)
    path.write_bytes(_edit_header(path.read_bytes(), b'"0": 100', b'"0": 900'))
    with pytest.raises(CheckpointError, match="HMAC mismatch" if key else "checksum mismatch"):
        load_checkpoint(path, key=key)


def test_a_crafted_file_with_a_valid_checksum_is_refused_with_a_key(tmp_path):
    """Anyone can compute a SHA-256: only the HMAC keeps a crafted pickle from running."""
    path = tmp_path / "m.ckpt"
    save_checkpoint(path, {"evil": True})  # no key: a valid SHA-256 tag, as an attacker could
    assert load_checkpoint(path)[0] == {"evil": True}
    with pytest.raises(CheckpointError, match="HMAC mismatch"):
        load_checkpoint(path, key=b"secret")
    save_checkpoint(path, {"w": 1}, key=b"secret")
    with pytest.raises(CheckpointError, match="give the key"):
        load_checkpoint(path)


def test_metadata_without_unpickling_and_the_format_version(tmp_path):
    path = tmp_path / "m.ckpt"
    save_checkpoint(path, {"w": 1}, metadata={"seq": 4}, key=b"k")
    assert read_metadata(path, key=b"k") == {"seq": 4}
    assert int.from_bytes(path.read_bytes()[8:12], "little") == FORMAT_VERSION == 3


def test_stale_temp_files_are_removed(tmp_path):
    path = tmp_path / "m.ckpt"
    save_checkpoint(path, "x")
    (tmp_path / "m.ckpt.abc123.tmp").write_bytes(b"half a write")
    (tmp_path / "other.ckpt.abc.tmp").write_bytes(b"not ours")
    assert remove_stale_temp_files(path) == ["m.ckpt.abc123.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ckpt", "other.ckpt.abc.tmp"]
