"""The CapabilityStatement at /fhir/metadata, generated from what the router and store support."""

from __future__ import annotations

from functools import cache

from yilian import __version__
from yilian.config import Settings
from yilian.store.search.params import search_params

# The resource types the alliance works with and tests (every R4 type is accepted and stored).
CORE_TYPES = (
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "Organization",
    "Encounter",
    "Condition",
    "Observation",
    "DiagnosticReport",
    "ImagingStudy",
    "MedicationRequest",
    "MedicationStatement",
    "AllergyIntolerance",
    "Procedure",
    "Immunization",
    "ServiceRequest",
    "Task",
    "Consent",
    "AuditEvent",
    "DocumentReference",
    "CarePlan",
    "EpisodeOfCare",
    "Flag",
    "Appointment",
    "Questionnaire",
    "QuestionnaireResponse",
    "Provenance",
)
BULK = "http://hl7.org/fhir/uv/bulkdata"  # FHIR Bulk Data Access 2.0 ($export, yilian/export)
SEARCHABLE_KINDS = ("string", "token", "date", "reference", "quantity", "number", "uri")


def capability_statement(settings: Settings) -> dict:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-24",
        "kind": "instance",
        "software": {"name": "Yilian 医联", "version": __version__},
        "implementation": {
            "description": "Yilian medical-alliance health information exchange",
            "url": settings.base_url,
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "resource": _resources(),
                "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "history-system"}],
                "operation": [{"name": "export", "definition": f"{BULK}/OperationDefinition/export"}],
            }
        ],
    }


@cache
def _resources() -> list[dict]:
    out = []
    for rtype in CORE_TYPES:
        entry = {
            "type": rtype,
            "versioning": "versioned",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalUpdate": True,
            "conditionalDelete": "single",
            "interaction": [
                {"code": c}
                for c in (
                    "read",
                    "vread",
                    "update",
                    "delete",
                    "history-instance",
                    "history-type",
                    "create",
                    "search-type",
                )
            ],
            "searchInclude": ["*"],
            "searchRevInclude": ["*"],
            "searchParam": [
                {"name": code, "type": p.type}
                for code, p in sorted(search_params(rtype).items())
                if p.type in SEARCHABLE_KINDS
            ]
            + [{"name": "_id", "type": "token"}, {"name": "_lastUpdated", "type": "date"}],
        }
        if rtype == "Patient":
            entry["operation"] = [
                {
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                },
                {"name": "export", "definition": f"{BULK}/OperationDefinition/patient-export"},
            ]
        out.append(entry)
    return out
