"""Saving and loading a trained model: :func:`save` and :func:`load` (also ``ihomer.save`` and
``ihomer.load``).

This module owns the *saved model* layer on top of :mod:`ihomer.checkpoint`'s verified file format
(magic, format version and one SHA-256 / HMAC tag over header and payload checked before anything
is unpickled; written to a temporary file, fsynced and renamed, so a crash never leaves a torn
file). A saved model is a
checkpoint whose metadata says ``"kind": "ihomer-model"`` and records the model class, the ihomer
version, the instances learned and the labels. :func:`load` also takes a checkpoint of the
``ihomer serve`` daemon (it returns the daemon's model). It must not know about streams or the CLI.

A saved model is a pickle inside a verified envelope: load only files you (or your daemon) wrote;
pass ``key`` to both functions to have the file authenticated (HMAC-SHA256).
"""

from __future__ import annotations

import os
import time
from typing import Any

from ihomer.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["save", "load", "saved_info", "ModelFileError", "KIND"]

#: The ``kind`` recorded in the metadata of a saved model.
KIND = "ihomer-model"


class ModelFileError(CheckpointError):
    """A file that :func:`load` cannot turn into a model: names the file and the reason
    (corrupt, truncated, not an ihomer file, written with another key or format version)."""


def _class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def save(
    model: Any, path: str | os.PathLike, *, key: bytes | None = None, metadata: dict | None = None
) -> int:
    """Write ``model`` to ``path`` atomically; returns the bytes written.

    Parameters
    ----------
    model
        Any picklable river-style model (an :class:`ihomer.IHOMER`, a river pipeline, ...).
    path
        The file to write; its folder is created. An existing file is replaced only once the new
        one is complete on disk.
    key
        Optional secret: the file then carries an HMAC-SHA256 that :func:`load` checks.
    metadata
        Extra JSON-serialisable facts to keep in the header (readable without unpickling, see
        :func:`saved_info`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from river import datasets
    >>> from ihomer import IHOMER
    >>> model = IHOMER()
    >>> for x, y in datasets.Yeast().take(100):
    ...     model.learn_one(x, y)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "yeast.ihomer"
    >>> _ = save(model, path)
    >>> again = load(path)
    >>> again.predict_proba_one(x) == model.predict_proba_one(x)
    True
    >>> saved_info(path)["n_learned"]
    100
    """
    meta: dict[str, Any] = {
        "kind": KIND,
        "class": _class_path(model),
        "ihomer_version": _version(),
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    n = getattr(model, "n_learned", None)
    if isinstance(n, int):
        meta["n_learned"] = n
    try:
        from ihomer.labels.view import model_labels

        labels = model_labels(model)
    except Exception:  # any model: the labels are a convenience only
        labels = None
    if labels is not None:
        meta["labels"] = [str(lab) for lab in labels]
    if metadata:
        meta["user"] = dict(metadata)
    return save_checkpoint(path, model, metadata=meta, key=key)


def _version() -> str:
    from ihomer import __version__

    return __version__


def load(path: str | os.PathLike, *, key: bytes | None = None) -> Any:
    """The model saved at ``path`` by :func:`save` (or held by an ``ihomer serve`` checkpoint).

    Raises :class:`ModelFileError` (a ``ValueError``) naming the file and the reason when the file
    is missing, corrupt, truncated, of another format version, written with another key, or not
    an ihomer file; the checks happen before anything is unpickled.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> _ = p.write_text("hello")
    >>> load(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ihomer.persist.ModelFileError: .../notes.txt: not an ihomer checkpoint (bad magic)
    """
    try:
        obj, meta = load_checkpoint(path, key=key)
    except CheckpointError as e:
        raise ModelFileError(e.path, e.reason) from None
    if meta.get("kind") == KIND:
        return obj
    if isinstance(obj, dict) and "model" in obj:  # a checkpoint of the ihomer serve daemon
        return obj["model"]
    raise ModelFileError(
        path, "an ihomer checkpoint, but neither a saved model nor a daemon checkpoint"
    )


def saved_info(path: str | os.PathLike, *, key: bytes | None = None) -> dict[str, Any]:
    """The metadata of a saved model (class, version, instances learned, labels, user facts).

    The file is verified like :func:`load` does.
    """
    try:
        _, meta = load_checkpoint(path, key=key)
    except CheckpointError as e:
        raise ModelFileError(e.path, e.reason) from None
    return meta
