"""What the demo alliance's truth holds against what the store holds after its feeds were ingested.

Each resource is reduced to its clinically meaningful facts (`facts`): codes, values, dates, subject,
visit, clinicians (name, sex, birth date, phone, title), their roles (kind, department, specialty, since),
study/series/instance UIDs, allergy substance and reaction. The truth is each member's bundles and, for
each member that sends a feed, its roster (the staff master file or staff export it sends). References are
followed to something both sides share (a Patient's record number, a visit's start, a clinician's staff
number), since the truth's urn:uuid references and the store's ids never match. Codes are compared in
the system the alliance standardises on for that element; a local code the member's table
deliberately lacks (local_codes.GAPS, shown by the quality report) is read through the full table.

`compare` returns, per (member, resource type), the facts the truth has and the store lacks, and the
facts the store has that the truth does not: both empty means nothing was lost or invented.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import sqlalchemy as sa

from yilian.alliance.codes import HEALTH_RECORD_OID_ROOT, SOURCE_MEMBER
from yilian.demo.alliance import MEMBERS, DemoAlliance
from yilian.demo.care import COMMUNITY
from yilian.demo.feeds import sends_feed
from yilian.demo.local_codes import code_tables
from yilian.ingest.codes import local_system
from yilian.store.tables import resources

LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SCT = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
DCM = "http://dicom.nema.org/resources/ontology/DCM"

NOT_FROM_FEEDS = ("Organization", "Consent")  # the directory and the residents' consents, seeded apart
Resolve = Callable[[dict | None], object]  # a reference -> what both sides share about its target


# --- the two sides ---------------------------------------------------------------------------------


def truth_resources(alliance: DemoAlliance, follow: bool = True) -> dict[str, list[tuple[dict, Resolve]]]:
    """member -> [(resource, resolver)] from the generated Bundles (urn:uuid references)."""
    out: dict[str, list[tuple[dict, Resolve]]] = {}
    senders = {m.id for m in MEMBERS if sends_feed(m)}
    rosters = [(member, bundle) for member, bundle in alliance.rosters if member in senders]
    for member, bundle in [*rosters, *alliance.feeds]:
        by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
        resolve = _resolver(by_url.get, follow)
        out.setdefault(member, []).extend((r, resolve) for r in by_url.values())
    return out


def stored_resources(engine: sa.Engine, follow: bool = True) -> dict[str, list[tuple[dict, Resolve]]]:
    """member -> [(resource, resolver)] as the store holds them (Type/id references)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(resources.c.type, resources.c.id, resources.c.content).where(~resources.c.deleted)
        ).all()
    by_ref = {f"{t}/{i}": json.loads(content) for t, i, content in rows}
    resolve = _resolver(by_ref.get, follow)
    out: dict[str, list[tuple[dict, Resolve]]] = {}
    for resource in by_ref.values():
        member = next(
            (t["code"] for t in resource.get("meta", {}).get("tag", []) if t.get("system") == SOURCE_MEMBER),
            None,
        )
        if member and resource["resourceType"] not in NOT_FROM_FEEDS:
            out.setdefault(member, []).append((resource, resolve))
    return out


def _resolver(lookup: Callable[[str], dict | None], follow: bool) -> Resolve:
    """Without `follow`, a reference only says that there is one (and to which member's Organization)."""

    def resolve(ref: dict | None) -> object:
        if not ref:
            return None
        reference = ref.get("reference", "")
        if reference.startswith("Organization/"):
            return reference
        if not follow:
            return "(reference)" if reference else ("display only", ref.get("display"))
        target = lookup(reference)
        return natural_key(target) if target is not None else ("dangling", reference.split("/")[0])

    return resolve


def dangling(engine: sa.Engine) -> Counter:
    """(member, type, element) -> how many references in the store point at nothing."""
    out: Counter = Counter()
    for member, items in stored_resources(engine).items():
        for r, resolve in items:
            for name in ("subject", "patient", "encounter"):
                if isinstance(found := resolve(r.get(name)), tuple) and found[0] == "dangling":
                    out[(member, r["resourceType"], name)] += 1
    return out


