"""Loading of the Cython-compiled twins of ihomer's hot pure-Python modules.

This module owns the import hook that makes ``import ihomer.model`` (and the other modules
listed in ``ihomer/compiled.json``) load the compiled twin of the module's unchanged source
instead of the source itself. ``setup.py`` compiles each listed module as it is, with Cython,
into ``<module>.cython<EXT_SUFFIX>`` beside the ``.py`` (a file name no import statement
reaches), and records the SHA-256 of the source it compiled. At ``import ihomer`` the hook
checks each source against its recorded hash: a module whose ``.py`` changed since the build (an
edit, a checkout) is imported from its source, so a stale build never runs. Set
``IHOMER_NO_COMPILED=1`` before the import to use the sources (and the numpy kernels) only.

The twins run the same code with less interpreter work per call: about 15% less CPU per
prequential step on tmc2007-500, 20ng and Yeast (see the commit that added them).
Tracebacks keep the source line numbers; profilers that sample Python frames (py-spy) see
less inside them, so profile with ``IHOMER_NO_COMPILED=1``.

Examples
--------
>>> import ihomer, ihomer.compiled
>>> sorted(ihomer.compiled.active()) == sorted(ihomer.compiled.loaded())
True
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path

__all__ = ["install", "twins", "active", "loaded"]

_ROOT = Path(__file__).resolve().parent
_MANIFEST = _ROOT / "compiled.json"
#: The top-level packages whose modules may have twins: ihomer and, beside it, streams (the
#: Kafka wire format that the serve daemon decodes every record with). A ``streams`` module's
#: source is ``root.parent / streams / ...``; every twin's ``file`` is relative to ``root``.
_PACKAGES = ("ihomer", "streams")
_finder: _TwinFinder | None = None


def twins(manifest: Path = _MANIFEST, root: Path = _ROOT) -> dict[str, Path]:
    """The compiled twins usable now, ``{module name: path}``: those in ``manifest`` whose file
    exists with this interpreter's extension suffix and whose source (``root`` / the module's
    path ``.py``; ``root.parent`` / the path for the other packages of :data:`_PACKAGES`) still
    has the recorded SHA-256. An unreadable manifest gives none."""
    try:
        entries = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(entries, dict):
        return {}
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    out = {}
    for name, entry in entries.items():
        try:
            file, digest = str(entry["file"]), str(entry["sha256"])
        except (TypeError, KeyError):
            continue
        parts = name.split(".")
        if parts[0] not in _PACKAGES or not file.endswith(suffixes):
            continue
        path = Path(os.path.normpath(root / file))
        base = root if parts[0] == "ihomer" else root.parent / parts[0]
        source = base.joinpath(*parts[1:]).with_suffix(".py")
        try:
            same = hashlib.sha256(source.read_bytes()).hexdigest() == digest
        except OSError:
            continue
        if same and path.is_file():
            out[name] = path
    return out


class _TwinFinder(importlib.abc.MetaPathFinder):
    """Finds the listed modules in their compiled twins (before the path-based finders)."""

    def __init__(self, table: dict[str, Path]) -> None:
        self.table = table

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 (importlib's API)
        so = self.table.get(fullname)
        if so is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(so))
        return importlib.util.spec_from_file_location(fullname, str(so), loader=loader)


def install() -> dict[str, Path]:
    """Install the hook (once; none with ``IHOMER_NO_COMPILED=1``) and return the twins it
    serves. Modules imported before the hook keep their source version."""
    global _finder
    if _finder is None:
        table = {} if os.environ.get("IHOMER_NO_COMPILED", "") not in ("", "0") else twins()
        _finder = _TwinFinder(table)
        if table:
            sys.meta_path.insert(0, _finder)
    return dict(_finder.table)


def active() -> dict[str, Path]:
    """The twins the hook serves (empty before :func:`install` or without a build)."""
    return {} if _finder is None else dict(_finder.table)


def loaded() -> list[str]:
    """The listed modules imported from their twin so far."""
    return [
        name
        for name, path in active().items()
        if getattr(sys.modules.get(name), "__file__", None) == str(path)
    ]
