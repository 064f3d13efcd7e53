"""One member's transaction Bundle for one patient, and the small FHIR helpers the generators share.

fullUrls are uuid5 of a seed namespace and a per-bundle name, so the same seed gives byte-identical
bundles; every resource carries the source-member tag, and Patient, Practitioner and PractitionerRole
are conditional creates so that loading several bundles of one member does not duplicate them.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import date, datetime, time, timedelta

from yilian.alliance.codes import SOURCE_MEMBER

# The demo's fixed "today": no clock, so the data never drifts between runs.
TODAY = date(2026, 11, 24)
HISTORY_START = date(2022, 1, 1)

SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
CVX = "http://hl7.org/fhir/sid/cvx"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
ACT_CODE = f"{TERMINOLOGY}/v3-ActCode"
V2_0203 = f"{TERMINOLOGY}/v2-0203"
V2_0074 = f"{TERMINOLOGY}/v2-0074"


def coding(system: str, code: str, display: str | None = None) -> dict:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(*codings: dict, text: str | None = None) -> dict:
    out: dict = {}
    if codings:
        out["coding"] = list(codings)
    if text:
        out["text"] = text
    return out


def org_ref(member_id: str, name: str | None = None) -> dict:
    """Members are loaded before the feeds, so they are referenced by id, not by urn:uuid."""
    out = {"reference": f"Organization/{member_id}"}
    if name:
        out["display"] = name
    return out


def instant(day: date, minutes: int) -> str:
    """A dateTime in China Standard Time; minutes counts from that day's midnight (and may run past it)."""
    at = datetime.combine(day, time()) + timedelta(minutes=minutes)
    return f"{at:%Y-%m-%dT%H:%M}:00+08:00"


def clinic_minutes(rng: random.Random) -> int:
    """A time during clinic hours (08:00-11:30 or 13:30-16:30), five-minute steps."""
    if rng.random() < 0.65:
        return 8 * 60 + 5 * rng.randrange(42)
    return 13 * 60 + 30 + 5 * rng.randrange(36)


def random_day(rng: random.Random, start: date, end: date) -> date:
    span = (end - start).days
    return start + timedelta(days=rng.randint(0, max(span, 0)))


def demo_namespace(seed: int) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"https://yilian.org/demo/{seed}")


class FeedBuilder:
    """Collects the entries of one (member, patient) transaction Bundle."""

    def __init__(self, namespace: uuid.UUID, member_id: str, scope: str) -> None:
        self.member_id = member_id
        self.known: dict[str, dict] = {}  # staff key -> reference, so each is added once
        self._namespace = namespace
        self._scope = scope
        self._counts: Counter[str] = Counter()
        self._head: list[dict] = []  # Patient and staff first, for readability
        self._body: list[dict] = []

    def add(self, resource: dict, *, if_none_exist: str | None = None, head: bool = False) -> dict:
        """Add a resource (without id) and return a reference to its urn:uuid fullUrl."""
        rtype = resource["resourceType"]
        self._counts[rtype] += 1
        name = f"{self._scope}/{rtype}/{self._counts[rtype]}"
        full_url = f"urn:uuid:{uuid.uuid5(self._namespace, name)}"
        tagged = {"resourceType": rtype, "meta": {"tag": [{"system": SOURCE_MEMBER, "code": self.member_id}]}}
        tagged.update((k, v) for k, v in resource.items() if k != "resourceType")
        request = {"method": "POST", "url": rtype}
        if if_none_exist:
            request["ifNoneExist"] = if_none_exist
        entry = {"fullUrl": full_url, "resource": tagged, "request": request}
        (self._head if head else self._body).append(entry)
        return {"reference": full_url}

    def uid(self, label: str) -> str:
        """A DICOM UID (2.25 + UUID as an integer), deterministic like the fullUrls."""
        return f"2.25.{uuid.uuid5(self._namespace, f'{self._scope}/uid/{label}').int}"

    def bundle(self) -> dict:
        return {"resourceType": "Bundle", "type": "transaction", "entry": self._head + self._body}
