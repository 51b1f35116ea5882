"""Multi-label ARFF streams: MEKA and Mulan layouts, dense and sparse rows, compressed files.

This module owns reading ARFF text into ``(x, y)`` records: the header grammar (quoted names and
values, comments, case-insensitive keywords), where the labels are (MEKA ``-C N`` in the relation
name, a Mulan label XML, or an explicit list), and the value semantics (numeric values and the
values of a boolean nominal, ``{0,1}`` or ``{no,yes}`` or ``{false,true}``, become ``float``, every
other nominal value stays a category string, even one that looks like a number, ``?`` is ``None``;
an infinite number or one beyond ``1e150`` in magnitude is a malformed value, see
:mod:`streams.values`). It must not know about models or metrics.

Rows are parsed by a fast path (``str.split`` and per-column converters prepared from the header);
any row the fast path does not accept is re-read by a careful parser that either returns the
same record or explains, with the file line, why the row is malformed.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
import zlib
from bisect import bisect_left
from collections.abc import Callable, Iterator
from operator import lt
from pathlib import Path

from streams.base import Stream, corrupt_file_error, open_text
from streams.errors import StreamFormatError
from streams.values import all_usable, unusable_reason, usable_float, usable_number

__all__ = ["ArffStream", "read_label_xml"]

_NUMERIC_TYPES = frozenset({"numeric", "real", "integer"})
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_LABEL_WORDS = {
    "0": False, "1": True, "0.0": False, "1.0": True,
    "false": False, "true": True, "no": False, "yes": True,
}  # fmt: skip
_MEKA_C = re.compile(r"(?:^|[\s:])-C\s*(-?\d+)(?=\s|$)")


class _Bad(Exception):
    """A reason why a header line or a row is malformed (location added by the caller)."""


class _Quoted(str):
    """A value that was quoted in the file (so ``'?'`` is the string ``?``, not missing)."""

    __slots__ = ()


def _scan_token(s: str, pos: int, stops: str = "") -> tuple[str | None, int, bool]:
    """Read one (possibly quoted) token of ``s`` from ``pos``: ``(token, next_pos, quoted)``."""
    n = len(s)
    while pos < n and s[pos] in " \t":
        pos += 1
    if pos >= n:
        return None, pos, False
    q = s[pos]
    if q == "'" or q == '"':
        out: list[str] = []
        i = pos + 1
        while i < n:
            c = s[i]
            if c == "\\" and i + 1 < n:
                out.append(_ESCAPES.get(s[i + 1], s[i + 1]))
                i += 2
                continue
            if c == q:
                return "".join(out), i + 1, True
            out.append(c)
            i += 1
        raise _Bad(f"unterminated quote starting at column {pos + 1}")
    i = pos
    while i < n and s[i] not in " \t" and s[i] not in stops:
        i += 1
    return s[pos:i], i, False


def _split_values(s: str) -> list[str]:
    """Split a comma-separated list that may hold quoted values and a trailing ``%`` comment.

    Unquoted values are stripped; quoted ones are unescaped and returned as :class:`_Quoted`.
    """
    vals: list[str] = []
    n = len(s)
    i = 0
    while True:
        while i < n and s[i] in " \t":
            i += 1
        if i < n and (s[i] == "'" or s[i] == '"'):
            tok, i, _ = _scan_token(s, i)
            vals.append(_Quoted(tok))
            while i < n and s[i] in " \t":
                i += 1
            if i >= n or s[i] == "%":
                return vals
            if s[i] != ",":
                raise _Bad(f"unexpected {s[i]!r} after a quoted value at column {i + 1}")
            i += 1
        else:
            j = i
            while j < n and s[j] != "," and s[j] != "%":
                j += 1
            vals.append(s[i:j].strip())
            if j >= n or s[j] == "%":
                return vals
            i = j + 1


def _finite_float(v: str) -> float | None:
    try:
        f = float(v)
    except ValueError:
        return None
    return f if usable_number(f) else None


def _bit(v: str) -> float | None:
    """0.0 or 1.0 for a nominal value that reads as a boolean (a numeral of 0 or 1, or a label
    word: no/yes, false/true, any case), else None."""
    f = _finite_float(v)
    if f == 0.0 or f == 1.0:
        return f
    b = _LABEL_WORDS.get(v.lower())
    return None if b is None else float(b)


class _Attr:
    """One declared attribute: its name, type and (for nominal) its value domain."""

    __slots__ = ("name", "kind", "domain", "values")

    def __init__(self, name: str, kind: str, domain: list[str] | None = None) -> None:
        self.name = name
        self.kind = kind  # "numeric" | "nominal" | "string" | "date"
        self.domain = domain
        self.values: dict[str, float | str] | None = None  # nominal raw -> feature value
        if domain is not None:
            # a domain whose every value reads as a boolean ({0,1}, {no,yes}, {true,false}, the
            # words a label may use) is a binary indicator: 0/1, the same as its one-hot less the
            # redundant column, and sparse (a protein's ~1,200 {NO,YES} motif attributes would
            # otherwise be ~1,200 always-on "=NO" columns per row, which drown the few "=YES"
            # in every model that sums over its inputs); any other nominal domain is
            # categorical, as Weka and MOA read it, even when its values are numerals: flags'
            # language {1..10} is ten languages, not a scale
            bits = [_bit(v) for v in domain]
            if None not in bits:
                self.values = dict(zip(domain, bits))
            else:
                self.values = {v: str(v) for v in domain}


def _parse_header_line(s: str) -> tuple[str, object]:
    """Classify one header line (already stripped, not a comment)."""
    if s[0] != "@":
        raise _Bad(f"expected @relation, @attribute or @data, got {s[:40]!r}")
    parts = s.split(None, 1)
    word = parts[0]
    rest = parts[1].strip() if len(parts) > 1 else ""
    kw = word.lower()
    if kw == "@relation":
        if rest[:1] in ("'", '"'):
            name, _, _ = _scan_token(rest, 0)
        else:
            name = rest
        return "relation", name or ""
    if kw == "@data":
        return "data", None
    if kw != "@attribute":
        raise _Bad(f"unknown header keyword {word!r}")
    name, pos, _ = _scan_token(rest, 0, stops="{")
    if not name:
        raise _Bad("@attribute without a name")
    spec = rest[pos:].strip()
    if not spec:
        raise _Bad(f"attribute {name!r} has no type")
    if spec[0] == "{":
        close = spec.rfind("}")
        if close < 0:
            raise _Bad(f"attribute {name!r}: nominal domain not closed with '}}'")
        tail = spec[close + 1 :].strip()
        if tail and tail[0] != "%":
            raise _Bad(f"attribute {name!r}: unexpected text after the domain: {tail[:30]!r}")
        domain = [str(v) for v in _split_values(spec[1:close])]
        if not domain or domain == [""]:
            raise _Bad(f"attribute {name!r}: empty nominal domain")
        if any(v == "" for v in domain):
            raise _Bad(f"attribute {name!r}: empty value in nominal domain")
        if len(set(domain)) != len(domain):
            raise _Bad(f"attribute {name!r}: repeated value in nominal domain")
        return "attribute", _Attr(name, "nominal", domain)
    kind = spec.split(None, 1)[0].lower()
    if kind in _NUMERIC_TYPES:
        return "attribute", _Attr(name, "numeric")
    if kind == "string":
        return "attribute", _Attr(name, "string")
    if kind == "date":
        return "attribute", _Attr(name, "date")
    if kind == "relational":
        raise _Bad(f"attribute {name!r}: relational attributes are not supported")
    raise _Bad(f"attribute {name!r}: unknown type {kind!r}")


def read_label_xml(path: str | os.PathLike) -> list[str]:
    """Label names of a Mulan label XML file (``<label name="..."/>``, nesting allowed).

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "toy.xml")
    >>> _ = open(p, "w").write('<labels xmlns="http://mulan.sourceforge.net/labels">'
    ...                        '<label name="a"></label><label name="b"/></labels>')
    >>> read_label_xml(p)
    ['a', 'b']
    """
    source = str(path)
    try:
        root = ET.parse(source).getroot()
    except ET.ParseError as e:
        raise StreamFormatError(source, e.position[0], f"not valid XML: {e}") from None
    names: list[str] = []
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == "label":
            name = el.get("name")
            if name is None:
                raise StreamFormatError(source, None, "a <label> element has no name attribute")
            names.append(name)
    if not names:
        raise StreamFormatError(source, None, "no <label name=...> elements")
    if len(set(names)) != len(names):
        raise StreamFormatError(source, None, "a label name appears twice")
    return names


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".bz2"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    if name.lower().endswith(".arff"):
        name = name[: -len(".arff")]
    return name


class ArffStream(Stream):
    """A multi-label stream read from an ARFF file (MEKA or Mulan layout).

    Parameters
    ----------
    path
        The ARFF file; gzip and bzip2 compression are detected and undone transparently.
    labels
        An explicit list of label attribute names (anywhere among the attributes), or an int that
        overrides MEKA's ``-C N`` (``N > 0``: the first N attributes are labels, ``N < 0``: the last
        ``|N|``). ``None``: MEKA ``-C N`` in the relation name if present, else a Mulan XML beside
        the file (same stem + ``.xml``).
    label_xml
        A Mulan label XML to read the label names from.
    lenient
        Skip malformed rows (counted in ``n_skipped``, kept in ``skipped``) instead of raising.
    limit
        Stop after this many instances.

    Notes
    -----
    Numeric attributes and boolean nominal attributes (every value 0/1, no/yes or false/true, in
    any case: 1.0 for the true value) give ``float``; other nominal attributes
    give their category string (also when the values are numerals, e.g. ``{1,2,3}``: nominal means
    categorical, as in Weka and MOA); ``?`` gives ``None``. In sparse rows an absent
    attribute is 0 and is left out of ``x``, except (Weka semantics) a nominal attribute whose first
    declared value is not 0, which takes that first value. Label order: the explicit list's order,
    else attribute order (also for a Mulan XML, whose own order may differ).

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "toy.arff")
    >>> _ = open(p, "w").write('''@relation 'toy: -C 2'
    ... @attribute l1 {0,1}
    ... @attribute l2 {0,1}
    ... @attribute size numeric
    ... @attribute colour {red,blue}
    ... @data
    ... 1,0,2.5,red
    ... 0,1,?,blue
    ... ''')
    >>> s = ArffStream(p)
    >>> s.labels, s.features
    (['l1', 'l2'], ['size', 'colour'])
    >>> for x, y in s:
    ...     print(x, y)
    {'size': 2.5, 'colour': 'red'} {'l1': True, 'l2': False}
    {'size': None, 'colour': 'blue'} {'l1': False, 'l2': True}
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        labels: int | list[str] | None = None,
        label_xml: str | os.PathLike | None = None,
        lenient: bool = False,
        limit: int | None = None,
    ) -> None:
        super().__init__(lenient=lenient, limit=limit)
        if isinstance(labels, bool) or not (
            labels is None or isinstance(labels, int) or isinstance(labels, (list, tuple))
        ):
            raise ValueError(f"labels must be None, an int or a list of names, got {labels!r}")
        if isinstance(labels, int) and labels == 0:
            raise ValueError("labels=0: a multi-label stream needs at least one label")
        self.path = Path(path)
        self.source = str(path)
        self.name = _stem(self.path)
        self.label_xml = label_xml
        self._labels_arg = labels
        self._read_header()
        self._prepare()

    # -- header --------------------------------------------------------------------------------
    def _read_header(self) -> None:
        src = self.source
        attrs: list[_Attr] = []
        relation: str | None = None
        lineno = 0
        with open_text(self.path) as f:
            try:
                for line in f:
                    lineno += 1
                    s = line.strip()
                    if not s or s[0] == "%":
                        continue
                    try:
                        kind, value = _parse_header_line(s)
                    except _Bad as e:
                        raise StreamFormatError(src, lineno, str(e)) from None
                    if kind == "relation":
                        relation = value
                    elif kind == "attribute":
                        if relation is None:
                            raise StreamFormatError(src, lineno, "@attribute before @relation")
                        attrs.append(value)
                    else:
                        break
                else:
                    raise StreamFormatError(src, None, "no @data line: not an ARFF file?")
                sparse = False
                for line in f:  # the first data row tells dense from sparse
                    s = line.strip()
                    if s and s[0] != "%":
                        sparse = s[0] == "{"
                        break
            except UnicodeDecodeError as e:
                raise StreamFormatError(src, lineno + 1, f"not UTF-8 text ({e.reason})") from None
            except (EOFError, zlib.error, OSError) as e:
                error = corrupt_file_error(src, e)
                if error is None:
                    raise
                raise error from None
        if not attrs:
            raise StreamFormatError(src, lineno, "no @attribute before @data")
        seen: set[str] = set()
        for a in attrs:
            if a.name in seen:
                raise StreamFormatError(src, None, f"attribute {a.name!r} is declared twice")
            seen.add(a.name)
        self.relation = relation or ""
        self._attrs = attrs
        self._header_lines = lineno
        self._first_sparse = sparse

    def _label_columns(self) -> list[int]:
        src = self.source
        attrs = self._attrs
        n = len(attrs)
        index = {a.name: i for i, a in enumerate(attrs)}
        arg = self._labels_arg

        def by_names(names: list[str], origin: str) -> list[int]:
            missing = [nm for nm in names if nm not in index]
            if missing:
                raise StreamFormatError(
                    src, None, f"label(s) {missing[:5]} from {origin} are not attributes"
                )
            if len(set(names)) != len(names):
                raise ValueError(f"{src}: a label name appears twice in {origin}")
            return [index[nm] for nm in names]

        def by_count(k: int, origin: str) -> list[int]:
            if abs(k) >= n:
                raise StreamFormatError(
                    src, None, f"{origin}: {abs(k)} labels leave no feature among {n} attributes"
                )
            return list(range(k)) if k > 0 else list(range(n + k, n))

        if isinstance(arg, (list, tuple)):
            if not arg:
                raise ValueError("labels=[]: a multi-label stream needs at least one label")
            return by_names([str(a) for a in arg], "the labels argument")
        if self.label_xml is not None:
            return sorted(by_names(read_label_xml(self.label_xml), str(self.label_xml)))
        if isinstance(arg, int):
            return by_count(arg, f"labels={arg}")
        m = _MEKA_C.search(self.relation)
        if m and int(m.group(1)) != 0:
            return by_count(int(m.group(1)), f"MEKA -C {m.group(1)}")
        xml = self.path.with_name(self.name + ".xml")
        if xml.is_file():
            self.label_xml = str(xml)
            return sorted(by_names(read_label_xml(xml), str(xml)))
        raise StreamFormatError(
            src,
            None,
            "cannot tell which attributes are labels: no MEKA '-C N' in the relation name, "
            f"no {xml.name} beside the file; pass labels= or label_xml=",
        )

    def _prepare(self) -> None:
        """Precompute the per-column converters of the fast path."""
        attrs = self._attrs
        cols = self._label_columns()
        is_label = [False] * len(attrs)
        for c in cols:
            is_label[c] = True
        self.labels = [attrs[c].name for c in cols]
        self.features = [a.name for a, lab in zip(attrs, is_label) if not lab]
        self._is_label = is_label
        self._n = len(attrs)

        # label converters: raw text -> bool
        lmaps: list[dict[str, bool] | None] = [None] * len(attrs)
        for c in cols:
            a = attrs[c]
            if a.kind == "numeric":
                lmaps[c] = {"0": False, "1": True, "0.0": False, "1.0": True}
            elif a.kind == "nominal":
                bad = [v for v in a.domain if v.lower() not in _LABEL_WORDS]
                if bad:
                    raise StreamFormatError(
                        self.source, None, f"label {a.name!r} has non-binary values {bad[:5]}"
                    )
                lmaps[c] = {v: _LABEL_WORDS[v.lower()] for v in a.domain}
            else:
                raise StreamFormatError(
                    self.source, None, f"label {a.name!r} is a {a.kind} attribute, not binary"
                )
        self._lmaps = lmaps

        # feature converters: raw text -> float | str (raise ValueError/KeyError when unsure)
        fconv: list[Callable | None] = [None] * len(attrs)
        for c, a in enumerate(attrs):
            if is_label[c]:
                continue
            if a.kind == "numeric":
                fconv[c] = usable_float  # raises ValueError: the careful parser says why
            elif a.kind == "nominal":  # an unquoted ? is missing even if '?' is in the domain
                fconv[c] = {k: v for k, v in a.values.items() if k != "?"}.__getitem__
            else:
                fconv[c] = _plain_string
        self._fconv = fconv
        self._names = [a.name for a in attrs]

        feat_cols = [c for c in range(len(attrs)) if not is_label[c]]
        self._fspec = [(c, attrs[c].name, fconv[c]) for c in feat_cols]
        self._lspec = [(c, attrs[c].name, lmaps[c]) for c in cols]
        # one converter for every feature column (all numeric, or all nominal with one domain)?
        fshared = None
        if all(attrs[c].kind == "numeric" for c in feat_cols):
            fshared = float  # C float, values checked per row by all_usable
        elif all(attrs[c].kind == "nominal" for c in feat_cols):
            first = fconv[feat_cols[0]].__self__
            if all(fconv[c].__self__ == first for c in feat_cols):
                fshared = first.__getitem__
        self._fshared = fshared
        self._fcheck = fshared is float
        contiguous = feat_cols == list(range(feat_cols[0], feat_cols[-1] + 1))
        self._fslice = (
            slice(feat_cols[0], feat_cols[-1] + 1) if contiguous and fshared is not None else None
        )
        lcontig = cols == list(range(cols[0], cols[-1] + 1))
        lshared = all(lmaps[c] == lmaps[cols[0]] for c in cols)
        self._lslice = slice(cols[0], cols[-1] + 1) if lcontig and lshared else None
        # sparse rows: labels all at the end (MEKA -C -N) or all at the start (-C N)?
        self._lsplit: tuple[bool, int] | None = None
        if lcontig and cols[-1] == len(attrs) - 1:
            self._lsplit = (True, cols[0])
        elif lcontig and cols[0] == 0:
            self._lsplit = (False, cols[-1] + 1)
        self._lmap0 = lmaps[cols[0]]

        # sparse rows: what an absent attribute means (Weka: value index 0)
        xdef: dict[str, float | str] = {}
        ydef: dict[str, bool] = dict.fromkeys(self.labels, False)
        for c, a in enumerate(attrs):
            if a.kind != "nominal":
                continue
            first = a.domain[0]
            if is_label[c]:
                ydef[a.name] = lmaps[c][first]
            else:
                v = a.values[first]
                if not (isinstance(v, float) and v == 0.0):
                    xdef[a.name] = v
        self._xdef = xdef
        self._ydef = ydef
        self.sparse = self._first_sparse

    # -- rows ----------------------------------------------------------------------------------
    def _records(self) -> Iterator[tuple[dict, dict]]:
        src = self.source
        n = self._n
        names = self._names
        fconv = self._fconv
        lmaps = self._lmaps
        fspec = self._fspec
        lspec = self._lspec
        fslice = self._fslice
        lslice = self._lslice
        fnames = self.features
        lnames = self.labels
        lget = self._lmap0.__getitem__
        xdef = self._xdef
        ydef = self._ydef
        slow = self._parse_slow
        fshared = self._fshared
        fcheck = self._fcheck
        lsplit = self._lsplit
        name_of = names.__getitem__
        lineno = self._header_lines
        with open_text(self.path) as f:
            try:
                for _ in range(self._header_lines):
                    next(f)
                for line in f:
                    lineno += 1
                    s = line.strip()
                    if not s or s[0] == "%":
                        continue
                    try:
                        if s[0] == "{":
                            if s[-1] != "}" or "'" in s or '"' in s or "%" in s:
                                raise ValueError
                            x = dict(xdef) if xdef else {}
                            y = dict(ydef)
                            inner = s[1:-1]
                            if "}" in inner:  # e.g. an instance weight "{...},{w}"
                                raise ValueError
                            if inner and not inner.isspace():
                                toks = inner.replace(",", " ").split()
                                ks = toks[0::2]
                                vs = toks[1::2]
                                # exactly "i v,i v,...": anything else goes to the careful parser
                                if ",".join(map(" ".join, zip(ks, vs))) != inner:
                                    raise ValueError
                                m = len(ks)
                                idx = list(map(int, ks))
                                if idx[0] < 0 or idx[-1] >= n:
                                    raise ValueError
                                if m > 1 and not all(map(lt, idx, idx[1:])):
                                    raise ValueError
                                if lsplit is not None:
                                    at_end, edge = lsplit
                                    p = bisect_left(idx, edge)
                                    if at_end:
                                        fi, fv, li, lv = idx[:p], vs[:p], idx[p:], vs[p:]
                                    else:
                                        li, lv, fi, fv = idx[:p], vs[:p], idx[p:], vs[p:]
                                    if fshared is not None:
                                        fv = list(map(fshared, fv))
                                        if fcheck and not all_usable(fv):
                                            raise ValueError
                                        x.update(zip(map(name_of, fi), fv))
                                    else:
                                        for c, v in zip(fi, fv):
                                            x[names[c]] = fconv[c](v)
                                    for c, v in zip(li, lv):
                                        y[names[c]] = lmaps[c][v]
                                else:
                                    for c, v in zip(idx, vs):
                                        conv = fconv[c]
                                        if conv is not None:
                                            x[names[c]] = conv(v)
                                        else:
                                            y[names[c]] = lmaps[c][v]
                        else:
                            if "'" in s or '"' in s or "%" in s:
                                raise ValueError
                            vals = s.split(",")
                            if len(vals) != n:
                                raise ValueError
                            if fslice is not None:
                                fv = list(map(fshared, vals[fslice]))
                                if fcheck and not all_usable(fv):
                                    raise ValueError
                                x = dict(zip(fnames, fv))
                            else:
                                x = {nm: cv(vals[c]) for c, nm, cv in fspec}
                            if lslice is not None:
                                y = dict(zip(lnames, map(lget, vals[lslice])))
                            else:
                                y = {nm: lm[vals[c]] for c, nm, lm in lspec}
                    except (ValueError, KeyError, IndexError):
                        try:
                            x, y = slow(s)
                        except _Bad as e:
                            self._skip(StreamFormatError(src, lineno, str(e)))
                            continue
                    yield x, y
            except UnicodeDecodeError as e:
                raise StreamFormatError(src, lineno + 1, f"not UTF-8 text ({e.reason})") from None

    def _convert(self, c: int, raw: str) -> float | str | bool | None:
        """Convert one value of column ``c`` carefully, or raise :class:`_Bad` with the reason."""
        a = self._attrs[c]
        quoted = type(raw) is _Quoted
        where = f"attribute {a.name!r} (index {c})"
        if not quoted:
            if raw == "?":
                if self._is_label[c]:
                    raise _Bad(f"{where}: missing label value '?'")
                return None
            if raw == "":
                raise _Bad(f"{where}: empty value")
        if self._is_label[c]:
            b = self._lmaps[c].get(raw)
            if b is None and a.kind == "numeric":
                f = _finite_float(raw)
                b = None if f not in (0.0, 1.0) else f == 1.0
            if b is None:
                raise _Bad(f"{where}: label value {raw!r} is not 0/1")
            return b
        if a.kind == "numeric":
            try:
                f = float(raw)
            except ValueError:
                raise _Bad(f"{where}: {raw!r} is not a number") from None
            if not usable_number(f):
                raise _Bad(f"{where}: {unusable_reason(f)}")
            return f
        if a.kind == "nominal":
            if raw not in a.values:
                dom = ",".join(a.domain[:8]) + (",..." if len(a.domain) > 8 else "")
                raise _Bad(f"{where}: unknown nominal value {raw!r} (domain {{{dom}}})")
            return a.values[raw]
        return str(raw)

    def _parse_slow(self, s: str) -> tuple[dict, dict]:
        """Parse one data row carefully; raise :class:`_Bad` saying why it is malformed."""
        attrs = self._attrs
        n = self._n
        if s[0] == "{":
            entries = self._sparse_entries(s)
            x: dict = dict(self._xdef)
            y: dict = dict(self._ydef)
            prev = -1
            for c, raw in entries:
                if c <= prev:
                    raise _Bad(f"sparse index {c} is not greater than the previous index {prev}")
                if c >= n:
                    raise _Bad(f"sparse index {c} is out of range (0..{n - 1})")
                prev = c
                v = self._convert(c, raw)
                (y if self._is_label[c] else x)[attrs[c].name] = v
            return x, y
        vals = _split_values(s) if ("'" in s or '"' in s or "%" in s) else s.split(",")
        vals = [v if type(v) is _Quoted else v.strip() for v in vals]
        if len(vals) != n:
            raise _Bad(f"expected {n} values, got {len(vals)}")
        x = {}
        y = {}
        for c, raw in enumerate(vals):
            v = self._convert(c, raw)
            if self._is_label[c]:
                y[attrs[c].name] = v
            else:
                x[attrs[c].name] = v
        return {nm: x[nm] for nm in self.features}, {nm: y[nm] for nm in self.labels}

    @staticmethod
    def _sparse_entries(s: str) -> list[tuple[int, str]]:
        """The ``(index, raw value)`` pairs of a sparse row ``{i v, ...}``."""
        n = len(s)
        i = 1
        out: list[tuple[int, str]] = []
        while True:
            while i < n and s[i] in " \t":
                i += 1
            if i >= n:
                raise _Bad("sparse row not closed with '}'")
            if s[i] == "}":
                if out:
                    raise _Bad("sparse row ends with ',' before '}'")
                break
            tok, i, quoted = _scan_token(s, i, stops=",}")
            if quoted or not tok or not (tok.isdigit() or tok[0] == "-" and tok[1:].isdigit()):
                raise _Bad(f"sparse index {tok!r} is not an integer")
            idx = int(tok)
            if idx < 0:
                raise _Bad(f"sparse index {idx} is negative")
            val, i, quoted = _scan_token(s, i, stops=",}")
            if val is None or (not quoted and val == ""):
                raise _Bad(f"sparse index {idx} has no value")
            out.append((idx, _Quoted(val) if quoted else val))
            while i < n and s[i] in " \t":
                i += 1
            if i >= n:
                raise _Bad("sparse row not closed with '}'")
            if s[i] == ",":
                i += 1
                continue
            if s[i] == "}":
                break
            raise _Bad(f"unexpected {s[i]!r} at column {i + 1} of a sparse row")
        tail = s[i + 1 :].strip()
        if tail and tail[0] != "%":
            raise _Bad(f"unexpected text after '}}': {tail[:30]!r}")
        return out


def _plain_string(v: str) -> str:
    v = v.strip()
    if v == "?" or v == "":
        raise ValueError(v)
    return v
