"""One request (a gate Access) → one FHIR R4 AuditEvent shaped by IHE BALP, and the columns the views query.

BALP patterns used: RESTful interactions (type `rest`, subtype the restful-interaction code), the user
agent as requestor (IRCP when reading, AGNT when writing, PAT when the user is the patient) with their
roles, purpose of use and the Consent ids that authorised the access (`agent.policy`), the member
organisation as a second agent, the patient(s) as entities (role Patient), the resources touched (role
Domain Resource, versioned references) and, for queries, the query itself (role Query, base64).
Break-glass accesses carry purpose ETREAT and the reason on the patient entity.
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

import orjson

from yilian.gate.access import Access

EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
INTERACTION = "http://hl7.org/fhir/restful-interaction"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ROLE_CLASS = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
USER_SID = "https://yilian.org/fhir/sid/user"
ROLE_SYSTEM = "https://yilian.org/fhir/CodeSystem/role"
BREAK_GLASS_DETAIL = "break-glass-reason"
BALP = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."

QUERIES = frozenset({"search", "history", "everything"})
ACTIONS = {"create": "C", "update": "U", "delete": "D", "read": "R", "vread": "R", "history": "R"}
SUBTYPES = {"search": "search-type", "everything": "operation", "transaction": "transaction"}
MASKED_PARAMS = frozenset({"identifier", "phone", "telecom", "email", "name", "family", "given", "address"})
MAX_ENTITIES = 2000  # a bulk Bundle still lists what it wrote, up to this many resources


@dataclass
class Event:
    """A recorded access: the AuditEvent's canonical JSON and the columns kept beside it."""

    recorded: float
    user_id: str | None
    member: str | None
    action: str
    outcome: int
    purpose: str | None
    break_glass: str | None
    patients: set[str] = field(default_factory=set)
    entry: bytes = b""

    def row(self) -> dict:
        return {
            "recorded": self.recorded,
            "user_id": self.user_id,
            "member": self.member,
            "action": self.action,
            "outcome": self.outcome,
            "purpose": self.purpose,
            "break_glass": self.break_glass,
        }


def consent_ids(notes: dict) -> list[str]:
    """Consent ids the governance code noted, whatever shape it used (ids, references or dicts)."""
    found = notes.get("consent") or []
    if isinstance(found, str | dict):
        found = [found]
    ids = []
    for item in found if isinstance(found, list | tuple | set) else []:
        value = item.get("id") if isinstance(item, dict) else item
        if value:
            ids.append(str(value).removeprefix("Consent/"))
    return sorted(set(ids))


def break_glass_reasons(notes: dict, patients: set[str]) -> dict[str, str]:
    """The break-glass reason for each patient of this access that was opened under break-glass."""
    marked = notes.get("break_glass")
    if not marked:
        return {}
    if isinstance(marked, dict):
        return {p: str(r) for p, r in marked.items() if p in patients}
    reason = marked if isinstance(marked, str) else "break-glass"
    return dict.fromkeys(patients, reason)


