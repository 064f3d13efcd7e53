"""Parsing a FHIR search query string into a SearchQuery the SQL builder can compile.

Repeated parameters are ANDed, comma-separated values inside one are ORed (FHIR R4 §3.1.1.4.2). An unknown
parameter is an error, not silently ignored: a clinician who mistypes `patinet=` must not get every row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yilian.fhir.outcomes import bad_request
from yilian.store.search.params import SearchParam, search_params

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
RESULT_PARAMS = {"_count", "_offset", "_sort", "_include", "_revinclude", "_summary", "_total", "_elements"}
IGNORED_PARAMS = {"_format", "_pretty"}
MODIFIERS = {
    "string": {"exact", "contains", "missing", "text"},
    "token": {"not", "text", "missing", "in", "not-in", "above", "below", "of-type"},
    "reference": {"missing", "identifier"},
    "date": {"missing"},
    "quantity": {"missing"},
    "number": {"missing"},
    "uri": {"missing", "above", "below"},
}


@dataclass(frozen=True)
class Criterion:
    """One parameter occurrence: a param, an optional modifier, and OR-ed values."""

    param: SearchParam
    modifier: str | None
    values: tuple[str, ...]
    chain: tuple[str, str] | None = None  # (target type, param code) for `subject:Patient.name=...`


@dataclass(frozen=True)
class Include:
    source_type: str
    param: str  # a reference param code, or "*"
    target_type: str | None


@dataclass
class SearchQuery:
    resource_type: str
    criteria: list[Criterion] = field(default_factory=list)
    ids: list[tuple[str, ...]] = field(default_factory=list)  # _id values (each entry ORed, entries ANDed)
    last_updated: list[tuple[str, ...]] = field(default_factory=list)
    count: int = 20
    offset: int = 0
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (code, descending)
    includes: list[Include] = field(default_factory=list)
    revincludes: list[Include] = field(default_factory=list)
    summary: str | None = None
    total: str | None = None


def split_values(raw: str) -> tuple[str, ...]:
    """Split on commas that are not escaped with a backslash, then unescape."""
    parts, cur, i = [], [], 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            cur.append(raw[i + 1])
            i += 2
            continue
        if ch == ",":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return tuple(p for p in parts if p != "")


def parse_query(
    resource_type: str, pairs: list[tuple[str, str]], *, default_count: int, max_count: int
) -> SearchQuery:
    query = SearchQuery(resource_type, count=default_count)
    known = search_params(resource_type)
    for name, raw in pairs:
        if name in IGNORED_PARAMS:
            continue
        if name in RESULT_PARAMS:
            _result_param(query, name, raw, max_count)
        elif name == "_id":
            query.ids.append(split_values(raw))
        elif name == "_lastUpdated":
            query.last_updated.append(split_values(raw))
        else:
            query.criteria.append(_criterion(resource_type, known, name, raw))
    return query


def _criterion(resource_type: str, known: dict[str, SearchParam], name: str, raw: str) -> Criterion:
    code, _, modifier = name.partition(":")
    chain = None
    if "." in code:
        code, _, chained = code.partition(".")
        chain = ("", chained)
    if "." in modifier:  # subject:Patient.name
        modifier, _, chained = modifier.partition(".")
        chain = (modifier, chained)
        modifier = ""
    param = known.get(code)
    if param is None:
        raise bad_request(
            f"Unknown search parameter '{code}' for {resource_type}. "
            f"Known: {', '.join(sorted(known)) or 'none'}",
            location=name,
        )
    values = split_values(raw)
    if not values:
        raise bad_request(f"Search parameter '{name}' has no value", location=name)
    if modifier and param.type == "reference" and modifier[0].isupper():
        if modifier not in param.targets and param.targets:
            raise bad_request(f"'{modifier}' is not a target type of {resource_type}.{code}", location=name)
        return Criterion(param, f"type:{modifier}", values, chain)
    if modifier and modifier not in MODIFIERS.get(param.type, set()):
        raise bad_request(f"Modifier ':{modifier}' is not supported on {param.type} parameter '{code}'")
    if chain is not None:
        if param.type != "reference":
            raise bad_request(f"Only reference parameters can be chained; '{code}' is a {param.type}")
        target = chain[0] or (param.targets[0] if len(param.targets) == 1 else "")
        if not target:
            raise bad_request(f"Chained parameter '{name}' needs a type: use {code}:<Type>.{chain[1]}")
        if chain[1] not in search_params(target):
            raise bad_request(f"Unknown search parameter '{chain[1]}' for {target}", location=name)
        chain = (target, chain[1])
    return Criterion(param, modifier or None, values, chain)


def _result_param(query: SearchQuery, name: str, raw: str, max_count: int) -> None:
    if name == "_count":
        query.count = min(_non_negative_int(name, raw), max_count)
    elif name == "_offset":
        query.offset = _non_negative_int(name, raw)
    elif name == "_sort":
        for part in split_values(raw):
            desc = part.startswith("-")
            code = part.lstrip("-")
            if code not in ("_id", "_lastUpdated") and code not in search_params(query.resource_type):
                raise bad_request(f"Cannot sort {query.resource_type} by unknown parameter '{code}'")
            query.sort.append((code, desc))
    elif name in ("_include", "_revinclude"):
        target = query.includes if name == "_include" else query.revincludes
        target.append(_include(name, raw))
    elif name == "_summary":
        if raw not in ("true", "false", "count", "text", "data"):
            raise bad_request(f"_summary must be true, false, text, data or count, not '{raw}'")
        query.summary = raw
    elif name == "_total":
        query.total = raw


def _include(name: str, raw: str) -> Include:
    value = raw.removesuffix(":iterate")
    parts = value.split(":")
    if value == "*":
        return Include("*", "*", None)
    if len(parts) not in (2, 3):
        raise bad_request(f"{name} must look like Type:param[:TargetType], not '{raw}'")
    source, param = parts[0], parts[1]
    if param != "*":
        known = search_params(source)
        if param not in known or known[param].type != "reference":
            raise bad_request(f"{name}: '{param}' is not a reference parameter of {source}")
    return Include(source, param, parts[2] if len(parts) == 3 else None)


def _non_negative_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be a whole number, not '{raw}'") from None
    if value < 0:
        raise bad_request(f"{name} must not be negative")
    return value


def split_prefix(value: str) -> tuple[str, str]:
    """'ge2020-01-01' -> ('ge', '2020-01-01'); a value without a prefix is 'eq'."""
    if len(value) > 2 and value[:2] in PREFIXES and not value[2].isalpha():
        return value[:2], value[2:]
    return "eq", value
