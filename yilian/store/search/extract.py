"""Index rows of a resource, from the R4 search parameters compiled once per type into closures.

Compiling: each parameter's FHIRPath (already restricted to its base by params.py) is parsed by a small
parser for the subset the R4 definitions use, then typed against the StructureDefinitions so that choice
elements become their concrete JSON keys (`Observation.effective` -> effectiveDateTime, effectivePeriod, ...)
and the value handler is chosen up front from (parameter type, element type): no FHIRPath is interpreted
and no value shape is guessed per resource.  A type's plan maps each top-level JSON key to the closures
that read it, so `extract` only touches the keys a resource actually has.

Supported: dotted paths through arrays, unions, `as T` / `.as(T)` / `.ofType(T)`, `[n]`,
`.where(field='literal')`, `.where(resolve() is T)`, and boolean expressions built from `.exists()`,
`.empty()`, `!=`, `=` and `and`, indexed as "true"/"false" tokens.  Not indexed, by design: composite and
special parameters (the store does not search them yet); anything else that does not compile is logged at
debug level and skipped, see `unsupported`.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from yilian import spec
from yilian.store.search.dates import MAX_TIME, MIN_TIME, date_range
from yilian.store.search.derived import covered_params
from yilian.store.search.normalize import normalize_string
from yilian.store.search.params import COMMON_PARAMS, patient_compartment_params, search_params

log = logging.getLogger(__name__)

INDEXED_TYPES = frozenset({"string", "token", "date", "reference", "quantity", "number", "uri"})


@dataclass(slots=True)
class IndexRows:
    strings: list[tuple[str, str]]  # (code, normalised value)
    tokens: list[tuple[str, str | None, str]]  # (code, system, code/value)
    dates: list[tuple[str, float, float]]  # (code, low, high) in POSIX seconds
    references: list[tuple[str, str, str]]  # (code, target type, target id)
    quantities: list[tuple[str, float, str | None, str | None]]  # (code, value, system, code or unit)
    numbers: list[tuple[str, float]]
    uris: list[tuple[str, str]]
    # `_tag` and `_security` token rows (from meta), apart from `tokens` until `extract` is done with them:
    # the store answers most of them from the resource's columns (derived.column_labels) and looks at
    # these few rows only, not at every token row.
    labels: list[tuple[str, str | None, str]]


Handler = Callable[[Any, IndexRows], None]  # (a JSON value, possibly a list; the rows to append to)


@dataclass(frozen=True, slots=True)
class _Plan:
    by_key: dict[str, tuple[Handler, ...]]  # top-level JSON key -> handlers of its value
    always: tuple[Handler, ...]  # handlers of the whole resource (boolean expressions)
    unsupported: dict[str, str]  # code -> why it is not indexed


def extract(resource: dict, *, labels_apart: bool = False) -> IndexRows:
    """The index rows of one resource (contained and urn:uuid references must be resolved before). The
    `_tag` and `_security` rows are among the tokens, or in `labels` when `labels_apart`."""
    rows = IndexRows([], [], [], [], [], [], [], [])
    plan = _plan_of(resource.get("resourceType"))
    by_key = plan.by_key
    for key, value in resource.items():
        handlers = by_key.get(key)
        if handlers is not None:
            for handler in handlers:
                handler(value, rows)
    for handler in plan.always:
        handler(resource, rows)
    if not labels_apart and rows.labels:
        rows.tokens += rows.labels
        rows.labels = []
    return rows


def compartment_patients(resource: dict, rows: IndexRows) -> set[str]:
    """Ids of the Patients whose compartment holds this resource; a Patient is in its own."""
    rtype = resource.get("resourceType")
    if rtype == "Patient":
        rid = resource.get("id")
        return {rid} if isinstance(rid, str) and rid else set()
    codes = _compartment_codes(rtype) if type(rtype) is str else None
    if not codes:
        return set()
    return {tid for code, ttype, tid in rows.references if ttype == "Patient" and code in codes}


def prepare() -> None:
    """Build the element table every type's extractors are compiled from (extractors themselves compile
    per type on first use): a process about to fork workers calls it so that they share it."""
    _elements()


def unsupported(resource_type: str) -> dict[str, str]:
    """code -> reason for the parameters of a type that extraction skips (composite, special, ...)."""
    return dict(_plan_of(resource_type).unsupported)


@functools.lru_cache(maxsize=512)  # bounded: the type comes from the resource
def _compartment_codes(rtype: str) -> frozenset[str]:
    """The parameters that put a resource in a Patient's compartment, and those covering them: a
    `subject` row to a Patient is not made, the `patient` row is (derived.py)."""
    codes = patient_compartment_params(rtype)
    covered = covered_params(rtype)
    return frozenset((*codes, *(k for c in codes for k in covered.get(c, ()))))


_plans: dict[str, _Plan] = {}


def _plan_of(rtype: Any) -> _Plan:
    if type(rtype) is not str:
        return _EMPTY_PLAN
    plan = _plans.get(rtype)
    if plan is None:
        if not search_params(rtype):
            return _EMPTY_PLAN  # not cached: unknown types come from clients
        plan = _plans[rtype] = _compile_type(rtype)
    return plan


_EMPTY_PLAN = _Plan({}, (), {})


# --- values: parsing references and dates --------------------------------------------------------


def parse_reference(ref: str) -> tuple[str, str] | None:
    """(type, id) of a literal reference; None for contained (#), urn: and unparseable ones."""
    head, sep, tail = ref.partition("/")
    if sep and "/" not in tail:  # the usual "Patient/123"
        if head and tail and "A" <= head[0] <= "Z" and len(tail) <= 64:
            return head, tail
        return None
    if not sep or ref[0] == "#" or ref.startswith("urn:"):
        return None
    parts = ref.rstrip("/").split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) < 2 or not parts[-2] or not parts[-1] or len(parts[-1]) > 64:
        return None
    ttype = parts[-2]
    return (ttype, parts[-1]) if "A" <= ttype[0] <= "Z" and len(ttype) <= 64 else None