def natural_key(r: dict) -> object:
    """What identifies a referenced resource on both sides."""
    rtype = r["resourceType"]
    if rtype == "Patient":
        return mrn(r)
    if rtype == "Encounter":
        return ("Encounter", r["period"]["start"])
    if rtype in ("Practitioner", "PractitionerRole"):
        return (rtype, r["identifier"][0]["value"]) if r.get("identifier") else (rtype, None)
    if rtype == "Condition":
        return ("Condition", code(r["code"], ICD10))
    if rtype == "ImagingStudy":
        return ("ImagingStudy", r["identifier"][0]["value"])
    return (rtype, None)


def mrn(patient: dict) -> str:
    return next(
        i["value"]
        for i in patient["identifier"]
        if i["system"].startswith(f"urn:oid:{HEALTH_RECORD_OID_ROOT}.")
    )


# --- codes -----------------------------------------------------------------------------------------

_FULL_TABLES: dict[str, dict[tuple[str, str], list[dict]]] = {}


def _full_table(member: str) -> dict[tuple[str, str], list[dict]]:
    """(local system, local code) -> standard codings, gaps included (what the code means)."""
    if member not in _FULL_TABLES:
        _FULL_TABLES[member] = {
            (local_system(member, kind), local): codings
            for kind, table in code_tables(member, complete=True).items()
            for local, (_, codings) in table.items()
        }
    return _FULL_TABLES[member]


def code(concept: dict | None, system: str, member: str | None = None) -> str | None:
    if not concept:
        return None
    for c in concept.get("coding", []):
        if c.get("system") == system:
            return c["code"]
    for c in concept.get("coding", []):  # an unmapped local code: what it means
        for meant in _full_table(member or "").get((c.get("system"), c.get("code")), []):
            if meant["system"] == system:
                return meant["code"]
    return None


def _quantity(q: dict | None) -> tuple | None:
    return (float(q["value"]), q.get("code")) if q else None


def _first(items: list | None) -> dict | None:
    return items[0] if items else None


def _flag(x: dict) -> str | None:
    return code(
        _first(x.get("interpretation")), "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
    )


def _range(obs: dict) -> tuple | None:
    rr = _first(obs.get("referenceRange"))
    if not rr:
        return None
    return tuple(float(rr[k]["value"]) if k in rr else None for k in ("low", "high"))


def _status(concept: dict | None) -> str | None:
    return _first(concept.get("coding")).get("code") if concept and concept.get("coding") else None


def _dosage(d: dict | None, member: str) -> dict:
    if not d:
        return {}
    return {
        "dose": _quantity(
            _first(d.get("doseAndRate", [{}]))["doseQuantity"] if d.get("doseAndRate") else None
        ),
        "per_day": d.get("timing", {}).get("repeat", {}).get("frequency"),
        "route": code(d.get("route"), SCT, member),
        "text": d.get("text"),
    }


# --- facts per resource type -----------------------------------------------------------------------


def facts(r: dict, resolve: Resolve, member: str) -> dict[str, object]:
    """field -> value: the clinically meaningful content of one resource."""
    found = FACTS.get(r["resourceType"])
    return found(r, resolve, member) if found else {}


def _patient(r: dict, resolve: Resolve, member: str) -> dict:
    addr = _first(r.get("address")) or {}
    return {
        "identifiers": tuple(sorted((i["system"], i["value"]) for i in r.get("identifier", []))),
        "name": _first(r.get("name", [])).get("text") if r.get("name") else None,
        "gender": r.get("gender"),
        "birthDate": r.get("birthDate"),
        "telecom": tuple(sorted(t["value"] for t in r.get("telecom", []))),
        "address": (
            tuple(addr.get("line", [])),
            addr.get("city"),
            addr.get("district"),
            addr.get("postalCode"),
        ),
    }


def _encounter(r: dict, resolve: Resolve, member: str) -> dict:
    return {
        "class": r["class"]["code"],
        "type": code(_first(r.get("type")), SCT, member),
        "period": (r["period"].get("start"), r["period"].get("end")),
        "attender": resolve(_first(r.get("participant", [{}])).get("individual")),
        "serviceProvider": resolve(r.get("serviceProvider")),
    }


