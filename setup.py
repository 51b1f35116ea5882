"""Build script for the optional C kernels (the trees' hot path and the feature encoder's fast
path); all metadata lives in setup.cfg.

``optional=True``: where no C compiler is available the install still succeeds and ihomer runs
the numpy / Python versions of the same code (ihomer/trees/kernels.py, ihomer/features.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ihomer.trees._kernels",
            ["ihomer/trees/_kernels.c"],
            extra_compile_args=["-O2", "-ffp-contract=off"],
            optional=True,
        ),
        Extension(
            "ihomer._encode",
            ["ihomer/_encode.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
    ]
)