# --- leaf handlers: one JSON value (never a list) of a known FHIR type -> rows ----------------------


def _string_leaf(codes: tuple[str, ...]) -> Handler:
    def leaf(v: Any, rows: IndexRows) -> None:
        if type(v) is str and v:
            n = normalize_string(v)
            if n:
                for c in codes:
                    rows.strings.append((c, n))

    return leaf


_HUMAN_NAME = (("family", False), ("given", True), ("prefix", True), ("suffix", True), ("text", False))
_ADDRESS = (
    ("line", True),
    ("city", False),
    ("district", False),
    ("state", False),
    ("postalCode", False),
    ("country", False),
    ("text", False),
)


def _parts_leaf(codes: tuple[str, ...], fields: tuple[tuple[str, bool], ...]) -> Handler:
    """Each string part of a HumanName or an Address, as separate strings."""

    def leaf(v: Any, rows: IndexRows) -> None:
        if type(v) is not dict:
            return
        add = rows.strings.append
        for name, many in fields:
            x = v.get(name)
            if x is None:
                continue
            for s in x if many and type(x) is list else (x,):
                if type(s) is str and s:
                    n = normalize_string(s)
                    if n:
                        for c in codes:
                            add((c, n))

    return leaf


def _coding_leaf(codes: tuple[str, ...]) -> Handler:
    text_codes = tuple(c + ":text" for c in codes)

    def leaf(v: Any, rows: IndexRows) -> None:
        if type(v) is dict:
            _add_coding(v, codes, text_codes, rows)

    return leaf


# Repeated values as one object: code systems, codes and referenced ids recur across a Bundle's resources,
# and a plan sent from a loader worker pickles a shared string once, then a memo reference (Synthea plans,
# 3 alternated pairs: 8% smaller, pickled 20% and unpickled 7% faster). Bounded: the values are the data's.
_shared: Callable[[str], str] = functools.lru_cache(maxsize=16384)(lambda value: value)
_shared_reference = functools.lru_cache(maxsize=16384)(parse_reference)


def _add_coding(cd: dict, codes: tuple[str, ...], text_codes: tuple[str, ...], rows: IndexRows) -> Any:
    """Token (system, code) and the display as text; returns the display so a concept can skip repeats."""
    val = cd.get("code")
    if type(val) is str and val:
        system = cd.get("system")
        if type(system) is str:
            system = _shared(system)
        val = _shared(val)
        for c in codes:
            rows.tokens.append((c, system, val))
    display = cd.get("display")
    if type(display) is str and display:
        n = normalize_string(display)
        for c in text_codes:
            rows.strings.append((c, n))
    return display


