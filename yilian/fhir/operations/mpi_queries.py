"""Master patient index queries (yilian/identity):

- Patient/$ihe-pix (PIXm, ITI-83): ?sourceIdentifier=system|value[&targetSystem=...] -> Parameters with a
  targetIdentifier and targetId for every other record of the same person, and the golden Person.
- Patient/$match (FHIR R4 / PDQm ITI-119): POST Parameters {resource: Patient, onlyCertainMatches, count}
  -> a searchset Bundle of Patients with search.score and the match-grade extension.
- Person/[id]/$golden, Patient/[id]/$person: the golden FHIR Person (best value of each field, the source of
  each in the golden-source extension, a link to every record), built from the records the caller may see.
- Patient/$pdq: the same matching from query parameters (name, birthdate, gender, identifier, phone,
  address): a demographic search that sees through pinyin, homophones, word order and typos.

Every Patient returned is read through the caller's gate: what the caller may not see is left out.
"""

from __future__ import annotations

from yilian.alliance.codes import RESIDENT_ID
from yilian.fhir import bundles
from yilian.fhir.messages import FhirRequest, FhirResponse
from yilian.fhir.operations import operation
from yilian.fhir.outcomes import FhirError, bad_request, not_found
from yilian.gate.repository import GatedRepository
from yilian.identity import index, persons
from yilian.identity import model as models
from yilian.identity.decide import AUTO, REVIEW
from yilian.identity.normalize import features
from yilian.identity.params import value
from yilian.identity.pix import cross_references, split_token
from yilian.identity.realtime import Candidate, match
from yilian.identity.settings import PERSON_SPEC

MATCH_GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"


@operation("Patient", "$ihe-pix", instance=False)
def pix(repo: GatedRepository, req: FhirRequest, _id: None) -> FhirResponse:
    source = value(req, "sourceIdentifier", required=True)
    system, ident = (
        split_token(source) if isinstance(source, str) else (source.get("system"), source["value"])
    )
    targets = [v for k, v in req.query if k == "targetSystem"] or None
    person_id, refs = cross_references(repo, system, ident, targets)
    params = []
    for patient_id, identifier in refs:
        params.append({"name": "targetIdentifier", "valueIdentifier": identifier})
        params.append({"name": "targetId", "valueReference": {"reference": f"Patient/{patient_id}"}})
    params.append({"name": "person", "valueReference": {"reference": f"Person/{person_id}"}})
    return FhirResponse(200, {"resourceType": "Parameters", "parameter": params})


@operation("Patient", "$match", instance=False)
def match_op(repo: GatedRepository, req: FhirRequest, _id: None) -> FhirResponse:
    patient = value(req, "resource", required=True)
    if not isinstance(patient, dict) or patient.get("resourceType") != "Patient":
        raise bad_request("'resource' must be a Patient")
    only_certain = str(value(req, "onlyCertainMatches") or "false").lower() == "true"
    count = int(value(req, "count") or 10)
    return _bundle(repo, patient, count, only_certain)


@operation("Patient", "$pdq", instance=False)
def pdq(repo: GatedRepository, req: FhirRequest, _id: None) -> FhirResponse:
    q = dict(req.query)
    patient: dict = {"resourceType": "Patient"}
    if q.get("name"):
        patient["name"] = [{"text": q["name"]}]
    if q.get("birthdate"):
        patient["birthDate"] = q["birthdate"]
    if q.get("gender"):
        patient["gender"] = q["gender"]
    if q.get("identifier"):
        system, ident = split_token(q["identifier"])
        patient["identifier"] = [{"system": system or RESIDENT_ID, "value": ident}]
    if q.get("phone"):
        patient["telecom"] = [{"system": "phone", "value": q["phone"]}]
    if q.get("address"):
        patient["address"] = [{"use": "home", "text": q["address"]}]
    if len(patient) == 1:
        raise bad_request("Give at least one of name, birthdate, gender, identifier, phone, address")
    return _bundle(repo, patient, int(q.get("_count", 10)), only_certain=False, floor=-30.0)


def _bundle(
    repo: GatedRepository, patient: dict, count: int, only_certain: bool, floor: float = -5.0
) -> FhirResponse:
    model = models.active(repo.conn, PERSON_SPEC)
    entries = []
    for c in match(repo.conn, PERSON_SPEC, model, features(patient)):
        grade = _grade(c, model.review_weight, floor)
        if grade is None or (only_certain and grade != "certain"):
            continue
        try:
            stored = repo.read("Patient", c.record.patient_id)
        except FhirError:
            continue  # not visible to this caller
        entry = bundles.entry(repo.settings.base_url, stored, "match")
        entry["search"]["score"] = round(c.score.probability, 4)
        entry["search"]["extension"] = [{"url": MATCH_GRADE, "valueCode": grade}]
        entries.append(entry)
        if len(entries) >= count:
            break
    return FhirResponse(
        200, {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
    )


def _grade(c: Candidate, review_weight: float, floor: float) -> str | None:
    if c.decision.outcome == AUTO:
        return "certain"
    if c.decision.outcome == REVIEW:
        return "probable"
    if c.score.weight >= review_weight + floor:
        return "possible"
    return None


@operation("Person", "$golden", instance=True)
def golden_person(repo: GatedRepository, req: FhirRequest, person_id: str) -> FhirResponse:
    """The golden Person of a person id ($ihe-pix names it), built from the records the caller may see."""
    person = persons.person_for(repo, person_id)
    if person is None:
        raise not_found(f"Person/{person_id} is not a person of the master patient index you may see")
    return FhirResponse(200, person)


@operation("Patient", "$person", instance=True)
def person_of_patient(repo: GatedRepository, req: FhirRequest, patient_id: str) -> FhirResponse:
    """The golden Person of the person a Patient belongs to."""
    repo.read("Patient", patient_id)  # 404 unless the caller may see it
    rec = index.get(repo.conn, patient_id)
    if rec is None:
        raise not_found(f"Patient/{patient_id} is not in the master patient index yet")
    return golden_person(repo, req, rec.person_id)