def _condition(r: dict, resolve: Resolve, member: str) -> dict:
    return {
        "code": code(r["code"], ICD10, member),
        "clinicalStatus": _status(r.get("clinicalStatus")),
        "category": _status(_first(r.get("category"))),
        "encounter": resolve(r.get("encounter")),
        "onset": r.get("onsetDateTime"),
        "abatement": r.get("abatementDateTime"),
        "recordedDate": r.get("recordedDate"),
        "recorder": resolve(r.get("recorder")),
    }


def _observation(r: dict, resolve: Resolve, member: str) -> dict:
    return {
        "code": code(r["code"], LOINC, member),
        "category": _status(_first(r.get("category"))),
        "effective": r.get("effectiveDateTime"),
        "value": _quantity(r.get("valueQuantity")),
        "interpretation": _flag(r),
        "referenceRange": _range(r),
        "components": tuple(
            (code(p["code"], LOINC, member), _quantity(p.get("valueQuantity")), _flag(p))
            for p in r.get("component", [])
        ),
        "encounter": resolve(r.get("encounter")),
        "performer": resolve(_first(r.get("performer"))),
    }


def _report(r: dict, resolve: Resolve, member: str) -> dict:
    lab = _status(_first(r.get("category"))) == "LAB"
    return {
        "category": _status(_first(r.get("category"))),
        "code": code(r["code"], LOINC if lab else SCT, member),
        "effective": r.get("effectiveDateTime"),
        "issued": r.get("issued"),
        "results": len(r.get("result", [])),
        "imagingStudy": tuple(resolve(s) for s in r.get("imagingStudy", [])),
        "conclusion": r.get("conclusion"),
        "interpreter": resolve(_first(r.get("resultsInterpreter"))),
        "encounter": resolve(r.get("encounter")),
        "performer": resolve(_first(r.get("performer"))),
    }


def _study(r: dict, resolve: Resolve, member: str) -> dict:
    return {
        "uid": r["identifier"][0]["value"],
        "modality": tuple(m["code"] for m in r.get("modality", [])),
        "started": r.get("started"),
        "procedure": code(_first(r.get("procedureCode")), SCT, member),
        "referrer": resolve(r.get("referrer")),
        "interpreter": resolve(_first(r.get("interpreter"))),
        "encounter": resolve(r.get("encounter")),
        "numberOfSeries": r.get("numberOfSeries"),
        "numberOfInstances": r.get("numberOfInstances"),
        "series": tuple(
            (
                s["uid"],
                s.get("number"),
                s["modality"]["code"],
                s.get("description"),
                s.get("numberOfInstances"),
                (s.get("bodySite") or {}).get("code"),
                s.get("started"),
                tuple((i["uid"], i["sopClass"]["code"], i.get("number")) for i in s.get("instance", [])),
            )
            for s in r.get("series", [])
        ),
    }


def _medication_request(r: dict, resolve: Resolve, member: str) -> dict:
    return {
        "drug": code(r["medicationCodeableConcept"], RXNORM, member),
        "status": r["status"],
        "category": _status(_first(r.get("category"))),
        "authoredOn": r.get("authoredOn"),
        "requester": resolve(r.get("requester")),
        "encounter": resolve(r.get("encounter")),
        **_dosage(_first(r.get("dosageInstruction")), member),
        "days": r.get("dispenseRequest", {}).get("expectedSupplyDuration", {}).get("value"),
    }


def _medication_statement(r: dict, resolve: Resolve, member: str) -> dict:
    return {
        "drug": code(r["medicationCodeableConcept"], RXNORM, member),
        "status": r["status"],
        "since": r.get("effectivePeriod", {}).get("start"),
        "dateAsserted": r.get("dateAsserted"),
        "source": resolve(r.get("informationSource")),
        **_dosage(_first(r.get("dosage")), member),
    }