def _concept_leaf(codes: tuple[str, ...]) -> Handler:
    text_codes = tuple(c + ":text" for c in codes)

    def leaf(v: Any, rows: IndexRows) -> None:
        if type(v) is not dict:
            return
        coding, text, display = v.get("coding"), v.get("text"), None
        if type(coding) is list:
            for cd in coding:
                if type(cd) is dict:
                    display = _add_coding(cd, codes, text_codes, rows)
        if type(text) is str and text and text != display:  # Synthea repeats the display as text
            n = normalize_string(text)
            for c in text_codes:
                rows.strings.append((c, n))

    return leaf


def _identifier_leaf(codes: tuple[str, ...]) -> Handler:
    def leaf(v: Any, rows: IndexRows) -> None:
        if type(v) is dict:
            val = v.get("value")
            if type(val) is str and val:
                system = v.get("system")
                for c in codes:
                    rows.tokens.append((c, system, val))

    return leaf


def _contact_leaf(codes: tuple[str, ...]) -> Handler:
    """ContactPoint: the value only, its system (phone, email...) is what phone/email already select."""

    def leaf(v: Any, rows: IndexRows) -> None:
        if type(v) is dict:
            val = v.get("value")
            if type(val) is str and val:
                for c in codes:
                    rows.tokens.append((c, None, val))

    return leaf


def _primitive_token_leaf(codes: tuple[str, ...]) -> Handler:
    def leaf(v: Any, rows: IndexRows) -> None:
        if type(v) is str:
            val = v
        elif type(v) is bool:
            val = "true" if v else "false"
        elif type(v) is int:
            val = str(v)
        else:
            return
        if val:
            for c in codes:
                rows.tokens.append((c, None, val))

    return leaf


# A Bundle's resources repeat dates (an encounter's times in each of its observations): remember short ones.
_remembered_range = functools.lru_cache(maxsize=16384)(date_range)


def _range(v: str) -> tuple[float, float] | None:
    return _remembered_range(v) if len(v) <= 40 else date_range(v)


def _date_leaf(codes: tuple[str, ...]) -> Handler:
    def leaf(v: Any, rows: IndexRows) -> None:
        if type(v) is str:
            rng = _range(v)
            if rng is not None:
                for c in codes:
                    rows.dates.append((c, rng[0], rng[1]))

    return leaf


def _period_leaf(codes: tuple[str, ...]) -> Handler:
    """A Period covers start..end; an open side extends to the edge of time."""

    def leaf(v: Any, rows: IndexRows) -> None:
        if type(v) is not dict:
            return
        start, end = v.get("start"), v.get("end")
        low = _range(start) if type(start) is str else None
        high = _range(end) if type(end) is str else None
        if low is None and high is None:
            return
        lo = low[0] if low is not None else MIN_TIME
        hi = high[1] if high is not None else MAX_TIME
        for c in codes:
            rows.dates.append((c, lo, hi))

    return leaf


def _timing_leaf(codes: tuple[str, ...]) -> Handler:
    date = _date_leaf(codes)

    def leaf(v: Any, rows: IndexRows) -> None:
        events = v.get("event") if type(v) is dict else None
        if type(events) is list:
            for e in events:
                date(e, rows)

    return leaf


def _reference_leaf(
    codes: tuple[str, ...], only: str | None = None, covered: tuple[str, tuple[str, ...]] | None = None
) -> Handler:
    """Literal references; `only` keeps those to one type (`.where(resolve() is Patient)`). `covered`,
    (type, codes): to that type, only those codes get a row, the others' rows being a covering
    parameter's (`subject` to a Patient is `patient`, derived.py), which the store would leave out."""
    covered_type, codes_for_covered = covered if covered is not None else (None, codes)

    def leaf(v: Any, rows: IndexRows) -> None:
        ref = v.get("reference") if type(v) is dict else None
        if type(ref) is str and ref:
            target = _shared_reference(ref)
            if target is not None and (only is None or target[0] == only):
                for c in codes_for_covered if target[0] == covered_type else codes:
                    rows.references.append((c, target[0], target[1]))

    return leaf


def _resource_leaf(codes: tuple[str, ...], only: str | None = None) -> Handler:
    """A nested resource (Bundle.entry[0].resource) referenced by its own type and id."""

    def leaf(v: Any, rows: IndexRows) -> None:
        if type(v) is dict:
            rtype, rid = v.get("resourceType"), v.get("id")
            if type(rtype) is str and type(rid) is str and rid and (only is None or rtype == only):
                for c in codes:
                    rows.references.append((c, rtype, rid))

    return leaf


