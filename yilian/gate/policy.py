"""The first access policy, compiled to SQL: role and organisation scoping.

- admin (alliance administrator) and operators: everything;
- care roles (clinician, nurse, family doctor, pharmacist): every member's clinical data (sharing across the
  alliance is the point; the governance issue narrows this by consent and GB/T 39725 level);
- member-system / member-it: the data their own member sent, plus the shared directory;
- patient: their own compartment plus the directory;
- anyone else: the directory only (names of members and practitioners are level-1 public data).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true

from yilian.fhir.outcomes import forbidden
from yilian.gate.caller import Caller
from yilian.store.tables import compartment, resources

R = resources.c

DIRECTORY_TYPES = (
    "Organization",
    "Practitioner",
    "PractitionerRole",
    "Location",
    "HealthcareService",
    "Endpoint",
    "Questionnaire",
    "Medication",
    "CapabilityStatement",
    "SearchParameter",
)
CARE_ROLES = ("clinician", "nurse", "family-doctor", "pharmacist")
MEMBER_ROLES = ("member-system", "member-it")


def read_scope(caller: Caller) -> ColumnElement[bool]:
    """The rows of `resources` this caller may read, as one SQL condition."""
    if caller.has("admin") or caller.has(*CARE_ROLES):
        return true()
    directory = R.type.in_(DIRECTORY_TYPES)
    if caller.has(*MEMBER_ROLES) and caller.organization:
        return or_(R.member == caller.organization, directory)
    if caller.has("patient") and caller.patient_id:
        own = select(compartment.c.rid).where(compartment.c.patient_id == caller.patient_id)
        return or_(R.rid.in_(own), directory)
    return directory if caller.roles else false()


def check_write(caller: Caller, rtype: str, existing_member: str | None) -> None:
    """Raise 403 unless the caller may create or change a resource owned by `existing_member`."""
    if caller.has("admin"):
        return
    if not caller.has(*CARE_ROLES, *MEMBER_ROLES):
        raise forbidden(f"Your roles ({', '.join(sorted(caller.roles)) or 'none'}) cannot write {rtype}")
    if existing_member and existing_member != caller.organization:
        raise forbidden(f"This {rtype} belongs to member {existing_member}; only that member can change it")


def member_for_write(caller: Caller, resource_member: str | None) -> str | None:
    """The member recorded as a new version's source: the caller's organisation, unless an admin loads data
    on a member's behalf (then the resource's own source-member tag stands)."""
    if caller.has("admin"):
        return resource_member or caller.organization
    return caller.organization
