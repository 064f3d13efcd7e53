"""Fast structural validation of FHIR R4 (4.0.1) JSON resources.

The official StructureDefinitions shipped in ``yilian/spec`` are compiled once, on first use, into
plain dicts: one *table* per datatype, resource and BackboneElement path, mapping each allowed JSON
key to a small tuple that says what the value must look like.  Validation is then a tight walk over
the JSON with dict lookups, so a typical resource costs microseconds rather than milliseconds.

Checked: known ``resourceType``; unknown elements; array versus single value (cardinality shape);
required elements (min >= 1) of every object present; choice types (``value[x]`` suffixes, at most
one per choice); primitive values (JSON type and the spec's regex, real calendar dates); nested
datatypes, BackboneElements, ``contentReference`` recursion, and resources nested in ``contained``,
``Bundle.entry.resource`` or ``Parameters.parameter.resource``.

Not checked, by design: invariants (FHIRPath constraints), terminology bindings, profiles.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import orjson

from yilian import spec


@dataclass(frozen=True)
class Issue:
    """One structural problem, ready to become an OperationOutcome issue."""

    path: str  # FHIRPath-like location, e.g. "Patient.name[0].given[1]"
    message: str  # English, readable
    code: str = "structure"  # OperationOutcome issue-type: structure, required, value, invalid


# A reference met while validating: (the object holding it, the checker of its element). The checker is
# None when the object holds JSON objects or arrays under a key the validator skips (fhir_comments): only
# a full walk would find references there.
MetReference = tuple[dict, Callable[[str], bool] | None]


def validate(resource: dict, references: list[MetReference] | None = None) -> list[Issue]:
    """Return the structural issues of one resource; an empty list when it is valid.

    When `references` is a list, the walk also appends each valid `reference` string it meets outside
    contained resources: a transaction resolves its Bundle-local ones ("urn:..." or conditional, with
    "?") and learns what each resource refers to without walking the resource again."""
    try:
        found = _resource_issues(resource, _compiled().resources, references)
    except RecursionError:  # hostile nesting (Reference.identifier.assigner...); JSON itself allows it
        return [Issue("", "the resource is nested too deeply to validate", INVALID)]
    if not found:
        return []
    root = resource.get("resourceType") if type(resource) is dict else None
    if type(root) is not str or root not in _compiled().resources:
        root = ""  # the issue is the resourceType itself; there is no type to start the path with
    return [Issue(_join(root, rel), msg, code) for rel, msg, code in found]


def is_known_resource_type(name: str) -> bool:
    """True for the concrete (non-abstract) R4 resource types, e.g. "Patient"."""
    return name in _compiled().resources


def resource_types() -> frozenset[str]:
    """The concrete R4 resource type names."""
    return _compiled().names


# --- the walk ----------------------------------------------------------------------------------
#
# A table is (specs, required, is_resource).  specs maps a JSON key to
# (mode, kind, arg, many, group, tname), mode being how _walk takes it (see F_CODE below), and
#   kind  K_OBJ: a complex value, arg is the child table
#         K_TEXT: a free-text string primitive (string, markdown, xhtml): any non-empty string up to 1 MB
#         K_CODE: a string primitive with a pattern (code, uri, dateTime...): arg[value] says whether it
#                 is valid, remembered (a dict; _Remembered), as codes and dates repeat
#         K_STR: another primitive carried as a JSON string (base64Binary), arg(value) is truthy when valid
#         K_PRIM: another primitive (boolean, numbers), arg(value) is truthy when valid
#         K_ELEM: the "_name" sibling of a primitive (id/extension), arg is the Element table
#         K_RES: a nested resource (contained, Bundle.entry.resource, ...)
#         For every string kind, arg(value) also says whether a value is valid.
#   many  True when the element is an array (max > 1)
#   group the choice element name ("value[x]") so two choices of one element are caught
#   tname the FHIR type name, for messages
# required is a tuple of (element name, JSON keys any of which satisfies it).
# Issues travel upwards as (relative path, message, code) tuples; each level prefixes its key only
# when something went wrong, so valid input never pays for building paths.  `refs`, when not None,
# collects the references (see validate).

K_OBJ, K_STR, K_PRIM, K_ELEM, K_RES, K_TEXT, K_CODE = range(7)
STRING_KINDS = (K_TEXT, K_CODE, K_STR)
# A spec's first item says how _walk takes it: F_CODE one K_CODE value, F_TEXT one K_TEXT value, F_OBJ
# one object, F_OBJS an array of objects (none of them part of a choice), F_OTHER anything else.
F_CODE, F_TEXT, F_OBJ, F_OBJS, F_OTHER = range(5)
STRUCTURE, REQUIRED, VALUE, INVALID = "structure", "required", "value", "invalid"


def _walk(obj: dict, table: tuple, refs: list | None) -> list | None:
    """Issues of one JSON object against its table, or None.  This is the hot loop: the commonest specs
    (one string, one object, an array of objects, none of them a choice) are handled first, inline,
    reading the spec by position; the rest by the general code below them."""
    specs, required, is_resource = table
    out = None
    groups = None
    for k, v in obj.items():
        s = specs.get(k)
        if s is None:
            if not (k == "fhir_comments" or (is_resource and k == "resourceType")):
                out = _add(out, (k, f"unknown element '{k}'", STRUCTURE))
            elif refs is not None and type(v) in (dict, list):
                refs.append((obj, None))
            continue
        mode = s[0]
        if mode == F_CODE:
            if type(v) is not str or not s[2][v]:
                out = _add(out, (k, _value_message(v, s[5]), _value_code(v)))
            elif k == "reference" and refs is not None:  # a uri some elements name so (see validate)
                refs.append((obj, s[2]))
            continue
        if mode == F_TEXT:
            if type(v) is not str or not 0 < len(v) <= _MAX_STRING:
                out = _add(out, (k, _value_message(v, s[5]), _value_code(v)))
            elif k == "reference" and refs is not None:
                refs.append((obj, s[2]))
            continue
        if mode == F_OBJ:
            if type(v) is dict:
                sub = _walk(v, s[2], refs)
                if sub:
                    out = _nest(out, sub, k)
            else:
                out = _add(out, (k, _shape_message(v, "a JSON object"), STRUCTURE))
            continue
        if mode == F_OBJS and type(v) is list and v:
            child = s[2]
            for x in v:  # no index bookkeeping here: on trouble, _array_issues walks again
                if type(x) is not dict or _walk(x, child, refs):
                    out = _array_issues(out, obj, k, v, s, None)  # invalid: references moot
                    break
            continue
        _mode, kind, arg, many, group, tname = s
        if group is not None:
            if groups is None:
                groups = {group: k}
            elif group in groups:
                out = _add(
                    out, (k, f"only one of {group} is allowed, found '{groups[group]}' and '{k}'", STRUCTURE)
                )
            else:
                groups[group] = k
        if many:
            if type(v) is not list:
                out = _add(out, (k, "expected a JSON array", STRUCTURE))
            elif not v:
                out = _add(out, (k, "an empty array is not allowed", STRUCTURE))
            elif kind == K_OBJ:
                for x in v:
                    if type(x) is not dict or _walk(x, arg, refs):
                        out = _array_issues(out, obj, k, v, s, None)
                        break
            elif kind in STRING_KINDS:
                for x in v:
                    if type(x) is not str or not arg(x):
                        out = _array_issues(out, obj, k, v, s, None)
                        break
            else:  # contained resources keep their references as they are
                out = _array_issues(out, obj, k, v, s, None if k == "contained" else refs)
        elif kind == K_OBJ:
            if type(v) is dict:
                sub = _walk(v, arg, refs)
                if sub:
                    out = _nest(out, sub, k)
            else:
                out = _add(out, (k, _shape_message(v, "a JSON object"), STRUCTURE))
        elif kind in STRING_KINDS:
            if type(v) is not str or not arg(v):
                out = _add(out, (k, _value_message(v, tname), _value_code(v)))
            elif k == "reference" and refs is not None:
                refs.append((obj, arg))
        else:
            sub = _other_issues(s, v, refs)
            if sub:
                out = _nest(out, sub, k)
    if required:
        for name, keys in required:
            for key in keys:
                if key in obj:
                    break
            else:
                out = _add(out, ("", f"missing required element '{name}'", REQUIRED))
    return out


def _other_issues(s: tuple, v, refs: list | None) -> list | None:
    """Check one value of the rarer kinds: non-string primitives, "_x" siblings, resources."""
    _mode, kind, arg, _many, _group, tname = s
    if kind == K_PRIM:
        return None if arg(v) else [("", _value_message(v, tname), _value_code(v))]
    if kind == K_ELEM:
        if type(v) is dict:
            return _walk(v, arg, refs)
        return [("", _shape_message(v, "a JSON object"), STRUCTURE)]
    return _resource_issues(v, _compiled().resources, refs)


def _array_issues(out: list | None, obj: dict, k: str, v: list, s: tuple, refs: list | None) -> list | None:
    """Check each item of an array, with its index; a null item is only allowed in a primitive
    array when the "_x" sibling array carries its id/extensions (and the other way round)."""
    _mode, kind, arg, _many, _group, tname = s
    sibling = k[1:] if kind == K_ELEM else "_" + k
    for i, x in enumerate(v):
        if x is None and kind not in (K_OBJ, K_RES):
            if sibling not in obj:
                out = _add(
                    out,
                    (
                        f"{k}[{i}]",
                        f"null is only allowed when the matching '{sibling}' item is present",
                        STRUCTURE,
                    ),
                )
            continue
        if kind == K_OBJ:
            sub = _walk(x, arg, refs) if type(x) is dict else [("", "expected a JSON object", STRUCTURE)]
        elif kind in STRING_KINDS:
            sub = None if type(x) is str and arg(x) else [("", _value_message(x, tname), _value_code(x))]
        else:
            sub = _other_issues(s, x, refs)
        if sub:
            out = _nest(out, sub, f"{k}[{i}]")
    return out


def _resource_issues(v, resource_tables: dict, refs: list | None) -> list | None:
    """Validate a JSON value that must be a resource, as the type its resourceType names."""
    if type(v) is not dict:
        return [("", _shape_message(v, "a JSON object (a resource)"), INVALID)]
    rt = v.get("resourceType")
    table = resource_tables.get(rt) if type(rt) is str else None
    if table is None:
        if rt is None:
            return [("", "missing resourceType", INVALID)]
        return [("resourceType", f"unknown resourceType {_show(rt)}", INVALID)]
    return _walk(v, table, refs)


def _add(out: list | None, issue: tuple) -> list:
    if out is None:
        return [issue]
    out.append(issue)
    return out


def _nest(out: list | None, sub: list, prefix: str) -> list:
    """Move a child's issues under this level by prefixing the child's key."""
    moved = [(_join(prefix, rel), msg, code) for rel, msg, code in sub]
    if out is None:
        return moved
    out.extend(moved)
    return out


def _join(prefix: str, rel: str) -> str:
    if not prefix:
        return rel
    return f"{prefix}.{rel}" if rel else prefix


# --- messages (only built when something is wrong) -----------------------------------------------


def _show(v) -> str:
    if type(v) is str:
        return "'" + (v if len(v) <= 60 else v[:57] + "...") + "'"
    if v is None:
        return "null"
    return orjson.dumps(v, default=repr).decode()[:60]  # repr: a value JSON has no type for (bytes, a set)


def _shape_message(v, expected: str) -> str:
    if type(v) is list:
        return f"expected {expected}, not a JSON array (at most one value is allowed)"
    return f"expected {expected}, got {_show(v)}"


def _value_message(v, tname: str) -> str:
    if type(v) is dict:
        return f"expected a primitive {tname} value, got a JSON object"
    if type(v) is list:
        return f"expected a single {tname} value, not a JSON array (at most one value is allowed)"
    if v == "":
        return f"an empty string is not a valid {tname}"
    return f"{_show(v)} is not a valid {tname}"


def _value_code(v) -> str:
    return STRUCTURE if type(v) in (dict, list) else VALUE


# --- primitive checkers --------------------------------------------------------------------------
#
# The regexes are the ones in profiles-types.json (the "regex" extension on <type>.value), compiled
# with re.ASCII so that \s and \S mean what they mean in the spec's (Java/XSD) world.  The JSON
# format forbids empty strings for every primitive, so string-like types must be non-empty.

_MAX_STRING = 1024 * 1024  # "strings SHALL NOT exceed 1MB"


def _string_ok(v: str) -> bool:
    return 0 < len(v) <= _MAX_STRING


def _regex(pattern: str):
    return re.compile(pattern, re.ASCII).fullmatch


def _real_day(v: str) -> bool:
    """The regexes allow day 31 in any month; dates SHALL be real calendar dates."""
    year, month, day = int(v[0:4]), int(v[5:7]), int(v[8:10])
    return day <= calendar.monthrange(year, month)[1]


def _date_checker(pattern: str):
    match = _regex(pattern)

    def ok(v: str) -> bool:
        return match(v) is not None and (len(v) < 10 or v[8:10] <= "28" or _real_day(v))

    return ok


_REMEMBERED = 4096  # values each checker remembers (then it forgets them all and starts again)
_REMEMBERED_LENGTH = 128  # longer values are checked afresh (and not kept)


class _Remembered(dict):
    """`check`'s answers by value, `self[value]`: codes, systems and dates repeat across the resources of
    a Bundle, and a hit is one dictionary lookup in C, cheaper than a call, let alone the regex. Callable
    as `check` is. Bounded: short values only, at most _REMEMBERED of them."""

    __slots__ = ("check",)

    def __init__(self, check: Callable[[str], object]) -> None:
        super().__init__()
        self.check = check

    def __missing__(self, v: str) -> bool:
        ok = bool(self.check(v))
        if len(v) <= _REMEMBERED_LENGTH:
            if len(self) >= _REMEMBERED:
                self.clear()
            self[v] = ok
        return ok

    def __call__(self, v: str) -> bool:
        return self[v]


_B64_WS = re.compile(r"[ \t\r\n]+")
_B64 = _regex(r"[0-9a-zA-Z+/=]+")


def _base64_ok(v: str) -> bool:
    """Equivalent to the spec's (\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+ but linear on megabyte payloads."""
    s = _B64_WS.sub("", v) if (" " in v or "\n" in v or "\r" in v or "\t" in v) else v
    return len(s) % 4 == 0 and _B64(s) is not None


