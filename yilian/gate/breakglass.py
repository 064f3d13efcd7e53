"""Break-glass (ETREAT): a clinician opens a record without consent in an emergency, giving a reason.

The access lasts `Settings.break_glass_minutes`, works only under purpose ETREAT, is flagged on every
request that uses it (Access.notes["break_glass"]), the patient is told (a Communication in their
record), and the alliance's security officer reviews it.
"""

from __future__ import annotations

import time
import uuid

from sqlalchemy import Connection, select, update

from yilian.fhir.outcomes import bad_request, forbidden
from yilian.gate.caller import Caller
from yilian.gate.tables import break_glass

B = break_glass.c
MIN_REASON = 4  # characters: a reason must say something


def open_access(conn: Connection, caller: Caller, patient_id: str, reason: str, minutes: float) -> dict:
    if not caller.has("clinician", "nurse"):
        raise forbidden("Only clinicians and nurses can break the glass")
    if len(reason.strip()) < MIN_REASON:
        raise bad_request("Give the emergency reason (at least a few words); it is shown to the patient")
    now = time.time()
    row = {
        "id": str(uuid.uuid4()),
        "user_id": caller.user_id,
        "organization": caller.organization,
        "patient_id": patient_id,
        "reason": reason.strip(),
        "started": now,
        "expires": now + minutes * 60,
    }
    conn.execute(break_glass.insert().values(**row))
    return row


def active_patients(conn: Connection, user_id: str, now: float | None = None) -> dict[str, str]:
    """Patients this user holds an unexpired break-glass for: patient id -> reason."""
    now = time.time() if now is None else now
    rows = conn.execute(select(B.patient_id, B.reason).where(B.user_id == user_id, B.expires > now))
    return {r.patient_id: r.reason for r in rows}


def for_review(conn: Connection, *, pending_only: bool = True) -> list:
    stmt = select(break_glass).order_by(B.started.desc())
    if pending_only:
        stmt = stmt.where(B.reviewed_at.is_(None))
    return list(conn.execute(stmt))


def review(conn: Connection, access_id: str, reviewer: Caller, note: str) -> None:
    if not reviewer.has("auditor", "admin"):
        raise forbidden(
            "Only the security officer (auditor) or the alliance administrator reviews break-glass"
        )
    done = conn.execute(
        update(break_glass)
        .where(B.id == access_id)
        .values(reviewed_by=reviewer.user_id, review_note=note, reviewed_at=time.time())
    )
    if done.rowcount == 0:
        raise bad_request(f"No break-glass access {access_id}")


def active_reason(engine, user_id: str, patient_id: str) -> tuple[str, float] | None:  # noqa: ANN001
    """(reason, expires) of this user's unexpired break-glass on this patient, if any."""
    with engine.connect() as conn:
        row = conn.execute(
            select(B.reason, B.expires)
            .where(B.user_id == user_id, B.patient_id == patient_id, B.expires > time.time())
            .order_by(B.expires.desc())
        ).first()
    return (row.reason, row.expires) if row else None
