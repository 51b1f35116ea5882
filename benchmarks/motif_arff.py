"""Write a synthetic protein-function-like ARFF stream: many two-valued motif attributes.

The shape of a protein-function stream (genbase: ~660 proteins, ~1,200 ``{NO,YES}`` motif
attributes, 27 function labels): each protein carries a few background motifs and, per function
it has, two of that function's three motifs; a label is on when the protein carries at least
two of its motifs. Then run the prequential benchmark on it::

    python benchmarks/motif_arff.py --out /tmp/motifs.arff
    python benchmarks/prequential.py --streams /tmp/motifs.arff --models ihomer vw-hinge --seeds 1

``--values absent,present`` declares the attributes with two words that do not read as booleans,
so the ARFF reader keeps them as categories (one-hot columns, one per value): the encoding every
``{NO,YES}`` attribute had before the reader read boolean words as 0/1.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def motif_rows(
    n: int, n_motifs: int, n_labels: int, seed: int
) -> tuple[list[list[bool]], list[set[int]]]:
    """``(labels per row, motifs per row)``: the stream described in the module docstring."""
    rng = np.random.default_rng(seed)
    motifs = [set(rng.choice(n_motifs, 3, replace=False).tolist()) for _ in range(n_labels)]
    labels, present = [], []
    for _ in range(n):
        on = set(rng.choice(n_motifs, int(rng.integers(3, 12)), replace=False).tolist())
        functions = {int(rng.integers(0, n_labels))}
        if rng.random() < 0.2:
            functions.add(int(rng.integers(0, n_labels)))
        for f in functions:
            on.update(rng.choice(sorted(motifs[f]), 2, replace=False).tolist())
        labels.append([len(on & motifs[j]) >= 2 for j in range(n_labels)])
        present.append(on)
    return labels, present


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="the ARFF file to write")
    ap.add_argument("--instances", type=int, default=662)
    ap.add_argument("--motifs", type=int, default=1185)
    ap.add_argument("--labels", type=int, default=27)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--values", default="NO,YES",
                    help="the two declared values, absent first (default NO,YES)")  # fmt: skip
    a = ap.parse_args(argv)
    values = a.values.split(",")
    if len(values) != 2 or not all(values) or values[0] == values[1]:
        print(f"motif_arff: --values needs two different words, got {a.values!r}",
              file=sys.stderr)  # fmt: skip
        return 2
    if min(a.instances, a.motifs, a.labels) < 1 or a.motifs < 12:
        print("motif_arff: --instances, --labels >= 1 and --motifs >= 12", file=sys.stderr)
        return 2
    labels, present = motif_rows(a.instances, a.motifs, a.labels, a.seed)
    no, yes = values
    domain = "{" + ",".join(values) + "}"
    with open(a.out, "w") as f:
        f.write(f"@relation 'motifs: -C {a.labels}'\n")
        f.writelines(f"@attribute F{j} {{0,1}}\n" for j in range(a.labels))
        f.writelines(f"@attribute PS{k} {domain}\n" for k in range(a.motifs))
        f.write("@data\n")
        for ys, on in zip(labels, present):
            row = ["1" if v else "0" for v in ys]
            row += [yes if k in on else no for k in range(a.motifs)]
            f.write(",".join(row) + "\n")
    print(f"wrote {a.out}: {a.instances} rows, {a.motifs} motif attributes {domain}, "
          f"{a.labels} labels")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