def _int_checker(low: int):
    high = 2**31 - 1  # R4 integers are 32-bit

    def ok(v) -> bool:
        return type(v) is int and low <= v <= high

    return ok


def _boolean_ok(v) -> bool:
    return type(v) is bool


def _decimal_ok(v) -> bool:
    t = type(v)
    return t is int or (t is float and math.isfinite(v)) or (t is Decimal and v.is_finite())


def _primitive_checkers(regexes: dict[str, str]) -> dict[str, tuple]:
    """Map each primitive type name to (kind, checker)."""
    checkers = {name: (K_TEXT, _string_ok) for name in ("string", "markdown", "xhtml")}
    for name in ("code", "id", "oid", "uuid", "time"):
        checkers[name] = (K_CODE, _Remembered(_regex(regexes[name])))
    uri_ok = _Remembered(_regex(r"\S+"))  # spec: \S*, plus the JSON rule "no empty strings"
    for name in ("uri", "url", "canonical"):
        checkers[name] = (K_CODE, uri_ok)
    for name in ("date", "dateTime", "instant"):
        checkers[name] = (K_CODE, _Remembered(_date_checker(regexes[name])))
    checkers["base64Binary"] = (K_STR, _base64_ok)
    checkers["boolean"] = (K_PRIM, _boolean_ok)
    checkers["integer"] = (K_PRIM, _int_checker(-(2**31)))
    checkers["unsignedInt"] = (K_PRIM, _int_checker(0))
    checkers["positiveInt"] = (K_PRIM, _int_checker(1))
    checkers["decimal"] = (K_PRIM, _decimal_ok)
    return checkers


