"""Incident response: record a security incident, compute the patients it affected from the audit log,
notify them, and report.

An incident is scoped by a time window and, optionally, the users and the member involved (a stolen
account, a compromised member system...). The affected patients are those whose data those accesses
touched successfully, from the audit log's patient index; each is notified once, and the notification
itself is recorded in the audit log.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, func, insert, select, update

from yilian.audit.events import Event
from yilian.audit.tables import audit_event, audit_incident, audit_incident_patient, audit_patient
from yilian.fhir.outcomes import bad_request, not_found
from yilian.security.interfaces import Notifier

E = audit_event.c
P = audit_patient.c
I = audit_incident.c  # noqa: E741 - the table's usual alias
IP = audit_incident_patient.c
MESSAGE = (
    "【医联】您好，{title}：{start} 至 {end} 期间，您的健康数据可能被未经授权访问（共 {n} 次）。"
    "我们已处置并将持续跟进，详情可在“访问记录”中查看，或联系医联体信息安全管理员。"
)


@dataclass
class Incident:
    id: str
    title: str
    description: str
    reported_by: str
    recorded: float
    window_start: float
    window_end: float
    users: list[str]
    member: str | None
    status: str


@dataclass
class Report:
    incident: Incident
    patients: list = field(default_factory=list)  # rows of audit_incident_patient
    accesses: int = 0
    by_user: Counter = field(default_factory=Counter)
    by_action: Counter = field(default_factory=Counter)
    notified: int = 0


def _incident(row) -> Incident:  # noqa: ANN001 - a Row
    return Incident(
        row.id,
        row.title,
        row.description,
        row.reported_by,
        row.recorded,
        row.window_start,
        row.window_end,
        (row.users or "").split(),
        row.member,
        row.status,
    )


def record_incident(
    conn: Connection,
    *,
    title: str,
    description: str,
    reported_by: str,
    window_start: float,
    window_end: float,
    users: list[str] = (),
    member: str | None = None,
) -> Incident:
    if not title.strip():
        raise bad_request("An incident needs a title")
    if window_end <= window_start:
        raise bad_request("The incident window must end after it starts")
    row = {
        "id": str(uuid.uuid4()),
        "title": title.strip(),
        "description": description.strip(),
        "reported_by": reported_by,
        "recorded": time.time(),
        "window_start": window_start,
        "window_end": window_end,
        "users": " ".join(u.strip() for u in users if u.strip()) or None,
        "member": member or None,
        "status": "open",
    }
    conn.execute(insert(audit_incident).values(**row))
    compute_affected(conn, row["id"])
    return get(conn, row["id"])


def get(conn: Connection, incident_id: str) -> Incident:
    row = conn.execute(select(audit_incident).where(I.id == incident_id)).first()
    if row is None:
        raise not_found(f"No incident {incident_id}")
    return _incident(row)


def list_incidents(conn: Connection) -> list[Incident]:
    return [_incident(r) for r in conn.execute(select(audit_incident).order_by(I.recorded.desc()))]


def _scope(inc: Incident):  # noqa: ANN202 - the WHERE conditions of the incident's accesses
    conds = [
        E.recorded >= inc.window_start,
        E.recorded < inc.window_end,
        E.outcome < 400,
        E.action != "login",
    ]
    if inc.users:
        conds.append(E.user_id.in_(inc.users))
    if inc.member:
        conds.append(E.member == inc.member)
    return conds


def compute_affected(conn: Connection, incident_id: str) -> int:
    """(Re)compute the affected patients from the audit log; notifications already sent are kept."""
    inc = get(conn, incident_id)
    rows = conn.execute(
        select(P.patient_id, func.count(), func.min(E.recorded), func.max(E.recorded))
        .join_from(audit_event, audit_patient, P.seq == E.seq)
        .where(*_scope(inc))
        .group_by(P.patient_id)
    ).all()
    sent = {
        r.patient_id: r for r in conn.execute(select(audit_incident_patient).where(IP.incident_id == inc.id))
    }
    conn.execute(delete(audit_incident_patient).where(IP.incident_id == inc.id))
    values = []
    for pid, n, first, last in rows:
        old = sent.get(pid)
        values.append(
            {
                "incident_id": inc.id,
                "patient_id": pid,
                "accesses": int(n),
                "first_access": first,
                "last_access": last,
                "notified_at": old.notified_at if old else None,
                "channel": old.channel if old else None,
                "delivered": old.delivered if old else None,
            }
        )
    if values:
        conn.execute(insert(audit_incident_patient), values)
    return len(values)


def notify(conn: Connection, incident_id: str, notifier: Notifier) -> list[str]:
    """Tell every affected patient not yet told; returns their ids. The caller records an audit event."""
    inc = get(conn, incident_id)
    pending = conn.execute(
        select(IP.patient_id, IP.accesses).where(IP.incident_id == inc.id, IP.notified_at.is_(None))
    ).all()
    told = []
    for pid, n in pending:
        text = MESSAGE.format(title=inc.title, start=_day(inc.window_start), end=_day(inc.window_end), n=n)
        ok = notifier.notify(pid, text)
        conn.execute(
            update(audit_incident_patient)
            .where(IP.incident_id == inc.id, IP.patient_id == pid)
            .values(notified_at=time.time(), channel=notifier.channel, delivered=bool(ok))
        )
        told.append(pid)
    conn.execute(update(audit_incident).where(I.id == inc.id).values(status="notified"))
    return told


def close(conn: Connection, incident_id: str) -> None:
    get(conn, incident_id)
    conn.execute(update(audit_incident).where(I.id == incident_id).values(status="closed"))


def report(conn: Connection, incident_id: str) -> Report:
    inc = get(conn, incident_id)
    rep = Report(inc)
    rep.patients = list(
        conn.execute(
            select(audit_incident_patient)
            .where(IP.incident_id == inc.id)
            .order_by(IP.accesses.desc(), IP.patient_id)
        )
    )
    for user, action, n in conn.execute(
        select(E.user_id, E.action, func.count()).where(*_scope(inc)).group_by(E.user_id, E.action)
    ):
        rep.by_user[user or ""] += n
        rep.by_action[action] += n
        rep.accesses += n
    rep.notified = sum(1 for p in rep.patients if p.notified_at)
    return rep


def notification_event(incident: Incident, patients: list[str], officer: str) -> Event:
    """The audit event that records the notification (who was told, about which incident)."""
    import orjson

    from yilian.audit.events import instant

    now = time.time()
    resource = {
        "resourceType": "AuditEvent",
        "id": uuid.uuid4().hex,
        "type": {
            "system": "http://dicom.nema.org/resources/ontology/DCM",
            "code": "110137",
            "display": "User Security Attributes Changed",
        },
        "subtype": [
            {"system": "https://yilian.org/fhir/CodeSystem/audit-subtype", "code": "incident-notification"}
        ],
        "action": "E",
        "recorded": instant(now),
        "outcome": "0",
        "agent": [
            {
                "who": {"identifier": {"system": "https://yilian.org/fhir/sid/user", "value": officer}},
                "requestor": True,
            }
        ],
        "source": {"observer": {"display": "Yilian 医联"}},
        "entity": [{"what": {"reference": f"Patient/{p}"}, "role": {"code": "1"}} for p in sorted(patients)]
        + [
            {
                "what": {"identifier": {"value": incident.id}},
                "detail": [{"type": "incident", "valueString": incident.title}],
            }
        ],
    }
    return Event(
        now,
        officer,
        None,
        "incident-notify",
        200,
        "HOPERAT",
        None,
        set(patients),
        orjson.dumps(resource, option=orjson.OPT_SORT_KEYS),
    )


def _day(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))