def _quantity_leaf(codes: tuple[str, ...]) -> Handler:
    def leaf(v: Any, rows: IndexRows) -> None:
        if type(v) is dict:
            val = v.get("value")
            if type(val) is int or type(val) is float:
                system, unit = v.get("system"), v.get("code") or v.get("unit")
                for c in codes:
                    rows.quantities.append((c, float(val), system, unit))

    return leaf


def _money_leaf(codes: tuple[str, ...]) -> Handler:
    def leaf(v: Any, rows: IndexRows) -> None:
        if type(v) is dict:
            val = v.get("value")
            if type(val) is int or type(val) is float:
                for c in codes:
                    rows.quantities.append((c, float(val), None, v.get("currency")))

    return leaf


def _range_leaf(codes: tuple[str, ...]) -> Handler:
    """A Range as its two bounds: an approximation until quantity rows carry ranges."""
    bound = _quantity_leaf(codes)

    def leaf(v: Any, rows: IndexRows) -> None:
        if type(v) is dict:
            for side in ("low", "high"):
                if side in v:
                    bound(v[side], rows)

    return leaf


def _number_leaf(codes: tuple[str, ...]) -> Handler:
    def leaf(v: Any, rows: IndexRows) -> None:
        if type(v) is int or type(v) is float:
            for c in codes:
                rows.numbers.append((c, float(v)))

    return leaf


def _uri_leaf(codes: tuple[str, ...]) -> Handler:
    def leaf(v: Any, rows: IndexRows) -> None:
        if type(v) is str and v:
            for c in codes:
                rows.uris.append((c, v))

    return leaf


_STRINGY = ("string", "markdown", "code", "id", "uri", "url", "canonical", "oid", "uuid")
_QUANTITIES = ("Quantity", "SimpleQuantity", "MoneyQuantity", "Age", "Duration", "Distance", "Count")
_NUMBERS = ("decimal", "integer", "positiveInt", "unsignedInt")
_URIS = ("uri", "url", "canonical", "oid", "uuid")


def _leaf_factory(ptype: str, ftype: str) -> Callable[..., Handler] | None:
    """The leaf for a parameter type on an element type, or None when the pair makes no index row."""
    if ptype == "string":
        if ftype in _STRINGY:
            return _string_leaf
        if ftype == "HumanName":
            return lambda codes: _parts_leaf(codes, _HUMAN_NAME)
        if ftype == "Address":
            return lambda codes: _parts_leaf(codes, _ADDRESS)
        return None
    if ptype == "token":
        return _TOKEN_LEAVES.get(ftype) or (_primitive_token_leaf if ftype in _STRINGY else None)
    return _OTHER_LEAVES.get((ptype, ftype))


# Pairs the definitions name that make no row on purpose: SampledData is a series of numbers, not a
# quantity (value-quantity lists it next to Quantity).
_NO_ROWS = frozenset({("quantity", "SampledData")})
_TOKEN_LEAVES = {
    "CodeableConcept": _concept_leaf,
    "Coding": _coding_leaf,
    "Identifier": _identifier_leaf,
    "ContactPoint": _contact_leaf,
    "boolean": _primitive_token_leaf,
}
_OTHER_LEAVES: dict[tuple[str, str], Callable[..., Handler]] = {
    **{("date", t): _date_leaf for t in ("date", "dateTime", "instant")},
    ("date", "Period"): _period_leaf,
    ("date", "Timing"): _timing_leaf,
    ("reference", "Reference"): _reference_leaf,
    ("reference", "Resource"): _resource_leaf,
    **{("reference", t): _uri_leaf for t in _URIS},  # canonical references are searched as uris
    **{("quantity", t): _quantity_leaf for t in _QUANTITIES},
    ("quantity", "Money"): _money_leaf,
    ("quantity", "Range"): _range_leaf,
    **{("number", t): _number_leaf for t in _NUMBERS},
    **{("uri", t): _uri_leaf for t in _URIS},
}


# --- path steps: wrap a handler of child values into a handler of parent values ------------------


def _each(leaf: Handler) -> Handler:
    """Apply an item handler to a value or to each item of a list (FHIRPath flattens collections)."""

    def each(v: Any, rows: IndexRows) -> None:
        if type(v) is list:
            for x in v:
                leaf(x, rows)
        else:
            leaf(v, rows)

    return each


