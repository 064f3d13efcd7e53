"""Who is asking: a user of a member organisation, with roles and a purpose of use."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# HL7 v3 PurposeOfUse codes the alliance recognises (DOMAIN.md §3).
PURPOSES = ("TREAT", "ETREAT", "HPAYMT", "HOPERAT", "PUBHLTH", "HRESCH", "PATRQT")

# Roles (the governance issue gives each its consent and level rules).
ROLES = (
    "admin",  # alliance administrator
    "clinician",
    "nurse",
    "family-doctor",
    "pharmacist",
    "member-system",  # a member's HIS/LIS/PACS feeding and reading its own data
    "member-it",
    "researcher",
    "public-health",
    "auditor",
    "patient",
    "mpi-steward",  # master patient index steward: reviews, links and unlinks records (yilian/identity)
)


@dataclass(frozen=True)
class Caller:
    user_id: str
    name: str
    organization: str | None
    roles: frozenset[str] = field(default_factory=frozenset)
    purpose: str = "TREAT"
    patient_id: str | None = None  # for the patient role: whose record is theirs
    scopes: frozenset[str] | None = None  # SMART on FHIR v2 scopes of the token; None: the roles decide

    def has(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)  # in C: every write and read asks (a generator cost 0.5 µs)

    def with_purpose(self, purpose: str) -> Caller:
        return replace(self, purpose=purpose)


def operator() -> Caller:
    """The local operator running the CLI on the server itself (load, demo, db upgrade)."""
    return Caller("operator", "本机运维 Local operator", None, frozenset({"admin"}), "HOPERAT")