def _allergy(r: dict, resolve: Resolve, member: str) -> dict:
    reaction = _first(r.get("reaction")) or {}
    manifestation = _first(reaction.get("manifestation"))
    return {
        "substance": code(r.get("code"), SCT, member),
        "type": r.get("type"),
        "category": tuple(r.get("category", [])),
        "criticality": r.get("criticality"),
        "clinicalStatus": _status(r.get("clinicalStatus")),
        "verificationStatus": _status(r.get("verificationStatus")),
        "reaction": (code(manifestation, SCT, member), (manifestation or {}).get("text")),
        "severity": reaction.get("severity"),
        "recordedDate": r.get("recordedDate"),
        "recorder": resolve(r.get("recorder")),
        "encounter": resolve(r.get("encounter")),
    }


def _procedure(r: dict, resolve: Resolve, member: str) -> dict:
    return {
        "code": code(r.get("code"), SCT, member),
        "status": r["status"],
        "performed": r.get("performedDateTime"),
        "performer": resolve(_first(r.get("performer", [{}])).get("actor")),
        "encounter": resolve(r.get("encounter")),
    }


def _immunization(r: dict, resolve: Resolve, member: str) -> dict:
    return {
        "vaccine": code(r["vaccineCode"], CVX, member),
        "status": r["status"],
        "occurrence": r.get("occurrenceDateTime"),
        "lot": r.get("lotNumber"),
        "site": (r.get("site") or {}).get("text"),
        "route": (r.get("route") or {}).get("text"),
        "dose": _quantity(r.get("doseQuantity")),
        "performer": resolve(_first(r.get("performer", [{}])).get("actor")),
    }


def _care_plan(r: dict, resolve: Resolve, member: str) -> dict:
    return {
        "title": r.get("title"),
        "status": r["status"],
        "start": r.get("period", {}).get("start"),
        "created": r.get("created"),
        "author": resolve(r.get("author")),
        "description": r.get("description"),
    }


def _practitioner(r: dict, resolve: Resolve, member: str) -> dict:
    return {
        "name": _first(r.get("name", [])).get("text") if r.get("name") else None,
        "gender": r.get("gender"),
        "birthDate": r.get("birthDate"),
        "telecom": tuple(sorted(t["value"] for t in r.get("telecom", []))),
        "qualification": tuple((q["code"].get("text")) for q in r.get("qualification", [])),
        "active": r.get("active"),
    }


def _role(r: dict, resolve: Resolve, member: str) -> dict:
    role = _first(r.get("code"))
    specialty = _first(r.get("specialty"))
    return {
        "practitioner": resolve(r.get("practitioner")),
        "organization": resolve(r.get("organization")),
        "code": code(role, "http://terminology.hl7.org/CodeSystem/practitioner-role", member),
        "title": (role or {}).get("text"),
        "specialty": (code(specialty, SCT, member), (specialty or {}).get("text")),
        "since": r.get("period", {}).get("start"),
        "active": r.get("active"),
    }


FACTS: dict[str, Callable[[dict, Resolve, str], dict]] = {
    "Patient": _patient,
    "Encounter": _encounter,
    "Condition": _condition,
    "Observation": _observation,
    "DiagnosticReport": _report,
    "ImagingStudy": _study,
    "MedicationRequest": _medication_request,
    "MedicationStatement": _medication_statement,
    "AllergyIntolerance": _allergy,
    "Procedure": _procedure,
    "Immunization": _immunization,
    "CarePlan": _care_plan,
    "Practitioner": _practitioner,
    "PractitionerRole": _role,
}


# --- comparison ------------------------------------------------------------------------------------


# What a member's feed does not carry, by format: (type, field) -> why. These are left out of the
# comparison; docs/ingest.md says the same.
NOT_CARRIED: dict[str, dict[tuple[str, str], str]] = {
    "hl7v2": {
        (
            "AllergyIntolerance",
            "reaction",
        ): "AL1-5 is free text (ST): the reaction's text arrives, not its code",
        (
            "AllergyIntolerance",
            "severity",
        ): "AL1 has no reaction severity (AL1-4 is the allergy's, criticality)",
        ("AllergyIntolerance", "recordedDate"): "AL1-6 is a date (DT): the time of day is not sent",
        ("AllergyIntolerance", "recorder"): "AL1 names nobody",
        ("Condition", "onset"): "DG1 has no onset (PRB-16 in a problem message has)",
        ("Condition", "abatement"): "DG1 has no resolution date",
        ("Condition", "clinicalStatus"): "DG1 says nothing of a diagnosis being resolved",
    },
    "csv": {},
}