def _field(key: str, inner: Handler) -> Handler:
    def field(v: Any, rows: IndexRows) -> None:
        if type(v) is list:
            for x in v:
                if type(x) is dict:
                    y = x.get(key)
                    if y is not None:
                        inner(y, rows)
        elif type(v) is dict:
            y = v.get(key)
            if y is not None:
                inner(y, rows)

    return field


def _where(key: str, literal: Any, inner: Handler) -> Handler:
    def where(v: Any, rows: IndexRows) -> None:
        for x in v if type(v) is list else (v,):
            if type(x) is dict and x.get(key) == literal:
                inner(x, rows)

    return where


def _index(n: int, inner: Handler) -> Handler:
    """`[n]` on an element directly under the resource: its list is the whole collection."""

    def index(v: Any, rows: IndexRows) -> None:
        if type(v) is list:
            if len(v) > n:
                inner(v[n], rows)
        elif n == 0:
            inner(v, rows)

    return index


# --- the FHIRPath subset: tokens and a precedence-climbing parser into tuples ----------------------


class Unsupported(Exception):
    """An expression outside the compiled subset."""


_TOKEN = re.compile(r"\s*(?:('(?:[^'\\]|\\.)*')|(\d+)|([A-Za-z_][A-Za-z0-9_]*)|(!=|[().\[\]|=,]))")


def _tokenize(text: str) -> list[tuple[str, Any]]:
    tokens, pos, text = [], 0, text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise Unsupported(f"cannot read {text[pos:]!r}")
        pos = m.end()
        s, n, ident, op = m.groups()
        if s is not None:
            tokens.append(("lit", s[1:-1].replace("\\'", "'")))
        elif n is not None:
            tokens.append(("lit", int(n)))
        elif ident is not None:
            tokens.append(("id", ident))
        else:
            tokens.append(("op", op))
    return tokens


class _Parser:
    """expr: and > (= | !=) > | > (as | is) > postfix (.name, .f(args), [n]) > primary."""

    def __init__(self, text: str) -> None:
        self.tokens, self.pos = _tokenize(text), 0

    def parse(self) -> tuple:
        node = self.and_expr()
        if self.pos != len(self.tokens):
            raise Unsupported(f"unexpected {self.tokens[self.pos][1]!r}")
        return node

    def peek(self, kind: str, *values: Any) -> bool:
        if self.pos >= len(self.tokens):
            return False
        k, v = self.tokens[self.pos]
        return k == kind and (not values or v in values)

    def take(self, kind: str, *values: Any) -> Any:
        if not self.peek(kind, *values):
            got = self.tokens[self.pos][1] if self.pos < len(self.tokens) else "end"
            raise Unsupported(f"expected {values or kind}, got {got!r}")
        self.pos += 1
        return self.tokens[self.pos - 1][1]

    def and_expr(self) -> tuple:
        node = self.eq_expr()
        while self.peek("id", "and"):
            self.pos += 1
            node = ("and", node, self.eq_expr())
        return node

    def eq_expr(self) -> tuple:
        node = self.union_expr()
        if self.peek("op", "=", "!="):
            op = "eq" if self.take("op") == "=" else "ne"
            node = (op, node, self.union_expr())
        return node

    def union_expr(self) -> tuple:
        nodes = [self.type_expr()]
        while self.peek("op", "|"):
            self.pos += 1
            nodes.append(self.type_expr())
        return nodes[0] if len(nodes) == 1 else ("union", tuple(nodes))

    def type_expr(self) -> tuple:
        node = self.postfix()
        if self.peek("id", "as", "is"):
            node = (self.take("id"), node, self.take("id"))
        return node

    def postfix(self) -> tuple:
        node = self.primary()
        while True:
            if self.peek("op", "."):
                self.pos += 1
                name = self.take("id")
                node = ("call", node, name, self.args()) if self.peek("op", "(") else ("path", node, name)
            elif self.peek("op", "["):
                self.pos += 1
                node = ("index", node, self.take("lit"))
                self.take("op", "]")
            else:
                return node

    def args(self) -> tuple:
        self.take("op", "(")
        out = []
        while not self.peek("op", ")"):
            out.append(self.and_expr())
            if self.peek("op", ","):
                self.pos += 1
        self.take("op", ")")
        return tuple(out)

    def primary(self) -> tuple:
        if self.peek("op", "("):
            self.pos += 1
            node = self.and_expr()
            self.take("op", ")")
            return node
        if self.peek("lit"):
            return ("lit", self.take("lit"))
        name = self.take("id")
        if name in ("true", "false"):
            return ("lit", name == "true")
        return ("call", None, name, self.args()) if self.peek("op", "(") else ("name", name)


