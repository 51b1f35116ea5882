"""ArffStream against river.stream.iter_arff on a hand-made dense file (no shared data needed)."""

from __future__ import annotations

import random

from river.stream import iter_arff

from streams import ArffStream


def test_same_x_values_as_river(tmp_path):
    rng = random.Random(7)
    names = [f"f{i}" for i in range(6)]
    lines = ["@relation 'r: -C -2'"] + [f"@attribute {n} numeric" for n in names]
    lines += ["@attribute kind {lo,hi}", "@attribute y1 {0,1}", "@attribute y2 {0,1}", "@data"]
    for _ in range(300):
        vals = [
            "?" if rng.random() < 0.05 else repr(round(rng.uniform(-5, 5), 6)) for _ in names
        ]
        vals += [rng.choice(["lo", "hi"]), rng.choice("01"), rng.choice("01")]
        lines.append(",".join(vals))
    p = tmp_path / "r.arff"
    p.write_text("\n".join(lines) + "\n")
    ours = list(ArffStream(p))
    theirs = list(iter_arff(p, target=["y1", "y2"]))
    assert len(ours) == len(theirs) == 300
    for (xa, ya), (xr, yr) in zip(ours, theirs):
        # river drops missing values; ours keeps them as None
        assert {k: v for k, v in xa.items() if v is not None} == xr
        assert {k for k, v in xa.items() if v is None} == set(names) - set(xr)
        assert ya == {k: v == "1" for k, v in yr.items()}
