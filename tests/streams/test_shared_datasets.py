"""Every shared development data set parses with the figures of its README table.

Also: river's bundled Yeast gives the same records as ``yeast.arff``, and ``river.stream.iter_arff``
gives the same ``x`` values as ArffStream on dense files it can read.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import pytest
from river.stream import iter_arff

from streams import ArffStream, open_stream
from streams.registry import DATASET_FILES, DEV_SUITE, EXTRA, RiverYeastStream

pytestmark = pytest.mark.shared


def readme_table(folder: Path) -> dict[str, dict]:
    """Rows of the README table, keyed by data-set name (taken from the file column)."""
    out = {}
    for line in (folder / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5 or not re.match(r"^[\w.-]+\.arff", cells[0]):
            continue
        name = cells[0].split(".arff")[0]

        def lead(cell: str) -> str:
            return re.match(r"[\d,.]+", cell).group(0).replace(",", "")

        out[name] = {
            "file": cells[0].split()[0],
            "instances": int(lead(cells[1])),
            "features": int(lead(cells[2])),
            "labels": int(lead(cells[3])),
            "cardinality": float(lead(cells[4])),
            "sparse": "sparse" in (cells[5] + " " + cells[6]).lower().replace("non-sparse", ""),
        }
    return out


@pytest.fixture(scope="module")
def table(shared_datasets) -> dict[str, dict]:
    t = readme_table(shared_datasets)
    assert set(t) == set(DEV_SUITE + EXTRA), "README table and registry disagree"
    return t


@pytest.fixture(scope="module")
def parsed(shared_datasets) -> dict[str, dict]:
    """Parse every data set once; keep counts and type checks."""
    out = {}
    for name in DEV_SUITE + EXTRA:
        s = open_stream(name)
        n = n_true = 0
        bad_types = 0
        for x, y in s:
            n += 1
            n_true += sum(y.values())
            if len(y) != len(s.labels) or (not s.sparse and len(x) != len(s.features)):
                bad_types += 1
            for v in x.values():
                if not (v is None or type(v) is float or type(v) is str):
                    bad_types += 1
        out[name] = {
            "stream": s,
            "instances": n,
            "features": len(s.features),
            "labels": len(s.labels),
            "cardinality": n_true / n,
            "bad": bad_types,
        }
    return out


@pytest.mark.parametrize("name", DEV_SUITE + EXTRA)
def test_matches_readme(name, table, parsed):
    want, got = table[name], parsed[name]
    assert DATASET_FILES[name][0] == want["file"]
    assert got["instances"] == want["instances"]
    assert got["features"] == want["features"]
    assert got["labels"] == want["labels"]
    assert round(got["cardinality"], 2) == want["cardinality"]
    assert got["stream"].sparse == want["sparse"]
    assert got["bad"] == 0
    assert got["stream"].n_skipped == 0


def test_flags_nominal_features(parsed):
    s = parsed["flags"]["stream"]
    x, _ = next(iter(s))
    # nominal {1,2,...} are categories (as in Weka and MOA), nominal {0,1} and numeric are numbers
    cats = {"landmass", "zone", "language", "religion"}
    assert {k for k, v in x.items() if type(v) is str} == cats
    assert all(type(v) is float for k, v in x.items() if k not in cats)
    assert x["landmass"] == "5" and x["crescent"] == 0.0


def test_river_yeast_equals_yeast_arff(shared_datasets):
    ours = ArffStream(shared_datasets / "yeast.arff", limit=300)
    river = RiverYeastStream(limit=300)
    assert ours.labels == river.labels and ours.features == river.features
    n = 0
    for (xa, ya), (xr, yr) in zip(ours, river, strict=True):
        assert ya == yr
        assert xa.keys() == xr.keys()
        assert all(math.isclose(xa[k], xr[k], rel_tol=1e-9, abs_tol=1e-12) for k in xa)
        n += 1
    assert n == 300


@pytest.mark.parametrize("name", ["yeast", "emotions", "birds", "flags"])
def test_same_x_as_river_iter_arff(shared_datasets, name):
    ours = open_stream(name, limit=200)
    theirs = iter_arff(shared_datasets / DATASET_FILES[name][0], target=ours.labels)
    for (xa, ya), (xr, yr) in zip(ours, itertools.islice(theirs, 200), strict=True):
        # river keeps nominal values as text; compare through float where ours is numeric
        assert xa.keys() == xr.keys()
        for k, v in xa.items():
            assert v == (float(xr[k]) if type(v) is float else xr[k])
        assert ya == {k: v == "1" for k, v in yr.items()}