def parse_fhirpath(text: str) -> tuple:
    """The syntax tree of an expression of the supported subset; Unsupported otherwise."""
    return _Parser(text).parse()


# --- typing paths against the StructureDefinitions ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Route:
    """One concrete JSON path: steps from the resource root, the element type, its children's table."""

    steps: tuple[tuple, ...]  # ("field", key) | ("index", n) | ("where", key, literal) | ("resolve", type)
    ftype: str
    ctx: str
    choice: bool = False  # an unnarrowed choice expansion: types without a leaf are dropped silently


@spec.built_once
def _elements() -> dict[str, dict[str, tuple[tuple[str, str, str], ...]]]:
    """table -> element name -> ((JSON key, type code, table of its children), ...).

    A table is a type name or a BackboneElement path; a choice element has one entry per type.
    """
    out: dict[str, dict[str, tuple[tuple[str, str, str], ...]]] = {}
    for sd in spec.load("profiles-types.json.gz") + spec.load("profiles-resources.json.gz"):
        if sd["resourceType"] == "StructureDefinition" and sd["kind"] != "primitive-type":
            _add_elements(sd["snapshot"]["element"], out)
    return out


def _add_elements(elements: list[dict], out: dict) -> None:
    parents = {el["path"].rpartition(".")[0] for el in elements[1:]}
    for el in elements[1:]:
        parent, _, name = el["path"].rpartition(".")
        codes = [_type_code(t) for t in el.get("type", ())]
        if name.endswith("[x]"):
            base = name[:-3]
            entries = tuple((base + c[0].upper() + c[1:], c, c) for c in codes)
            out.setdefault(parent, {})[base] = entries
        elif "contentReference" in el:
            out.setdefault(parent, {})[name] = ((name, "BackboneElement", el["contentReference"][1:]),)
        else:
            code = codes[0] if codes else "Element"
            child = el["path"] if el["path"] in parents else code
            out.setdefault(parent, {})[name] = ((name, code, child),)


def _type_code(t: dict) -> str:
    code = t["code"]
    if code.startswith("http://hl7.org/fhirpath/System."):
        return "string"  # ids and Extension.url: strings for every purpose here
    return code


def _routes(node: tuple, rtype: str) -> list[_Route]:
    kind = node[0]
    if kind == "name":
        if node[1] == rtype:
            return [_Route((), rtype, rtype)]
        return _member(_Route((), rtype, rtype), node[1])  # relative to the resource
    if kind == "path":
        return [r for base in _routes(node[1], rtype) for r in _member(base, node[2])]
    if kind == "union":
        return [r for part in node[1] for r in _routes(part, rtype)]
    if kind == "as":
        return _narrow(_routes(node[1], rtype), node[2])
    if kind == "index":
        return [_indexed(r, node[2]) for r in _routes(node[1], rtype)]
    if kind == "call" and node[1] is not None:
        return _call(_routes(node[1], rtype), node[2], node[3])
    raise Unsupported(f"{kind} {node[1:]!r} is not a path")


def _member(route: _Route, name: str) -> list[_Route]:
    entries = _elements().get(route.ctx, {}).get(name)
    if entries is None:
        raise Unsupported(f"{route.ctx} has no element {name!r}")
    choice = len(entries) > 1
    return [_Route((*route.steps, ("field", key)), code, ctx, choice) for key, code, ctx in entries]


def _narrow(routes: list[_Route], type_name: str) -> list[_Route]:
    """`as T`: the choice keys of type T (Quantity also admits its profiles Age, Duration...)."""
    wanted = _QUANTITIES if type_name == "Quantity" else (type_name,)
    kept = [_Route(r.steps, r.ftype, r.ctx) for r in routes if r.ftype in wanted]
    if not kept:
        raise Unsupported(f"no element of type {type_name}")
    return kept


def _indexed(route: _Route, n: Any) -> _Route:
    if len(route.steps) != 1 or type(n) is not int:
        raise Unsupported("an index is only compiled on an element directly under the resource")
    return _Route((*route.steps, ("index", n)), route.ftype, route.ctx, route.choice)


def _call(routes: list[_Route], name: str, args: tuple) -> list[_Route]:
    if name in ("as", "ofType") and len(args) == 1 and args[0][0] == "name":
        return _narrow(routes, args[0][1])
    if name == "where" and len(args) == 1:
        return [_filtered(r, args[0]) for r in routes]
    raise Unsupported(f"function {name}()")


