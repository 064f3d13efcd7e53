"""Reading one member's generated FHIR Bundle back for the emitters: resources by fullUrl, by visit, the
clinicians, and each coded concept back to its catalog key (so it can be written with the member's own
local code)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from yilian.alliance.codes import HEALTH_RECORD_OID_ROOT
from yilian.demo.catalog import ALLERGENS, DIAGNOSES, DRUGS, IMAGING, PANELS, PROCEDURES, TESTS, VISITS
from yilian.demo.staff import DEPARTMENTS

_REVERSE = {
    "visit": {v[0]: k for k, v in VISITS.items()},
    "panel": {v[0]: k for k, v in PANELS.items()},
    "diagnosis": {d.icd10: k for k, d in DIAGNOSES.items()},
    "allergen": {v[0]: k for k, v in ALLERGENS.items()},
    "procedure": {v[0]: k for k, v in PROCEDURES.items()},
    "test": {t.loinc: k for k, t in TESTS.items()},
    "drug": {d.rxnorm: k for k, d in DRUGS.items()},
    "imaging": {im.code[0]: k for k, im in IMAGING.items()},
}


_DEPARTMENT_BY_NAME = {zh: key for key, (_, _, zh) in DEPARTMENTS.items()}


def key_of(kind: str, concept: dict) -> str:
    table = _REVERSE[kind]
    return next(table[c["code"]] for c in concept["coding"] if c["code"] in table)


def by_loinc(concept: dict) -> str:
    return key_of("test", concept)


def drug_key(concept: dict) -> str:
    return key_of("drug", concept)


def imaging_key(concept: dict) -> str:
    return key_of("imaging", concept)


class Index:
    def __init__(self, member_id: str, bundle: dict) -> None:
        self.member_id = member_id
        self.by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
        self.patient = next(r for r in self.by_url.values() if r["resourceType"] == "Patient")
        self.mrn = next(
            i["value"]
            for i in self.patient["identifier"]
            if i["system"].startswith(f"urn:oid:{HEALTH_RECORD_OID_ROOT}.")
        )
        self._counters: Counter[str] = Counter()
        in_reports = {
            ref["reference"]
            for r in self.by_url.values()
            if r["resourceType"] == "DiagnosticReport"
            for ref in r.get("result", [])
        }
        self.in_reports = in_reports

    def next(self, kind: str) -> int:
        self._counters[kind] += 1
        return self._counters[kind]

    def staff(self, ref: dict | None) -> tuple[str, str, str] | None:
        if not ref or ref.get("reference") not in self.by_url:
            return None
        r = self.by_url[ref["reference"]]
        if r["resourceType"] != "Practitioner":
            return None
        name = r["name"][0]
        return r["identifier"][0]["value"], name.get("family", ""), (name.get("given") or [""])[0]

    def encounters(self) -> list[str]:
        urls = [u for u, r in self.by_url.items() if r["resourceType"] == "Encounter"]
        return sorted(urls, key=lambda u: self.by_url[u]["period"]["start"])

    def of(self, rtype: str, enc_url: str) -> list[dict]:
        return [
            r
            for r in self.by_url.values()
            if r["resourceType"] == rtype and r.get("encounter", {}).get("reference") == enc_url
        ]

    def vitals(self, enc_url: str) -> list[dict]:
        return [
            r
            for u, r in self.by_url.items()
            if r["resourceType"] == "Observation"
            and u not in self.in_reports
            and r.get("encounter", {}).get("reference") == enc_url
        ]

    def without_visit(self, rtype: str) -> list[dict]:
        return [r for r in self.by_url.values() if r["resourceType"] == rtype and "encounter" not in r]


@dataclass(frozen=True)
class RosterEntry:
    """One clinician of a member's roster, as its staff system files them."""

    key: str
    family: str
    given: str
    sex: str
    birth_date: str
    phone: str
    title: str
    role: str  # FHIR practitioner-role code
    department: str  # a staff.DEPARTMENTS key
    since: str
    active: bool

    @property
    def name(self) -> str:
        return self.family + self.given


def roster(bundle: dict) -> list[RosterEntry]:
    """A member's roster Bundle (staff.roster_bundle) read back: each PractitionerRole and its clinician."""
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    out = []
    for role in (r for r in by_url.values() if r["resourceType"] == "PractitionerRole"):
        p = by_url[role["practitioner"]["reference"]]
        name = p["name"][0]
        out.append(
            RosterEntry(
                p["identifier"][0]["value"],
                name["family"],
                name["given"][0],
                p["gender"],
                p["birthDate"],
                p["telecom"][0]["value"],
                p["qualification"][0]["code"]["text"],
                role["code"][0]["coding"][0]["code"],
                _DEPARTMENT_BY_NAME[role["specialty"][0]["text"]],
                role["period"]["start"],
                role["active"],
            )
        )
    return out