def anchor(r: dict, resolve: Resolve, member: str) -> object:
    """Whose and which: the patient (or the clinician) a fact belongs to, and its own key."""
    rtype = r["resourceType"]
    if rtype in ("Practitioner", "PractitionerRole"):
        return natural_key(r)
    if rtype == "Patient":
        return mrn(r)
    subject = resolve(r.get("subject") or r.get("patient"))
    own = {
        "Encounter": lambda: r["period"]["start"],
        "Observation": lambda: (r.get("effectiveDateTime"), code(r["code"], LOINC, member)),
        "ImagingStudy": lambda: r["identifier"][0]["value"],
    }.get(rtype, lambda: None)()
    return (subject, own)


def fact_counts(
    side: dict[str, list[tuple[dict, Resolve]]], formats: dict[str, str]
) -> dict[tuple[str, str], Counter]:
    """(member, type) -> Counter of (anchor, field, value), without what the member's format does not
    carry (`formats`: member -> hl7v2 | csv)."""
    out: dict[tuple[str, str], Counter] = {}
    for member, items in side.items():
        skip = NOT_CARRIED[formats[member]]
        unique = {}  # a clinician appears in every bundle of the member that refers to them
        for r, resolve in items:
            rtype = r["resourceType"]
            key = (
                (rtype, json.dumps(natural_key(r)))
                if rtype in ("Practitioner", "PractitionerRole", "Patient")
                else id(r)
            )
            unique.setdefault(key, (r, resolve))
        for r, resolve in unique.values():
            rtype = r["resourceType"]
            if (rtype, "*") in skip:
                continue
            found = out.setdefault((member, rtype), Counter())
            a = json.dumps(anchor(r, resolve, member), default=str, ensure_ascii=False)
            found[(a, "(resource)", "")] += 1
            for name, value in facts(r, resolve, member).items():
                if (rtype, name) not in skip:
                    found[(a, name, json.dumps(value, default=str, ensure_ascii=False))] += 1
    return out


def compare(
    alliance: DemoAlliance, engine: sa.Engine, *, follow_references: bool = True
) -> dict[tuple[str, str], tuple[Counter, Counter]]:
    """(member, type) -> (facts lost, facts the store has that the truth does not), only where they differ.

    Without `follow_references`, a reference counts only as being there (whose patient, which visit or
    clinician is not compared)."""
    formats = {m.id: "csv" if m.kind == COMMUNITY else "hl7v2" for m in MEMBERS}
    truth = fact_counts(truth_resources(alliance, follow_references), formats)
    stored = fact_counts(stored_resources(engine, follow_references), formats)
    out = {}
    for key in sorted(set(truth) | set(stored)):
        lost = truth.get(key, Counter()) - stored.get(key, Counter())
        extra = stored.get(key, Counter()) - truth.get(key, Counter())
        if lost or extra:
            out[key] = (lost, extra)
    return out


def summary(differences: dict[tuple[str, str], tuple[Counter, Counter]]) -> list[str]:
    """One line per (member, type, field): how many facts lost / extra, with an example of each."""
    lines = []
    for (member, rtype), (lost, extra) in differences.items():
        fields = sorted({f for _, f, _ in lost} | {f for _, f, _ in extra})
        for name in fields:
            lost_here = [(a, v) for (a, f, v), n in lost.items() if f == name for _ in range(n)]
            extra_here = [(a, v) for (a, f, v), n in extra.items() if f == name for _ in range(n)]
            example = "; ".join(
                f"{what} e.g. {items[0]}"
                for what, items in (("lost", lost_here), ("extra", extra_here))
                if items
            )
            lines.append(
                f"{member} {rtype}.{name}: {len(lost_here)} lost, {len(extra_here)} extra; {example}"
            )
    return lines