_RESOLVE = ("call", None, "resolve", ())


def _filtered(route: _Route, cond: tuple) -> _Route:
    if cond[0] == "eq" and cond[1][0] == "name" and cond[2][0] == "lit":
        if cond[1][1] not in _elements().get(route.ctx, {}):
            raise Unsupported(f"{route.ctx} has no element {cond[1][1]!r}")
        step = ("where", cond[1][1], cond[2][1])
    elif cond[0] == "is" and cond[1] == _RESOLVE and route.ftype in ("Reference", "Resource"):
        step = ("resolve", cond[2])
    else:
        raise Unsupported(f"where{cond!r}")
    return _Route((*route.steps, step), route.ftype, route.ctx, route.choice)


# --- compiling a type's parameters into its plan -------------------------------------------------


def _compile_type(rtype: str) -> _Plan:
    groups: dict[tuple, list[str]] = {}  # (steps, ptype, ftype) -> codes sharing one handler
    always: list[Handler] = []
    skipped: dict[str, str] = {}
    for code, param in search_params(rtype).items():
        if code in COMMON_PARAMS:
            continue  # read from meta by _meta_handler
        reason = _compile_param(param.type, code, param.expression, rtype, groups, always)
        if reason:
            skipped[code] = reason
            if param.type in INDEXED_TYPES:
                log.debug("search parameter %s.%s not indexed: %s", rtype, code, reason)
    covered = covered_params(rtype)
    by_key: dict[str, list[Handler]] = {"meta": [_meta_handler]}
    for (steps, ptype, ftype), codes in groups.items():
        # A covered parameter's rows from the route its covering parameter shares are the covering
        # parameter's rows again, which the store leaves out (derived.py): not made at all.
        codes = [c for c in codes if not any(k in codes for k in covered.get(c, ()))]
        # A covered parameter's rows to the type a covering `.where(resolve() is T)` route takes, likewise.
        by_type = _covered_targets(groups, steps, codes, covered) if ftype == "Reference" else None
        key, handler = _build(steps, ptype, ftype, tuple(codes), by_type)
        by_key.setdefault(key, []).append(handler)
    return _Plan({k: tuple(v) for k, v in by_key.items()}, tuple(always), skipped)


def _compile_param(
    ptype: str, code: str, expression: str, rtype: str, groups: dict, always: list
) -> str | None:
    """Add a parameter's handlers; the reason it is skipped, or None."""
    if ptype not in INDEXED_TYPES:
        return f"{ptype} parameters are not indexed"
    if not expression:
        return "no expression for this type"
    try:
        node = parse_fhirpath(expression)
        if ptype == "token" and _is_boolean(node):
            always.append(_predicate_handler(code, _predicate(node, rtype)))
            return None
        routes = _routes(node, rtype)
        return _group_routes(routes, ptype, code, groups)
    except Unsupported as exc:
        return str(exc)


def _group_routes(routes: list[_Route], ptype: str, code: str, groups: dict) -> str | None:
    found = []
    for r in routes:
        ftype = r.ftype
        if r.steps and r.steps[-1][0] == "resolve" and ftype not in ("Reference", "Resource"):
            return f"resolve() on {ftype}"
        if _leaf_factory(ptype, ftype) is None:
            if r.choice or (ptype, ftype) in _NO_ROWS:
                continue  # e.g. the Age and Range forms of Condition.onset for a date parameter
            return f"no {ptype} value in a {ftype}"
        if not r.steps or r.steps[0][0] != "field":
            return "the expression is the resource itself"
        found.append((r.steps, ptype, ftype))
    if not found:
        return f"no element gives a {ptype} value"
    for key in found:
        groups.setdefault(key, [])
        if code not in groups[key]:
            groups[key].append(code)
    return None


def _covered_targets(
    groups: dict, steps: tuple, codes: list[str], covered: dict[str, tuple[str, ...]]
) -> tuple[str, tuple[str, ...]] | None:
    """For a reference path, (type, codes) when a covering parameter takes the same path's references to
    that type (`X.subject.where(resolve() is Patient)`): the codes it covers leave those out."""
    for (other_steps, ptype, _ftype), other_codes in groups.items():
        if ptype == "reference" and other_steps[:-1] == steps and other_steps[-1][0] == "resolve":
            kept = tuple(c for c in codes if not any(k in other_codes for k in covered.get(c, ())))
            if len(kept) < len(codes):
                return other_steps[-1][1], kept
    return None


