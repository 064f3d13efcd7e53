"""The access policy, compiled to SQL: role, purpose of use, organisation, GB/T 39725 level, consent,
break-glass and SMART scopes. `read_scope` is ANDed into every read; `check_write` guards every write.

Who sees what (DOMAIN.md §2-3):
- everyone signed in with a role: level 1-2 data (the directory: members, practitioners);
- care roles under TREAT: their own member's records (level 5 only for clinicians and nurses, the
  attending team), and other members' records where the patient's newest applicable consent permits
  (level 5 only when the consent names the class); under ETREAT also the records of patients they
  opened by break-glass (up to level 4);
- member systems and IT: their own member's data;
- patients: their own compartment, every level;
- public-health officers under PUBHLTH: public-health category data (a legal basis: the patient is told);
- researchers: nothing identified (they get de-identified extracts elsewhere); auditors: the audit trail;
- the alliance administrator and the local operator: everything.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy import ColumnElement, false, or_, select, true

from yilian.consent.filters import PatientDecisions, consented_for_patient, consented_now
from yilian.fhir.outcomes import forbidden
from yilian.gate.caller import Caller
from yilian.store.tables import compartment, resources

R = resources.c

CARE_ROLES = ("clinician", "nurse", "family-doctor", "pharmacist")
ATTENDING_ROLES = ("clinician", "nurse")  # may see level-5 data of their own member
MEMBER_ROLES = ("member-system", "member-it")
WRITER_ROLES = (*CARE_ROLES, *MEMBER_ROLES)
DIRECTORY_LEVEL = 2  # levels 1-2: public or wide access without identifying anyone

PURPOSES_OF_ROLE = {
    "admin": {"TREAT", "ETREAT", "HPAYMT", "HOPERAT", "PUBHLTH", "HRESCH", "PATRQT"},
    "clinician": {"TREAT", "ETREAT"},
    "nurse": {"TREAT", "ETREAT"},
    "family-doctor": {"TREAT"},
    "pharmacist": {"TREAT"},
    "member-system": {"TREAT", "HOPERAT", "HPAYMT"},
    "member-it": {"HOPERAT"},
    "researcher": {"HRESCH"},
    "public-health": {"PUBHLTH"},
    "auditor": {"HOPERAT"},
    "patient": {"PATRQT"},
    "mpi-steward": {"HOPERAT"},
}


PREFERRED = ("TREAT", "PATRQT", "HOPERAT", "PUBHLTH", "HRESCH", "HPAYMT", "ETREAT")


def default_purpose(roles: frozenset[str]) -> str:
    """The purpose a request carries when it names none: the first the roles allow, TREAT first."""
    allowed = set().union(*(PURPOSES_OF_ROLE.get(r, set()) for r in roles)) if roles else set()
    return next((p for p in PREFERRED if p in allowed), "TREAT")


def allowed_purposes(caller: Caller) -> set[str]:
    return set().union(*(PURPOSES_OF_ROLE.get(r, set()) for r in caller.roles)) if caller.roles else set()


def check_purpose(caller: Caller) -> None:
    allowed = allowed_purposes(caller)
    if caller.roles and caller.purpose not in allowed:
        raise forbidden(
            f"Purpose of use {caller.purpose} is not open to your roles ({', '.join(sorted(caller.roles))}); "
            f"use one of {', '.join(sorted(allowed)) or 'none'}"
        )


def uses_consent(caller: Caller) -> bool:
    """Whether the caller's scope depends on patients' consents (care roles treating)."""
    return (
        not caller.has("admin")
        and caller.has(*CARE_ROLES)
        and caller.purpose in ("TREAT", "ETREAT")
        and bool(caller.organization)
    )


def read_scope(caller: Caller, break_glass_patients: Iterable[str] = (), now: float | None = None):
    """The rows of `resources` this caller may read for this purpose, as one SQL condition (the same
    object for the same caller within a minute, so statements built on it can be reused)."""
    minute = int((time.time() if now is None else now) // 60)
    return _read_scope(caller, tuple(sorted(break_glass_patients)), minute, None)


def patient_read_scope(
    caller: Caller, break_glass_patients: Iterable[str], decisions: PatientDecisions | None, now: float
):
    """`read_scope` for reads confined to one patient's compartment ($everything), that patient being the
    `patient_id` bind parameter, with their consents decided up front (`consent.filters.decide_for_patient`;
    None for callers whose scope does not use consent)."""
    return _read_scope(caller, tuple(sorted(break_glass_patients)), int(now // 60), decisions)


@lru_cache(maxsize=4096)
def _read_scope(
    caller: Caller, emergency: tuple[str, ...], minute: int, patient: PatientDecisions | None
) -> ColumnElement[bool]:
    if caller.has("admin"):
        return _types(caller, true())
    if not caller.roles:
        return false()
    parts = [R.level <= DIRECTORY_LEVEL]
    org = caller.organization
    purpose = caller.purpose
    if caller.has(*CARE_ROLES) and purpose in ("TREAT", "ETREAT") and org:
        own = R.member == org
        parts.append(own if caller.has(*ATTENDING_ROLES) else own & (R.level < 5))
        if patient is None:
            parts.append(consented_now("TREAT", org, minute * 60.0))
        else:
            parts.append(consented_for_patient(patient, minute))
        if purpose == "ETREAT" and emergency:
            in_emergency = R.rid.in_(select(compartment.c.rid).where(compartment.c.patient_id.in_(emergency)))
            parts.append(in_emergency & (R.level < 5))
    if caller.has(*MEMBER_ROLES) and org:
        parts.append(R.member == org)
    if caller.has("patient") and caller.patient_id:
        parts.append(
            R.rid.in_(select(compartment.c.rid).where(compartment.c.patient_id == caller.patient_id))
        )
    if caller.has("public-health") and purpose == "PUBHLTH":
        parts.append(R.category == "PH")
    if caller.has("auditor"):
        parts.append(R.type == "AuditEvent")
    if caller.has("mpi-steward"):  # compares registrations from every member to review matches
        parts.append(R.type.in_(("Patient", "Person")))
    return _types(caller, or_(*parts))


def _types(caller: Caller, scope: ColumnElement[bool]) -> ColumnElement[bool]:
    """Narrow a scope to the resource types the caller's SMART scopes may read."""
    from yilian.gate.scopes import readable_types

    types = readable_types(caller.scopes)
    return scope if types is None else scope & R.type.in_(sorted(types))


