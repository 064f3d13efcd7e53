"""What the pages read, always through the FHIR router as the signed-in user's Caller.

Nothing here touches the store: every read is `handle(gate, caller, FhirRequest(...))`, so a page shows
exactly what the gate lets that user see, and a FhirError (404 for what they may not see) reaches the
page as is.

Until the master patient index links registrations, one person's records at different members are
joined on the resident ID (GB 11643 numbers are unique per person) and on Patient.link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from yilian.alliance.codes import ALLIANCE_MODEL_EXT, RESIDENT_ID, SOURCE_MEMBER, member_type_of
from yilian.fhir.messages import FhirRequest
from yilian.fhir.outcomes import FhirError
from yilian.fhir.router import handle
from yilian.gate.caller import Caller
from yilian.gate.repository import Gate
from yilian.web.display import resident_id
from yilian.web.timeline import ref_key

SEARCH_LIMIT = 50
MAX_PAGES = 20  # of $everything, each up to settings.everything_page_size resources
PALETTE_SIZE = 8  # CSS classes m0..m7
MOBILE = re.compile(r"^1\d{10}$")
RESIDENT = re.compile(r"^\d{17}[\dXx]$")


def get(gate: Gate, caller: Caller, path: str, query: list[tuple[str, str]] | None = None) -> dict:
    """One GET through the router; the body as a dict."""
    return handle(gate, caller, FhirRequest("GET", path, list(query or []))).resource() or {}


def matches(bundle: dict) -> list[dict]:
    return [
        e["resource"]
        for e in bundle.get("entry", [])
        if e.get("search", {}).get("mode", "match") == "match" and "resource" in e
    ]


def _next_offset(bundle: dict) -> str | None:
    for link in bundle.get("link", []):
        if link.get("relation") == "next":
            found = re.search(r"[?&]_offset=(\d+)", link.get("url", ""))
            return found.group(1) if found else None
    return None


# ---- the alliance directory ------------------------------------------------------------------------


@dataclass
class Directory:
    alliance: dict | None
    members: list[dict]
    names: dict[str, str] = field(default_factory=dict)  # Organization id -> name
    colours: dict[str, int] = field(default_factory=dict)  # member id -> palette index

    def name(self, org_id: str | None) -> str:
        return self.names.get(org_id or "", org_id or "")

    def colour(self, org_id: str | None) -> int:
        return self.colours.get(org_id or "", PALETTE_SIZE - 1)


def directory(gate: Gate, caller: Caller) -> Directory:
    """The alliance Organization and its members (the directory is readable by every signed-in role)."""
    orgs = matches(get(gate, caller, "Organization", [("_count", str(gate.settings.max_page_size))]))
    alliance = next((o for o in orgs if member_type_of(o) == "alliance"), None)
    members = [o for o in orgs if member_type_of(o) not in (None, "alliance")]
    if alliance:
        own = f"Organization/{alliance['id']}"
        members = [o for o in members if ref_key(o.get("partOf")) in (None, own)]
    members.sort(key=lambda o: (_type_rank(member_type_of(o)), o.get("id", "")))
    return Directory(
        alliance,
        members,
        {o["id"]: o.get("name", o["id"]) for o in orgs},
        {o["id"]: i % PALETTE_SIZE for i, o in enumerate(members)},
    )


def _type_rank(kind: str | None) -> int:
    order = ("tertiary-hospital", "secondary-hospital", "community-health-centre", "public-health")
    return order.index(kind) if kind in order else len(order)


def alliance_model(org: dict | None) -> str | None:
    """The ALLIANCE_MODEL_EXT code of the alliance Organization, whatever value[x] carries it."""
    for ext in (org or {}).get("extension", []):
        if ext.get("url") == ALLIANCE_MODEL_EXT:
            if "valueCoding" in ext:
                return ext["valueCoding"].get("code")
            if "valueCodeableConcept" in ext:
                return next((c.get("code") for c in ext["valueCodeableConcept"].get("coding", [])), None)
            return ext.get("valueCode") or ext.get("valueString")
    return None


def patient_counts(gate: Gate, caller: Caller, member_ids: list[str]) -> dict[str, int | None]:
    """Patients each member registered (within the caller's view): one _summary=count search each."""
    out: dict[str, int | None] = {}
    for mid in member_ids:
        query = [("_summary", "count"), ("_tag", f"{SOURCE_MEMBER}|{mid}")]
        out[mid] = get(gate, caller, "Patient", query).get("total")
    return out


# ---- patient search -------------------------------------------------------------------------------


def search_queries(q: str) -> list[list[tuple[str, str]]]:
    """The Patient searches one search-box text stands for: digits mean identifiers or phones, else names."""
    q = q.strip()
    limit = ("_count", str(SEARCH_LIMIT))
    if not q:
        return []
    if RESIDENT.match(q):
        return [[("identifier", q.upper()), limit]]
    if MOBILE.match(q):
        return [[("phone", q), limit], [("identifier", q), limit]]
    if any(ch.isdigit() for ch in q):
        return [[("identifier", q), limit], [("phone", q), limit]]
    return [[("name", q), ("_sort", "family"), limit]]


def search_patients(gate: Gate, caller: Caller, q: str) -> list[dict]:
    """Patient registrations matching `q`, each once, in the order found."""
    found: dict[str, dict] = {}
    for query in search_queries(q):
        for p in matches(get(gate, caller, "Patient", query)):
            found.setdefault(p["id"], p)
    return list(found.values())[:SEARCH_LIMIT]


def group_registrations(patients: list[dict]) -> list[list[dict]]:
    """Registrations of the same person (same resident ID) side by side; the rest one per row."""
    groups: dict[str, list[dict]] = {}
    for p in patients:
        groups.setdefault(resident_id(p) or f"id:{p['id']}", []).append(p)
    return list(groups.values())


# ---- one person's integrated record --------------------------------------------------------------


@dataclass
class PatientRecord:
    patient: dict  # the registration asked for
    registrations: list[dict]  # every registration of the person the caller may see, asked-for first
    resources: list[dict]  # everything from every registration's compartment, each resource once


def patient_record(gate: Gate, caller: Caller, patient_id: str) -> PatientRecord:
    """Read the patient (a FhirError 404 when the caller may not see them), then join their registrations."""
    patient = get(gate, caller, f"Patient/{patient_id}")
    registrations = [patient, *(p for p in registrations_of(gate, caller, patient) if p["id"] != patient_id)]
    resources: dict[str, dict] = {}
    for reg in registrations:
        for r in everything(gate, caller, reg["id"]):
            resources.setdefault(f"{r['resourceType']}/{r.get('id')}", r)
    return PatientRecord(patient, registrations, list(resources.values()))


def registrations_of(gate: Gate, caller: Caller, patient: dict) -> list[dict]:
    """Other Patient records of the same person: same resident ID, or linked either way."""
    found: dict[str, dict] = {}
    if rid := resident_id(patient):
        for p in matches(get(gate, caller, "Patient", [("identifier", f"{RESIDENT_ID}|{rid}")])):
            found.setdefault(p["id"], p)
    for p in matches(get(gate, caller, "Patient", [("link", f"Patient/{patient['id']}")])):
        found.setdefault(p["id"], p)
    for link in patient.get("link", []):
        key = ref_key(link.get("other"))
        if key and key.startswith("Patient/") and key[8:] not in found:
            try:
                found[key[8:]] = get(gate, caller, key)
            except FhirError:
                continue  # linked to a record this user may not see: leave it out, say nothing
    return list(found.values())


def everything(gate: Gate, caller: Caller, patient_id: str) -> list[dict]:
    """Patient/$everything, following its paging."""
    out: list[dict] = []
    query: list[tuple[str, str]] = []
    for _ in range(MAX_PAGES):
        bundle = get(gate, caller, f"Patient/{patient_id}/$everything", query)
        out.extend(e["resource"] for e in bundle.get("entry", []) if "resource" in e)
        offset = _next_offset(bundle)
        if offset is None:
            break
        query = [("_offset", offset)]
    return out