def _build(
    steps: tuple, ptype: str, ftype: str, codes: tuple[str, ...], covered: tuple | None = None
) -> tuple[str, Handler]:
    """The top-level key and the handler of its value for one compiled path (`covered`: see
    _reference_leaf; only reference paths have it)."""
    only = None
    if steps[-1][0] == "resolve":
        only, steps = steps[-1][1], steps[:-1]
    factory = _leaf_factory(ptype, ftype)
    if covered is not None:
        leaf = factory(codes, only, covered)  # type: ignore[call-arg]
    else:
        leaf = factory(codes, only) if only is not None else factory(codes)  # type: ignore[misc]
    handler = _each(leaf)
    for step in reversed(steps[1:]):
        if step[0] == "field":
            handler = _field(step[1], handler)
        elif step[0] == "where":
            handler = _where(step[1], step[2], handler)
        else:
            handler = _index(step[1], handler)
    return steps[0][1], handler


# --- boolean expressions (Patient.deceased.exists() and Patient.deceased != false) ----------------

Predicate = Callable[[dict], "bool | None"]  # three-valued: None is FHIRPath's empty result


def _is_boolean(node: tuple) -> bool:
    return node[0] in ("and", "eq", "ne") or (node[0] == "call" and node[2] in ("exists", "empty"))


def _predicate(node: tuple, rtype: str) -> Predicate:
    kind = node[0]
    if kind == "and":
        left, right = _predicate(node[1], rtype), _predicate(node[2], rtype)
        return lambda r: _and(left(r), right(r))
    if kind == "call" and node[2] in ("exists", "empty") and not node[3]:
        values = _collector(node[1], rtype)
        if node[2] == "exists":
            return lambda r: bool(values(r))
        return lambda r: not values(r)
    if kind in ("eq", "ne") and node[2][0] == "lit":
        values, literal, equal = _collector(node[1], rtype), node[2][1], kind == "eq"
        return lambda r: _compare(values(r), literal, equal)
    raise Unsupported(f"boolean {kind}")


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _compare(values: list, literal: Any, equal: bool) -> bool | None:
    """FHIRPath `=`/`!=` of a collection and a literal: empty stays empty; another type is unequal."""
    if not values:
        return None
    same = len(values) == 1 and type(values[0]) is type(literal) and values[0] == literal
    return same if equal else not same


def _collector(node: tuple, rtype: str) -> Callable[[dict], list]:
    """The values a path reaches in a resource, for predicates (rare, so not tuned)."""
    routes = [r for r in _routes(node, rtype) if r.steps and r.steps[0][0] == "field"]
    if not routes:
        raise Unsupported("no element to test")
    handlers = [_build_collect(r.steps) for r in routes]

    def collect(resource: dict) -> list:
        out: list = []
        for key, handler in handlers:
            if key in resource:
                handler(resource[key], out)
        return out

    return collect


def _build_collect(steps: tuple) -> tuple[str, Handler]:
    handler: Handler = _each(lambda v, out: out.append(v))  # type: ignore[arg-type, return-value]
    for step in reversed(steps[1:]):
        if step[0] == "field":
            handler = _field(step[1], handler)
        elif step[0] == "where":
            handler = _where(step[1], step[2], handler)
        else:
            raise Unsupported(f"{step[0]} in a boolean expression")
    return steps[0][1], handler


def _predicate_handler(code: str, predicate: Predicate) -> Handler:
    def handler(resource: dict, rows: IndexRows) -> None:
        result = predicate(resource)
        if result is not None:
            rows.tokens.append((code, None, "true" if result else "false"))

    return handler


# --- meta: the common parameters every resource has ----------------------------------------------


def _meta_handler(meta: Any, rows: IndexRows) -> None:
    if type(meta) is not dict:
        return
    tokens = rows.labels
    for key, code in (("tag", "_tag"), ("security", "_security")):
        codings = meta.get(key)
        if type(codings) is list:
            for cd in codings:
                value = cd.get("code") if type(cd) is dict else None
                if type(value) is str:
                    tokens.append((code, cd.get("system"), value))
    profiles = meta.get("profile")
    if type(profiles) is list:
        for p in profiles:
            if type(p) is str and p:
                rows.uris.append(("_profile", p))
    source = meta.get("source")
    if type(source) is str and source:
        rows.uris.append(("_source", source))