def may_see_sensitive_elements(caller: Caller, member: str | None) -> bool:
    """Whether level-5 elements inside a lower-level resource are shown rather than redacted."""
    if caller.has("admin", "patient"):
        return True
    return bool(member) and member == caller.organization and caller.has(*ATTENDING_ROLES)


def sensitive_elements_visible_sql(caller: Caller) -> ColumnElement[bool]:
    """`may_see_sensitive_elements` as SQL, to keep searches on redacted elements from leaking."""
    if caller.has("admin", "patient"):
        return true()
    if caller.has(*ATTENDING_ROLES) and caller.organization:
        return R.member == caller.organization
    return false()


def check_write(caller: Caller, rtype: str, existing_member: str | None) -> None:
    """Raise 403 unless the caller may create or change a resource owned by `existing_member`."""
    from yilian.gate.scopes import check_scope

    check_scope(caller.scopes, rtype, "u" if existing_member else "c")
    if caller.has("admin"):
        return
    if rtype == "Consent" and caller.has("patient"):
        return  # patients give and withdraw their own consent (checked by the consent rules)
    if not caller.has(*WRITER_ROLES):
        raise forbidden(f"Your roles ({', '.join(sorted(caller.roles)) or 'none'}) cannot write {rtype}")
    if existing_member and existing_member != caller.organization:
        raise forbidden(f"This {rtype} belongs to member {existing_member}; only that member can change it")


def member_for_write(caller: Caller, resource_member: str | None) -> str | None:
    """The member recorded as a new version's source: the caller's organisation, unless an admin loads data
    on a member's behalf (then the resource's own source-member tag stands)."""
    if caller.has("admin"):
        return resource_member or caller.organization
    return caller.organization
