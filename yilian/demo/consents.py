"""The demo residents' consents: most agreed, at their community centre's desk, that the alliance's members
may use their records to treat them; a few declined, so the demo shows what a clinician sees then."""

from __future__ import annotations

import random

from yilian.alliance.codes import SOURCE_MEMBER
from yilian.consent.build import consent
from yilian.fhir.messages import FhirRequest
from yilian.fhir.router import handle
from yilian.gate.caller import Caller
from yilian.gate.repository import Gate

AGREE_SHARE = 0.85  # of residents
WHEN = "2026-03-01T09:30:00+08:00"


def consent_for(mrn: str, member_id: str, *, permit: bool) -> dict:
    """A Consent about the Patient with this MRN at this member, as captured at that member's desk."""
    patient = f"Patient?identifier={mrn}&_tag={SOURCE_MEMBER}|{member_id}"
    return consent(
        patient, permit=permit, when=WHEN, method="signature", channel="desk", evidence="知情同意书签字扫描件"
    )


def seed_consents(gate: Gate, truth: dict[str, list[tuple[str, str]]], seed: int, system_of) -> int:  # noqa: ANN001 - member id -> Caller
    """Post each resident's decision at every member that registered them; returns how many agreed."""
    rng = random.Random(seed ^ 0xC0)
    by_member: dict[str, list[dict]] = {}
    agreed = 0
    for _person, registrations in sorted(truth.items()):
        permit = rng.random() < AGREE_SHARE
        agreed += permit
        for member_id, mrn in registrations:
            by_member.setdefault(member_id, []).append(consent_for(mrn, member_id, permit=permit))
    for member_id, consents in by_member.items():
        caller: Caller = system_of(member_id)
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [{"resource": c, "request": {"method": "POST", "url": "Consent"}} for c in consents],
        }
        handle(gate, caller, FhirRequest("POST", "", body=bundle))
    return agreed
