"""The official FHIR R4 SearchParameter definitions, per resource type, and the Patient compartment.

Loaded lazily, once, from the spec bundles shipped in ``yilian/spec``: importing this module costs nothing.
The official expressions are unions over every base of a parameter ("AllergyIntolerance.patient |
CarePlan.subject.where(resolve() is Patient) | ..."); each SearchParam keeps only the parts for its own base
so the extractor compiler never sees paths of other types.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from yilian import spec

_ABSTRACT_BASES = ("Resource", "DomainResource")
# Common parameters the index extracts from meta; the rest are answered by the store itself (_id,
# _lastUpdated are columns of `resources`) or are not supported (_text, _content, _list, _has, ...).
COMMON_PARAMS = ("_tag", "_profile", "_security", "_source")


@dataclass(frozen=True)
class SearchParam:
    code: str  # e.g. "patient", "code", "birthdate"
    type: str  # string | token | date | reference | quantity | number | uri | composite | special
    resource_type: str  # the base this entry is for: a multi-base parameter gives one entry per base
    expression: str  # FHIRPath, restricted to the union parts that start with resource_type
    targets: tuple[str, ...]  # reference target types


def search_params(resource_type: str) -> dict[str, SearchParam]:
    """code -> SearchParam for one resource type (shared and cached: treat it as read-only).

    Unknown resource types have none, so a typo in a URL never reaches the index.
    """
    return _by_type().get(resource_type, {})


def patient_compartment_params(resource_type: str) -> tuple[str, ...]:
    """The codes of the parameters that put a resource in a Patient's compartment; ("{def}",) for Patient.

    The official definition also lists Patient.link; it is left out on purpose so that linking two
    Patient records never merges what each one's compartment shows.
    """
    if resource_type == "Patient":
        return ("{def}",)
    return _compartment().get(resource_type, ())


@functools.cache
def reference_param_keys(resource_type: str) -> tuple[int, ...]:
    """Index keys of every reference parameter of a type ("*": of all): what `_revinclude=T:*` reads."""
    from yilian.store.search.keys import param_key

    types = sorted(_by_type()) if resource_type == "*" else [resource_type]
    return tuple(
        param_key(t, p.code) for t in types for p in search_params(t).values() if p.type == "reference"
    )


def resource_types_with_params() -> frozenset[str]:
    """The concrete resource types that have at least one parameter of their own."""
    return _own_param_types()


def split_union(expression: str) -> list[str]:
    """Split a FHIRPath expression on its top-level `|` (not inside parentheses or quotes)."""
    parts, depth, start, quoted = [], 0, 0, False
    for i, ch in enumerate(expression):
        if ch == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(expression[start:i].strip())
            start = i + 1
    parts.append(expression[start:].strip())
    return [p for p in parts if p]


def restrict_expression(expression: str, base: str, single_base: bool) -> str:
    """Keep the union parts of `expression` that start at `base`.

    A part with no type prefix ("name | alias" on InsurancePlan) is relative to the base, which is only
    unambiguous when the parameter has a single base.
    """
    kept = []
    for part in split_union(expression):
        head = part.lstrip("(")
        if head.startswith(base) and head[len(base) : len(base) + 1] in (".", " ", ")", ""):
            kept.append(part)
        elif single_base and head[:1].islower():
            kept.append(f"{base}.{part}")
    return " | ".join(kept)


@dataclass(frozen=True)
class _Index:
    by_type: dict[str, dict[str, SearchParam]]  # every concrete type, even one with only common params
    own_param_types: frozenset[str]
    compartment: dict[str, tuple[str, ...]]


@spec.built_once
def _index() -> _Index:
    profiles = spec.load("profiles-resources.json.gz")
    definitions = spec.load("search-parameters.json.gz")
    concrete = frozenset(
        r["type"]
        for r in profiles
        if r["resourceType"] == "StructureDefinition" and r["kind"] == "resource" and not r.get("abstract")
    )
    own = frozenset(b for p in definitions for b in p["base"] if b in concrete)
    return _Index(_params_by_type(definitions, concrete), own, _patient_compartment(profiles))


def _by_type() -> dict[str, dict[str, SearchParam]]:
    return _index().by_type


def _own_param_types() -> frozenset[str]:
    return _index().own_param_types


def _compartment() -> dict[str, tuple[str, ...]]:
    return _index().compartment


def _params_by_type(definitions: list[dict], concrete: frozenset[str]) -> dict[str, dict[str, SearchParam]]:
    out: dict[str, dict[str, SearchParam]] = {t: {} for t in sorted(concrete)}
    common = [p for p in definitions if p["code"] in COMMON_PARAMS]
    for rtype, params in out.items():
        for p in common:
            params[p["code"]] = SearchParam(p["code"], p["type"], rtype, p["expression"], ())
    for p in definitions:
        for base in p["base"]:
            if base in out and base not in _ABSTRACT_BASES:
                expression = restrict_expression(p.get("expression", ""), base, len(p["base"]) == 1)
                targets = tuple(p.get("target", ()))
                out[base][p["code"]] = SearchParam(p["code"], p["type"], base, expression, targets)
    return out


def _patient_compartment(profiles: list[dict]) -> dict[str, tuple[str, ...]]:
    for r in profiles:
        if r["resourceType"] == "CompartmentDefinition" and r["id"] == "patient":
            return {e["code"]: tuple(e.get("param", ())) for e in r["resource"]}
    raise LookupError("the Patient CompartmentDefinition is missing from profiles-resources.json.gz")