# --- compiling the StructureDefinitions ----------------------------------------------------------

_REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
_FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"


@dataclass(frozen=True)
class _Compiled:
    resources: dict  # concrete resource type name -> table
    names: frozenset[str]  # the same names, for resource_types()
    tables: dict  # every table by key: type name or BackboneElement path


def _load_bundle(name: str) -> list[dict]:
    return [r for r in spec.load(name) if r["resourceType"] == "StructureDefinition"]


@spec.built_once
def _compiled() -> _Compiled:
    """Load and compile the definitions once (lazily: importing this module stays free)."""
    sds = _load_bundle("profiles-types.json.gz") + _load_bundle("profiles-resources.json.gz")
    primitives = {sd["id"]: _value_regex(sd) for sd in sds if sd["kind"] == "primitive-type"}
    checkers = _primitive_checkers(primitives)
    complex_sds = [sd for sd in sds if sd["kind"] != "primitive-type"]
    tables: dict[str, tuple] = {}
    for sd in complex_sds:  # create every table first so that references can be cyclic
        for path in _object_paths(sd):
            tables[path] = ({}, [], sd["kind"] == "resource" and path == sd["type"])
    for sd in complex_sds:
        _fill_tables(sd, tables, checkers)
    frozen = {key: (specs, tuple(req), is_res) for key, (specs, req, is_res) in tables.items()}
    _relink(frozen)
    concrete = {
        sd["type"]: frozen[sd["type"]]
        for sd in complex_sds
        if sd["kind"] == "resource" and not sd.get("abstract")
    }
    return _Compiled(resources=concrete, names=frozenset(concrete), tables=frozen)


