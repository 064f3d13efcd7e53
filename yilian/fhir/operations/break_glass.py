"""Patient/[id]/$break-glass: a clinician opens the record in an emergency, giving a reason (Parameters
with a `reason` string, or ?reason=). Returns when the access ends; the patient is told."""

from __future__ import annotations

from yilian.fhir.messages import FhirRequest, FhirResponse
from yilian.fhir.operations import operation
from yilian.fhir.outcomes import bad_request
from yilian.gate.repository import GatedRepository
from yilian.store.search.dates import instant


@operation("Patient", "$break-glass", instance=True)
def run(repo: GatedRepository, req: FhirRequest, patient_id: str) -> FhirResponse:
    if req.method != "POST":
        raise bad_request("$break-glass changes access: use POST")
    reason = dict(req.query).get("reason") or _parameter(req.body, "reason")
    grant = repo.break_glass(patient_id, reason or "")
    return FhirResponse(
        200,
        {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "patient", "valueReference": {"reference": f"Patient/{patient_id}"}},
                {"name": "reason", "valueString": grant["reason"]},
                {"name": "expires", "valueInstant": instant(grant["expires"])},
                {"name": "purpose", "valueCode": "ETREAT"},
            ],
        },
    )


def _parameter(body: dict | None, name: str) -> str | None:
    for p in (body or {}).get("parameter", []):
        if p.get("name") == name:
            return p.get("valueString")
    return None