def instant(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def status_of(access: Access) -> int:
    if access.error is not None:
        return int(access.error.status)
    return int(access.response.status) if access.response is not None else 200


def outcome_code(status: int) -> str:
    return "0" if status < 400 else ("4" if status < 500 else "8")


def build(access: Access, patients: set[str], now: float | None = None) -> Event:
    now = time.time() if now is None else now
    caller, notes = access.caller, access.notes or {}
    status = status_of(access)
    reasons = break_glass_reasons(notes, patients)
    resource = {
        "resourceType": "AuditEvent",
        "id": uuid.uuid4().hex,
        "meta": {"profile": [BALP + _profile(access.action, bool(patients))]},
        "type": _type(access.action),
        "subtype": [_subtype(access)],
        "action": ACTIONS.get(access.action, "E"),
        "recorded": instant(now),
        "outcome": outcome_code(status),
        "purposeOfEvent": [{"coding": [{"system": ACT_REASON, "code": caller.purpose}]}],
        "agent": _agents(access, consent_ids(notes)),
        "source": {"observer": {"display": "Yilian 医联"}, "type": [{"system": SOURCE_TYPE, "code": "4"}]},
        "entity": _entities(access, patients, reasons),
    }
    if access.error is not None:
        resource["outcomeDesc"] = str(access.error)[:500]
    return Event(
        recorded=now,
        user_id=caller.user_id,
        member=caller.organization,
        action=access.action[:32],
        outcome=status,
        purpose=caller.purpose,
        break_glass="; ".join(sorted(set(reasons.values()))) or None,
        patients=patients,
        entry=orjson.dumps(resource, option=orjson.OPT_SORT_KEYS),
    )


def _masked(param: str, value: str) -> str:
    """Identifiers searched for stay out of the unerasable log: the parameter is kept, not its value."""
    name = param.split(":", 1)[0].split(".")[-1]
    return "***" if name in MASKED_PARAMS else value


def _profile(action: str, has_patient: bool) -> str:
    if action == "login":
        return "Login"
    kind = {"create": "Create", "update": "Update", "delete": "Delete", "read": "Read", "vread": "Read"}
    name = kind.get(action, "Query")
    return f"Patient{name}" if has_patient else name


def _type(action: str) -> dict:
    if action == "login":
        return {"system": DCM, "code": "110114", "display": "User Authentication"}
    return {"system": EVENT_TYPE, "code": "rest", "display": "RESTful Operation"}


def _subtype(access: Access) -> dict:
    if access.action == "login":
        return {"system": DCM, "code": "110122", "display": "Login"}
    code = SUBTYPES.get(access.action, access.action)
    if code not in ("read", "vread", "update", "delete", "create", "history", "search-type", "transaction"):
        code = "operation"
    return {"system": INTERACTION, "code": code}


def _agents(access: Access, consents: list[str]) -> list[dict]:
    caller = access.caller
    if caller.has("patient"):
        kind = {"system": ROLE_CLASS, "code": "PAT", "display": "patient"}
    elif access.writing:
        kind = {"system": ROLE_CLASS, "code": "AGNT", "display": "agent"}
    else:
        kind = {"system": PARTICIPATION, "code": "IRCP", "display": "information recipient"}
    user: dict = {
        "type": {"coding": [kind]},
        "who": {"identifier": {"system": USER_SID, "value": caller.user_id}, "display": caller.name},
        "requestor": True,
        "role": [{"coding": [{"system": ROLE_SYSTEM, "code": r}]} for r in sorted(caller.roles)],
        "purposeOfUse": [{"coding": [{"system": ACT_REASON, "code": caller.purpose}]}],
    }
    if consents:
        user["policy"] = [f"Consent/{c}" for c in consents]
    agents = [user]
    if caller.organization:
        agents.append(
            {
                "type": {
                    "coding": [{"system": ROLE_CLASS, "code": "PROV", "display": "healthcare provider"}]
                },
                "who": {"reference": f"Organization/{caller.organization}"},
                "requestor": False,
            }
        )
    return agents


def _entities(access: Access, patients: set[str], reasons: dict[str, str]) -> list[dict]:
    entities = []
    for pid in sorted(patients):
        entity: dict = {
            "what": {"reference": f"Patient/{pid}"},
            "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
            "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
        }
        if pid in reasons:
            entity["detail"] = [{"type": BREAK_GLASS_DETAIL, "valueString": reasons[pid]}]
        entities.append(entity)
    if access.action in QUERIES:
        pairs = [(k, _masked(k, v)) for k, v in access.request.query]
        query = access.request.path + ("?" + urlencode(pairs) if pairs else "")
        entities.append(
            {
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": OBJECT_ROLE, "code": "24", "display": "Query"},
                "query": base64.b64encode(query.encode()).decode(),
                "detail": [{"type": "results", "valueString": str(len(access.touched))}],
            }
        )
        return entities
    for s in access.touched[:MAX_ENTITIES]:
        if s.version == 0:
            continue  # a patient named by an audit-log view: already the patient entity
        entities.append(
            {
                "what": {"reference": f"{s.type}/{s.id}/_history/{s.version}"},
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
            }
        )
    if len(access.touched) > MAX_ENTITIES:
        entities.append(
            {
                "type": {"system": ENTITY_TYPE, "code": "2"},
                "detail": [
                    {"type": "more-resources", "valueString": str(len(access.touched) - MAX_ENTITIES)}
                ],
            }
        )
    return entities