def _value_regex(sd: dict) -> str | None:
    for el in sd["snapshot"]["element"]:
        if el["path"].endswith(".value"):
            for ext in el["type"][0].get("extension", ()):
                if ext["url"] == _REGEX_EXT:
                    return ext["valueString"]
    return None


def _object_paths(sd: dict) -> list[str]:
    """The root path and every path that has child elements (BackboneElements)."""
    elems = sd["snapshot"]["element"]
    parents = {el["path"].rpartition(".")[0] for el in elems[1:]}
    return [elems[0]["path"]] + sorted(p for p in parents if p != elems[0]["path"])


def _fill_tables(sd: dict, tables: dict, checkers: dict) -> None:
    is_resource = sd["kind"] == "resource"
    root = sd["snapshot"]["element"][0]["path"]
    for el in sd["snapshot"]["element"][1:]:
        if el.get("sliceName") or el["max"] == "0":
            continue  # core definitions have neither; a profile's would need real slicing logic
        parent, _, name = el["path"].rpartition(".")
        specs, required, _ = tables[parent]
        keys = _element_specs(el, name, specs, tables, checkers, is_resource and parent == root)
        if el["min"] >= 1:
            required.append((name, tuple(keys)))


def _element_specs(
    el: dict, name: str, specs: dict, tables: dict, checkers: dict, top_of_resource: bool
) -> list[str]:
    """Register the JSON keys of one element definition; return those that satisfy min >= 1."""
    many = el["max"] != "1"
    if name.endswith("[x]"):
        keys = []
        for t in el["type"]:
            code = t["code"]
            keys += _add_spec(specs, name[:-3] + code[0].upper() + code[1:], code, many, name, checkers)
        return keys
    # Resource.id is an `id`; R4's snapshot only says System.String
    code = "id" if top_of_resource and name == "id" else _type_code(el, tables)
    keys = _add_spec(specs, name, code, many, None, checkers)
    if "xmlAttr" in el.get("representation", ()):
        specs.pop("_" + name, None)  # Element.id and Extension.url are XML attributes: no "_" sibling
        keys = [name]
    return keys


