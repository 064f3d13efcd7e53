"""What the gate does around every write: label the resource (GB/T 39725), check a Consent records a real
act by the right patient, and keep the consent grants in step once it is stored."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection

from yilian.consent import service as consent_service
from yilian.consent.model import capture_problems
from yilian.fhir.outcomes import FhirError, forbidden
from yilian.gate import labels
from yilian.gate.caller import Caller
from yilian.store.repository import Stored


def before_write(caller: Caller, resource: dict) -> None:
    labels.label(resource)
    if resource.get("resourceType") == "Consent":
        problems = capture_problems(resource)
        if problems:
            raise FhirError(422, problems)
        patient = resource["patient"]["reference"].split("/", 1)[1]
        if caller.has("patient") and not caller.has("admin") and patient != caller.patient_id:
            raise forbidden("A patient can only give or withdraw consent for their own record")


def after_write(conn: Connection, stored: Stored) -> None:
    if stored.type == "Consent":
        consent = {"id": stored.id} if stored.deleted else orjson.loads(stored.content)
        consent_service.refresh(conn, consent, deleted=stored.deleted, recorded_fallback=stored.last_updated)
