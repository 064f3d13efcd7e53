"""PIXm-style cross-references: from one member's identifier of a patient to the identifiers the same
person has at the other members (and the golden Person), read through the caller's gate.

The index answers which records are the same person; every record it names is then read through the
caller's repository, so a record the caller may not see is left out (its identifier included).
"""

from __future__ import annotations

from yilian.fhir.outcomes import FhirError, not_found
from yilian.gate.repository import GatedRepository
from yilian.identity import index


def split_token(token: str) -> tuple[str | None, str]:
    """A FHIR token `system|value` (or a bare value)."""
    if "|" in token:
        system, value = token.split("|", 1)
        return system or None, value
    return None, token


def cross_references(
    repo: GatedRepository, system: str | None, value: str, target_systems: list[str] | None = None
) -> tuple[str, list[tuple[str, dict]]]:
    """(person id, [(Patient id, identifier)]) for the person holding `system|value`."""
    found = [p for p in index.by_identifier(repo.conn, system, value) if _visible(repo, p)]
    if not found and system is None:
        raise not_found(f"No patient has the identifier {value}")
    if not found:
        raise not_found(f"No patient has the identifier {system}|{value}")
    source = index.get(repo.conn, found[0])
    out = []
    for rec in index.members_of(repo.conn, source.person_id):
        if not _visible(repo, rec.patient_id):
            continue
        for ident in rec.demographics.get("identifier", []):
            if ident.get("system") == system and ident.get("value") == value:
                continue
            if target_systems and ident.get("system") not in target_systems:
                continue
            out.append((rec.patient_id, ident))
    return source.person_id, out


def _visible(repo: GatedRepository, patient_id: str) -> bool:
    try:
        repo.read("Patient", patient_id)
    except FhirError:
        return False
    return True
