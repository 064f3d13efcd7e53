"""The integrated timeline: a patient's resources from every member turned into dated, labelled entries.

Pure functions over the resource dicts of Patient/$everything Bundles. Lab results listed by a
DiagnosticReport are folded into the report's entry, and an ImagingStudy into the report that reads it,
so a panel of twelve values is one entry, not thirteen. The per-type builders live in web.kinds.
"""

from __future__ import annotations

from collections.abc import Iterable

from yilian.web.display import coding_code
from yilian.web.kinds import BUILDERS, KINDS, Entry, Refs, Result, index, ref_key

__all__ = [
    "KINDS",
    "Entry",
    "Refs",
    "Result",
    "by_day",
    "entries",
    "folded",
    "index",
    "members_of",
    "ref_key",
    "select",
]


# ---- the timeline ----------------------------------------------------------------------------------


def folded(resources: Iterable[dict]) -> set[str]:
    """Refs shown inside another entry: a report's results and the imaging study it reads."""
    inner: set[str] = set()
    for r in resources:
        if r.get("resourceType") == "DiagnosticReport":
            inner.update(k for x in r.get("result", []) + r.get("imagingStudy", []) if (k := ref_key(x)))
    return inner


def entries(resources: list[dict]) -> list[Entry]:
    """Every timeline-worthy resource as an Entry, newest first; entered-in-error ones are left out."""
    refs, inner = index(resources), folded(resources)
    out = []
    for r in resources:
        build = BUILDERS.get(r.get("resourceType", ""))
        if build is None or f"{r['resourceType']}/{r.get('id')}" in inner or _entered_in_error(r):
            continue
        entry = build(r, refs)
        if entry.when:
            out.append(entry)
    return sorted(out, key=lambda e: (e.when, e.ref), reverse=True)


def _entered_in_error(r: dict) -> bool:
    return (
        r.get("status") == "entered-in-error"
        or coding_code(r.get("verificationStatus")) == "entered-in-error"
    )


def select(items: list[Entry], member: str | None = None, kind: str | None = None) -> list[Entry]:
    """The entries from one member and/or of one kind (None means any)."""
    return [e for e in items if (not member or e.member == member) and (not kind or e.kind == kind)]


def by_day(items: list[Entry]) -> list[tuple[str, list[Entry]]]:
    """Consecutive entries grouped by calendar day, keeping the (newest-first) order."""
    groups: list[tuple[str, list[Entry]]] = []
    for e in items:
        if groups and groups[-1][0] == e.day:
            groups[-1][1].append(e)
        else:
            groups.append((e.day, [e]))
    return groups


def members_of(items: Iterable[Entry]) -> list[str]:
    """The distinct source members, in order of first appearance."""
    return list(dict.fromkeys(e.member for e in items if e.member))
