"""The prequential benchmark: iHOMER against river, MOA and the published results.

Submodules: :mod:`~ihomer.bench.models` (what runs), :mod:`~ihomer.bench.suite` (on which
streams), :mod:`~ihomer.bench.jobs` and :mod:`~ihomer.bench.worker` (one subprocess per job,
budgets, resumability), :mod:`~ihomer.bench.report` and :mod:`~ihomer.bench.ranks` (tables,
average ranks), :mod:`~ihomer.bench.plots` (PNGs), :mod:`~ihomer.bench.published` (the published
rows), :mod:`~ihomer.bench.moa` (MOA through capymoa/jpype), :mod:`~ihomer.bench.cli` (options).
Run it with ``ihomer bench`` or ``python benchmarks/prequential.py``.
"""
