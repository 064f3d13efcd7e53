"""Recording what does not pass through the FHIR router: sign-ins (web form, OAuth2 token endpoint,
rejected bearer tokens) and views of the audit log itself (an auditor reading who accessed a patient is
an access too). Each becomes an Access handed to the gate's observers, like any request."""

from __future__ import annotations

from yilian.fhir.messages import FhirRequest
from yilian.fhir.outcomes import unauthorized
from yilian.gate.access import Access
from yilian.gate.caller import Caller


def login(gate, user, attempted: str, ok: bool, channel: str) -> None:  # noqa: ANN001 - a Gate, a User or None
    """A sign-in attempt: `user` when it succeeded, else the name or token hint that was tried."""
    if user is not None:
        caller = Caller(user.id, user.name, user.organization, user.roles, "HOPERAT", user.patient_id)
    else:
        caller = Caller(
            attempted[:64] or "unknown", attempted[:64] or "unknown", None, frozenset(), "HOPERAT"
        )
    access = Access(caller, FhirRequest("POST", f"$login/{channel}"), "login")
    if not ok:
        access.error = unauthorized(f"sign-in refused ({channel})")
    gate.notify(access)


def viewed(gate, caller: Caller, what: str, patients: set[str] = frozenset()) -> None:  # noqa: ANN001
    """An auditor or a patient viewed the audit log (`what`: access-log, audit-search, proof...)."""
    from yilian.store.repository import Stored

    touched = [Stored(0, "Patient", p, 0, 0.0, False, None, b"{}") for p in sorted(patients)]
    gate.notify(Access(caller, FhirRequest("GET", f"$audit/{what}"), f"audit-{what}"[:32], touched=touched))