def _type_code(el: dict, tables: dict) -> str:
    """The table key or type name an element's value must follow."""
    if "contentReference" in el:
        return el["contentReference"].lstrip("#")
    if el["path"] in tables:  # a BackboneElement (or Element) with its own children
        return el["path"]
    t = el["type"][0]
    if t["code"].startswith("http://hl7.org/fhirpath/System."):
        for ext in t.get("extension", ()):
            if ext["url"] == _FHIR_TYPE_EXT:
                return ext["valueUrl"]
        return "string"
    return t["code"]


def _add_spec(specs: dict, key: str, code: str, many: bool, group: str | None, checkers: dict) -> list[str]:
    """Register one JSON key (and its "_key" sibling for primitives); return the keys that
    satisfy a min >= 1 requirement."""
    if code in checkers:
        kind, check = checkers[code]
        specs[key] = (kind, check, many, group, code)
        specs["_" + key] = (K_ELEM, "Element", many, None, "Element")
        return [key, "_" + key]
    if code == "Resource":
        specs[key] = (K_RES, None, many, group, code)
    else:
        specs[key] = (K_OBJ, code, many, group, code)
    return [key]


def _relink(tables: dict) -> None:
    """Replace table names in specs by the table tuples themselves (no lookup while walking), and put
    each spec's mode first."""
    for specs, _req, _res in tables.values():
        for key, (kind, arg, many, group, tname) in specs.items():
            if kind in (K_OBJ, K_ELEM):
                arg = tables[arg]
            specs[key] = (_mode(kind, many, group), kind, arg, many, group, tname)


def _mode(kind: int, many: bool, group: str | None) -> int:
    if group is not None:
        return F_OTHER
    if many:
        return F_OBJS if kind == K_OBJ else F_OTHER
    return {K_CODE: F_CODE, K_TEXT: F_TEXT, K_OBJ: F_OBJ}.get(kind, F_OTHER)
