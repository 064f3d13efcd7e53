"""One request (a gate Access) → one FHIR R4 AuditEvent shaped by IHE BALP, and the columns the views query.

BALP patterns used: RESTful interactions (type `rest`, subtype the restful-interaction code), the user
agent as requestor (IRCP when reading, AGNT when writing, PAT when the user is the patient) with their
roles, purpose of use and the Consent ids that authorised the access (`agent.policy`), the member
organisation as a second agent, the patient(s) as entities (role Patient), the resources touched (role
Domain Resource, versioned references) and, for queries, the query itself (role Query, base64).
Break-glass accesses carry purpose ETREAT and the reason on the patient entity.

Two steps: `capture` takes the plain facts of a request (cheap, on the request path), `shape` turns
facts and patients into the AuditEvent. A write does both at once (`build`); a SQLite read spools its
facts and is shaped when the spool is drained (audit.spool, audit.record.shape_spooled).
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
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
    found = notes.get("consent")
    if not found:
        return []
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


@dataclass(slots=True)
class Facts:
    """What an AuditEvent says about one request, captured cheaply while the request is answered: plain
    values only (no connection, no Stored), so the read path can make them durable as a few hundred bytes
    and the AuditEvent can be shaped later, when the spool is drained (`shape`)."""

    recorded: float
    user_id: str | None
    user_name: str | None
    organization: str | None
    roles: list[str]
    purpose: str | None
    as_patient: bool
    writing: bool
    action: str
    status: int
    error: str | None
    path: str
    query: list[tuple[str, str]]  # queries only: the parameters, identifying values already masked
    results: int  # how many resources the request touched
    resources: list[tuple[str, str, int]]  # non-queries: (type, id, version), up to MAX_ENTITIES
    consents: list[str]
    break_glass: dict[str, str] | str | None  # patient -> reason, or one reason for every patient
    patients: list[str] = field(default_factory=list)  # the patients known when captured
    deferred: list[tuple[int, int]] = field(default_factory=list)  # (rid, version) still to look up

    def pack(self) -> bytes:
        return orjson.dumps((FACTS_VERSION, _fields_of(self)))

    @staticmethod
    def unpack(data: bytes) -> Facts:
        version, values = orjson.loads(data)
        if version != FACTS_VERSION:
            raise ValueError(f"audit spool record of format {version}; this code reads {FACTS_VERSION}")
        facts = Facts(*values)
        facts.query = [(k, v) for k, v in facts.query]  # urlencode wants tuples
        facts.resources = [(t, i, v) for t, i, v in facts.resources]
        facts.deferred = [(rid, v) for rid, v in facts.deferred]
        return facts


FACTS_VERSION = 1
_fields_of = attrgetter(*Facts.__slots__)  # every field, in order, as one tuple (the packed form)


def capture(access: Access, now: float | None = None) -> Facts:
    """The facts of `access` (its patients are added by audit.patients)."""
    caller, notes, touched = access.caller, access.notes or {}, access.touched
    query = access.action in QUERIES
    return Facts(  # positional, in field order: this runs on every request
        time.time() if now is None else now,
        caller.user_id,
        caller.name,
        caller.organization,
        sorted(caller.roles),
        caller.purpose,
        "patient" in caller.roles,
        access.writing,
        access.action,
        status_of(access),
        str(access.error)[:500] if access.error is not None else None,
        access.request.path,
        [(k, _masked(k, v)) for k, v in access.request.query] if query else [],
        len(touched),
        # version 0: a patient named by an audit-log view, already the patient entity
        [] if query else [(s.type, s.id, s.version) for s in touched[:MAX_ENTITIES] if s.version != 0],
        consent_ids(notes),
        _break_glass(notes.get("break_glass")),
    )


def _break_glass(marked: object) -> dict[str, str] | str | None:
    if not marked:
        return None
    if isinstance(marked, dict):
        return {str(p): str(r) for p, r in marked.items()}
    return marked if isinstance(marked, str) else "break-glass"


def build(access: Access, patients: set[str], now: float | None = None) -> Event:
    """The Event of a request whose patients are known (writes, and anything recorded at once)."""
    return shape(capture(access, now), patients)


def shape(facts: Facts, patients: set[str]) -> Event:
    """The AuditEvent (canonical JSON) and its query columns, from captured facts and their patients."""
    reasons = break_glass_reasons({"break_glass": facts.break_glass}, patients)
    resource = {
        "resourceType": "AuditEvent",
        "id": uuid.uuid4().hex,
        "meta": {"profile": [BALP + _profile(facts.action, bool(patients))]},
        "type": _type(facts.action),
        "subtype": [_subtype(facts.action)],
        "action": ACTIONS.get(facts.action, "E"),
        "recorded": instant(facts.recorded),
        "outcome": outcome_code(facts.status),
        "purposeOfEvent": [{"coding": [{"system": ACT_REASON, "code": facts.purpose}]}],
        "agent": _agents(facts),
        "source": {"observer": {"display": "Yilian 医联"}, "type": [{"system": SOURCE_TYPE, "code": "4"}]},
        "entity": _entities(facts, patients, reasons),
    }
    if facts.error is not None:
        resource["outcomeDesc"] = facts.error
    return Event(
        recorded=facts.recorded,
        user_id=facts.user_id,
        member=facts.organization,
        action=facts.action[:32],
        outcome=facts.status,
        purpose=facts.purpose,
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
    if action == "export":  # bulk $export: data leaving the system in files
        return {"system": DCM, "code": "110106", "display": "Export"}
    return {"system": EVENT_TYPE, "code": "rest", "display": "RESTful Operation"}


def _subtype(action: str) -> dict:
    if action == "login":
        return {"system": DCM, "code": "110122", "display": "Login"}
    code = SUBTYPES.get(action, action)
    if code not in ("read", "vread", "update", "delete", "create", "history", "search-type", "transaction"):
        code = "operation"
    return {"system": INTERACTION, "code": code}


def _agents(facts: Facts) -> list[dict]:
    if facts.as_patient:
        kind = {"system": ROLE_CLASS, "code": "PAT", "display": "patient"}
    elif facts.writing:
        kind = {"system": ROLE_CLASS, "code": "AGNT", "display": "agent"}
    else:
        kind = {"system": PARTICIPATION, "code": "IRCP", "display": "information recipient"}
    user: dict = {
        "type": {"coding": [kind]},
        "who": {"identifier": {"system": USER_SID, "value": facts.user_id}, "display": facts.user_name},
        "requestor": True,
        "role": [{"coding": [{"system": ROLE_SYSTEM, "code": r}]} for r in facts.roles],
        "purposeOfUse": [{"coding": [{"system": ACT_REASON, "code": facts.purpose}]}],
    }
    if facts.consents:
        user["policy"] = [f"Consent/{c}" for c in facts.consents]
    agents = [user]
    if facts.organization:
        agents.append(
            {
                "type": {
                    "coding": [{"system": ROLE_CLASS, "code": "PROV", "display": "healthcare provider"}]
                },
                "who": {"reference": f"Organization/{facts.organization}"},
                "requestor": False,
            }
        )
    return agents


def _entities(facts: Facts, patients: set[str], reasons: dict[str, str]) -> list[dict]:
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
    if facts.action in QUERIES:
        query = facts.path + ("?" + urlencode(facts.query) if facts.query else "")
        entities.append(
            {
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": OBJECT_ROLE, "code": "24", "display": "Query"},
                "query": base64.b64encode(query.encode()).decode(),
                "detail": [{"type": "results", "valueString": str(facts.results)}],
            }
        )
        return entities
    for rtype, rid_id, version in facts.resources:
        entities.append(
            {
                "what": {"reference": f"{rtype}/{rid_id}/_history/{version}"},
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
            }
        )
    if facts.results > MAX_ENTITIES:
        entities.append(
            {
                "type": {"system": ENTITY_TYPE, "code": "2"},
                "detail": [{"type": "more-resources", "valueString": str(facts.results - MAX_ENTITIES)}],
            }
        )
    return entities
