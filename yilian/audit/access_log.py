"""Queries over the recorded events: a patient's access log, the auditor's search, one event's detail."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, and_, func, select

from yilian.audit.tables import audit_entry, audit_event, audit_patient

E = audit_event.c
X = audit_entry.c
P = audit_patient.c
READ_ACTIONS = ("read", "vread", "search", "history", "everything", "export")
PURPOSE_LABELS = {
    "TREAT": ("诊疗", "Treatment"),
    "ETREAT": ("紧急诊疗（破窗）", "Emergency treatment (break-glass)"),
    "HPAYMT": ("医保支付", "Payment"),
    "HOPERAT": ("医疗运营", "Operations"),
    "PUBHLTH": ("公共卫生", "Public health"),
    "HRESCH": ("科研", "Research"),
    "PATRQT": ("本人申请", "Patient request"),
}


@dataclass
class Access:
    seq: int
    leaf: int | None  # None until folded: no proof yet
    recorded: float
    user_id: str | None
    user_name: str
    roles: list[str]
    member: str | None
    action: str
    outcome: int
    purpose: str | None
    break_glass: str | None
    patients: list[str]

    @property
    def denied(self) -> bool:
        return self.outcome >= 400


def _access(row, patients: list[str]) -> Access:  # noqa: ANN001 - a Row
    event = orjson.loads(row.entry)
    agent = next((a for a in event.get("agent", []) if a.get("requestor")), {})
    roles = [c["code"] for r in agent.get("role", []) for c in r.get("coding", [])]
    return Access(
        row.seq,
        row.leaf,
        row.recorded,
        row.user_id,
        agent.get("who", {}).get("display") or row.user_id or "",
        roles,
        row.member,
        row.action,
        row.outcome,
        row.purpose,
        row.break_glass,
        patients,
    )


COLUMNS = (
    E.seq,
    E.leaf,
    E.recorded,
    E.user_id,
    E.member,
    E.action,
    E.outcome,
    E.purpose,
    E.break_glass,
    X.entry,
)


def _select():  # noqa: ANN202 - events with their AuditEvent JSON
    return select(*COLUMNS).join_from(audit_event, audit_entry, X.seq == E.seq)


def patient_log(
    conn: Connection,
    patient_ids: list[str],
    *,
    exclude_user: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[Access]:
    """Accesses to any of a person's records, newest first (logins excluded)."""
    seqs = select(P.seq).where(P.patient_id.in_(patient_ids))
    conds = [E.seq.in_(seqs), E.action != "login"]
    if exclude_user:
        conds.append(E.user_id != exclude_user)
    rows = conn.execute(_select().where(*conds).order_by(E.seq.desc()).limit(limit).offset(offset))
    return _with_patients(conn, list(rows))


def search(
    conn: Connection,
    *,
    user: str | None = None,
    patient: str | None = None,
    member: str | None = None,
    action: str | None = None,
    denied: bool = False,
    break_glass: bool = False,
    since: float | None = None,
    until: float | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Access]:
    conds = []
    if user:
        conds.append(E.user_id == user)
    if patient:
        conds.append(E.seq.in_(select(P.seq).where(P.patient_id == patient)))
    if member:
        conds.append(E.member == member)
    if action:
        conds.append(E.action == action)
    if denied:
        conds.append(E.outcome >= 400)
    if break_glass:
        conds.append(E.break_glass.is_not(None))
    if since is not None:
        conds.append(E.recorded >= since)
    if until is not None:
        conds.append(E.recorded < until)
    stmt = _select().where(and_(*conds) if conds else True).order_by(E.seq.desc())
    return _with_patients(conn, list(conn.execute(stmt.limit(limit).offset(offset))))


def _with_patients(conn: Connection, rows: list) -> list[Access]:
    if not rows:
        return []
    found: dict[int, list[str]] = {}
    for seq, pid in conn.execute(select(P.seq, P.patient_id).where(P.seq.in_([r.seq for r in rows]))):
        found.setdefault(seq, []).append(pid)
    return [_access(r, sorted(found.get(r.seq, []))) for r in rows]


def event(conn: Connection, seq: int) -> tuple[Access, dict] | None:
    """One recorded event: the summary and the AuditEvent itself."""
    row = conn.execute(_select().where(E.seq == seq)).first()
    if row is None:
        return None
    return _with_patients(conn, [row])[0], orjson.loads(row.entry)


def is_about(conn: Connection, seq: int, patient_ids: list[str]) -> bool:
    stmt = select(func.count()).where(P.seq == seq, P.patient_id.in_(patient_ids))
    return bool(conn.execute(stmt).scalar_one())


def leaf_of(conn: Connection, seq: int) -> int | None:
    return conn.execute(select(E.leaf).where(E.seq == seq)).scalar()
