"""Build script for ihomer's optional compiled parts; all metadata lives in setup.cfg.

* C kernels: the trees' hot path (``ihomer/trees/_kernels.c``) and the feature encoder's fast
  path (``ihomer/_encode.c``).
* Cython-compiled twins of the pure-Python hot modules (``COMPILED_MODULES``): the same source
  compiled as it is (no Cython-specific code), written beside it as ``<module>.cython<suffix>``
  with a manifest of their sources' SHA-256 (``ihomer/compiled.json``); :mod:`ihomer.compiled`
  loads a twin only while its source is unchanged, so an edited ``.py`` is never shadowed by a
  stale build.

Everything here is ``optional``: without a C compiler (or without Cython, or with
``IHOMER_NO_CYTHON=1``) the install still succeeds and ihomer runs the Python / numpy code.
"""

import hashlib
import json
import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

#: the modules whose interpreter overhead dominates a prequential step (see ihomer/compiled.py)
COMPILED_MODULES = [
    "ihomer/model.py",
    "ihomer/lifecycle.py",
    "ihomer/features.py",
    "ihomer/drift.py",
    "ihomer/decision.py",
    "ihomer/trees/tree.py",
    "ihomer/trees/leaf_models.py",
    "ihomer/trees/observers.py",
    "ihomer/trees/nodes.py",
    # the serve daemon's per-record path around the model (decode, limits, bookkeeping)
    "streams/kafka.py",
    "ihomer/serve/learner.py",
    "ihomer/serve/fetcher.py",
    "ihomer/serve/rows.py",
    "ihomer/serve/limits.py",
    "ihomer/serve/checkpointer.py",
    "ihomer/serve/progress.py",
]
_NAMES = {path[:-3].replace("/", "."): path for path in COMPILED_MODULES}


def _cython_extensions() -> list:
    if os.environ.get("IHOMER_NO_CYTHON", "") not in ("", "0"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        return []
    exts = [
        Extension(name, [path], extra_compile_args=["-O2"], optional=True)
        for name, path in _NAMES.items()
    ]
    directives = {
        "annotation_typing": False,  # type hints stay hints (no C types, same semantics)
        "binding": True,
        "embedsignature": True,
        "autotestdict": False,  # the doctests are collected once, from the docstrings
    }
    return cythonize(
        exts,
        language_level=3,
        quiet=True,
        build_dir="build/cython",
        compiler_directives=directives,
        nthreads=os.cpu_count() or 1,
    )


class BuildExt(build_ext):
    """Builds in parallel; names each Cython twin ``<module>.cython<EXT_SUFFIX>`` beside its
    source (a name no import statement can reach: only :mod:`ihomer.compiled` loads it) and
    writes ``ihomer/compiled.json``, the manifest of the twins and their sources' SHA-256."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def get_ext_filename(self, fullname: str) -> str:
        name = super().get_ext_filename(fullname)
        if fullname in _NAMES:
            stem = fullname.split(".")[-1]
            folder, base = os.path.split(name)
            name = os.path.join(folder, stem + ".cython" + base[len(stem) :])
        return name

    def get_ext_fullpath(self, ext_name: str) -> str:
        if ext_name not in _NAMES:
            return super().get_ext_fullpath(ext_name)
        filename = self.get_ext_filename(ext_name)
        if not self.inplace:
            return os.path.join(self.build_lib, filename)
        package = ext_name.rsplit(".", 1)[0]
        folder = self.get_finalized_command("build_py").get_package_dir(package)
        return os.path.join(os.path.abspath(folder), os.path.basename(filename))

    def run(self) -> None:
        super().run()
        built = {}
        for ext in self.extensions:
            if ext.name in _NAMES:
                rel = self.get_ext_filename(ext.name)
                if os.path.exists(os.path.join(self.build_lib, rel)):
                    with open(_NAMES[ext.name], "rb") as f:
                        digest = hashlib.sha256(f.read()).hexdigest()
                    # relative to the ihomer folder (``../streams/...`` for the streams package)
                    built[ext.name] = {"file": os.path.relpath(rel, "ihomer"), "sha256": digest}
        roots = [os.path.join(self.build_lib, "ihomer")]
        if self.inplace:
            roots.append(self.get_finalized_command("build_py").get_package_dir("ihomer"))
        for root in roots:
            path = os.path.join(root, "compiled.json")
            if built:
                with open(path, "w") as f:
                    json.dump(built, f, indent=1, sort_keys=True)
            elif os.path.exists(path):
                os.remove(path)  # nothing compiled this time: no stale manifest


setup(
    cmdclass={"build_ext": BuildExt},
    ext_modules=[
        Extension(
            "ihomer.trees._kernels",
            ["ihomer/trees/_kernels.c"],
            extra_compile_args=["-O3", "-ffp-contract=off"],
            optional=True,
        ),
        Extension(
            "ihomer._encode",
            ["ihomer/_encode.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
        *_cython_extensions(),
    ],
)
