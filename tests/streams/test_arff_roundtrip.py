"""Property test: random tables written as dense, sparse and quoted ARFF read back exactly."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams import ArffStream

CATS = ["a", "b c", "d,e", "f'g", "?"]


def quote(v: str) -> str:
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


@st.composite
def tables(draw):
    n_num = draw(st.integers(1, 3))
    n_cat = draw(st.integers(0, 2))
    n_lab = draw(st.integers(1, 3))
    n_rows = draw(st.integers(0, 6))
    num = st.one_of(
        st.none(),
        st.just(0.0),
        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, allow_subnormal=False),
    )
    rows = []
    for _ in range(n_rows):
        x = {f"n{i}": draw(num) for i in range(n_num)}
        x.update({f"c{i}": draw(st.sampled_from(CATS + [None])) for i in range(n_cat)})
        y = {f"L{i}": draw(st.booleans()) for i in range(n_lab)}
        rows.append((x, y))
    return n_num, n_cat, n_lab, rows, draw(st.booleans()), draw(st.booleans())


def render(n_num, n_cat, n_lab, rows, labels_first, sparse, spaced):
    """ARFF text of the table; ``spaced`` adds blanks around separators (the careful parser)."""
    sep = " , " if spaced else ","
    attrs = [(f"n{i}", "numeric") for i in range(n_num)]
    attrs += [(f"c{i}", "{" + ",".join(quote(c) for c in CATS) + "}") for i in range(n_cat)]
    labs = [(f"L{i}", "{0,1}") for i in range(n_lab)]
    attrs = labs + attrs if labels_first else attrs + labs
    c = n_lab if labels_first else -n_lab
    out = [f"@relation 'prop: -C {c}'"] + [f"@attribute {n} {t}" for n, t in attrs] + ["@data"]
    for x, y in rows:
        vals = []
        for name, _ in attrs:
            if name in y:
                vals.append("1" if y[name] else "0")
                continue
            v = x[name]
            if v is None:
                vals.append("?")
            elif isinstance(v, str):
                vals.append(quote(v))
            else:
                vals.append(repr(v))
        if sparse:
            items = [f"{i} {v}" for i, v in enumerate(vals) if v not in ("0", "0.0", "-0.0")]
            out.append(("{ " if spaced else "{") + sep.join(items) + "}")
        else:
            out.append(sep.join(vals))
    return "\n".join(out) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_dense_and_sparse_round_trip(table):
    n_num, n_cat, n_lab, rows, labels_first, spaced = table
    with tempfile.TemporaryDirectory() as d:
        for sparse in (False, True):
            p = Path(d) / f"t{int(sparse)}.arff"
            text = render(n_num, n_cat, n_lab, rows, labels_first, sparse, spaced)
            p.write_text(text, encoding="utf-8")
            s = ArffStream(p)
            got = list(s)
            assert len(got) == len(rows)
            for (gx, gy), (x, y) in zip(got, rows):
                assert gy == y
                if sparse:
                    # absent numeric = 0 (omitted); categories and missing values are kept
                    want = {k: v for k, v in x.items() if not (v == 0.0 and type(v) is float)}
                    # a nominal absent in a sparse row takes the first declared value
                    assert {k: v for k, v in gx.items()} == {
                        **{k: CATS[0] for k in x if k.startswith("c") and k not in want},
                        **want,
                    }
                else:
                    assert gx == x
                    assert list(gx) == s.features


FUZZ_HEADER = """@relation 'fz: -C -2'
@attribute n numeric
@attribute c {a,b,'?'}
@attribute s string
@attribute k {0,1}
@attribute l1 {0,1}
@attribute l2 {0,1}
@data
"""
FUZZ_TOKENS = [
    "0", "1", "2", "3", "4", "5", "6", "-1", "1.5", "?", "a", "b", "'a'", "'?'", "x y",
    " ", ",", ", ", "{", "}", "\t", "'", "%", "{0 1", ",5 1}", "}", "nan", "1e3",
]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(alphabet="0123456 ,{}?.-ab'\"%e\t\\", max_size=24),
        st.lists(st.sampled_from(FUZZ_TOKENS), max_size=16).map("".join),
    )
)
def test_fast_path_agrees_with_careful_parser(row):
    """Any row: the fast path gives what the careful parser gives, or both reject it."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "fz.arff"
        p.write_text(FUZZ_HEADER + row + "\n", encoding="utf-8")
        s = ArffStream(p, lenient=True)
        got = list(s)
        line = row.strip()
        if not line or line[0] == "%":
            assert got == [] and s.n_skipped == 0
            return
        try:
            want = [s._parse_slow(line)]
        except Exception as e:  # the careful parser's reason must be the one reported
            assert got == [] and s.n_skipped == 1
            assert s.skipped[0].reason == str(e) and s.skipped[0].line == 9
            return
        assert got == want


def test_mutated_rows_fast_path_agrees(tmp_path):
    """Near-valid rows (random edits of good ones): fast path and careful parser agree."""
    import collections
    import random

    rng = random.Random(1234)
    seeds = [
        "1.5,a,hello,1,0,1", "{0 1.5,1 b,4 1}", "{}", "?,?,?,?,1,0",
        "-2,'?','x, y',0,1,1", "{2 'q r',5 1}", "{ 0 1 , 3 1 }",
    ]  # fmt: skip
    alphabet = "0123456 ,{}?.-ab'\"%e\t\\"
    rows = []
    for _ in range(3000):
        r = list(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(r) + 1)
            op = rng.random()
            if op < 0.4:
                r.insert(i, rng.choice(alphabet))
            elif r:
                j = min(i, len(r) - 1)
                if op < 0.7:
                    del r[j]
                else:
                    r[j] = rng.choice(alphabet)
        rows.append("".join(r))
    p = tmp_path / "m.arff"
    p.write_text(FUZZ_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    s = ArffStream(p, lenient=True)
    s._skipped = collections.deque()  # keep every error for the comparison
    got = iter(list(s))
    errors = {e.line: e.reason for e in s.skipped}
    n_valid = 0
    for k, row in enumerate(rows):
        line, lineno = row.strip(), 9 + k
        if not line or line[0] == "%":
            continue
        try:
            want = s._parse_slow(line)
        except Exception as e:
            assert errors.get(lineno) == str(e), row
            continue
        assert lineno not in errors, row
        assert next(got) == want, row
        n_valid += 1
    assert n_valid > 100  # the edits leave a fair share of valid rows
