"""Build script for the optional C kernels; all metadata lives in setup.cfg.

``optional=True``: where no C compiler is available the install still succeeds and ihomer runs
the numpy versions of the same kernels (ihomer/trees/kernels.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ihomer.trees._kernels",
            ["ihomer/trees/_kernels.c"],
            extra_compile_args=["-O2", "-ffp-contract=off"],
            optional=True,
        )
    ]
)
