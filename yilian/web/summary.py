"""The summary panels beside the timeline: active problems, current medications, allergies.

The same fact recorded by several members (hypertension on the hospital's and the community centre's
problem lists) is one line naming every member that recorded it, keyed on the code rather than the
wording, since members word things differently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yilian.web.display import coding_code, concept_text, source_member
from yilian.web.kinds import Refs, index, reactions, ref_key

ACTIVE_CONDITION = {"active", "recurrence", "relapse"}
ACTIVE_MEDICATION = {"active", "intended", "on-hold"}


@dataclass
class Summary:
    title: str
    detail: str = ""
    since: str = ""  # the earliest date any member gives
    flag: str = ""  # e.g. an allergy's criticality
    members: list[str] = field(default_factory=list)


def concept_key(concept: dict | None) -> str:
    """A grouping key for a CodeableConcept: its first coded system|code, else its text."""
    for coding in (concept or {}).get("coding", []):
        if coding.get("code"):
            return f"{coding.get('system', '')}|{coding['code']}"
    return concept_text(concept)


def _merge(groups: dict[str, Summary], key: str, item: Summary, member: str | None) -> None:
    have = groups.setdefault(key, Summary(item.title, item.detail, item.since, item.flag))
    if item.since and (not have.since or item.since < have.since):
        have.since = item.since
    if item.detail and not have.detail:
        have.detail = item.detail
    if member and member not in have.members:
        have.members.append(member)


def _of_type(resources: list[dict], rtype: str) -> list[dict]:
    return [r for r in resources if r.get("resourceType") == rtype]


def active_problems(resources: list[dict]) -> list[Summary]:
    groups: dict[str, Summary] = {}
    for r in _of_type(resources, "Condition"):
        status = coding_code(r.get("clinicalStatus"))
        if (status and status not in ACTIVE_CONDITION) or r.get("abatementDateTime") or _refuted(r):
            continue
        since = (r.get("onsetDateTime") or r.get("recordedDate") or "")[:10]
        _merge(
            groups,
            concept_key(r.get("code")),
            Summary(concept_text(r.get("code")), since=since),
            source_member(r),
        )
    return sorted(groups.values(), key=lambda s: (s.since or "9999", s.title))


def current_medications(resources: list[dict]) -> list[Summary]:
    refs = index(resources)
    groups: dict[str, Summary] = {}
    meds = _of_type(resources, "MedicationRequest") + _of_type(resources, "MedicationStatement")
    for r in sorted(meds, key=_med_date, reverse=True):  # newest first, so the latest dosage wins
        if r.get("status") not in ACTIVE_MEDICATION:
            continue
        concept = r.get("medicationCodeableConcept") or _medication_code(r, refs)
        dosages = r.get("dosageInstruction") or r.get("dosage") or []
        detail = "；".join(d["text"] for d in dosages if d.get("text"))
        since = (r.get("effectivePeriod", {}).get("start") or _med_date(r))[:10]
        _merge(groups, concept_key(concept), Summary(concept_text(concept), detail, since), source_member(r))
    return sorted(groups.values(), key=lambda s: s.title)


def _med_date(r: dict) -> str:
    return r.get("authoredOn") or r.get("dateAsserted") or r.get("effectivePeriod", {}).get("start") or ""


def _medication_code(r: dict, refs: Refs) -> dict:
    med = refs.get(ref_key(r.get("medicationReference")) or "") or {}
    return med.get("code") or {"text": (r.get("medicationReference") or {}).get("display", "")}


def allergies(resources: list[dict]) -> list[Summary]:
    groups: dict[str, Summary] = {}
    for r in _of_type(resources, "AllergyIntolerance"):
        status = coding_code(r.get("clinicalStatus"))
        if (status and status != "active") or _refuted(r):
            continue
        since = (r.get("recordedDate") or r.get("onsetDateTime") or "")[:10]
        item = Summary(concept_text(r.get("code")), reactions(r), since, r.get("criticality", ""))
        _merge(groups, concept_key(r.get("code")), item, source_member(r))
    return sorted(groups.values(), key=lambda s: (s.flag != "high", s.title))


def _refuted(r: dict) -> bool:
    return coding_code(r.get("verificationStatus")) in ("refuted", "entered-in-error")
