"""Keeping `consent_grants` in step with the Consent resources, in the writing transaction: a withdrawn
or changed consent takes effect on the very next request."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, delete, select

from yilian.consent.model import Grant, grants_of
from yilian.consent.tables import consent_grants


def refresh(conn: Connection, consent: dict, *, deleted: bool, recorded_fallback: float) -> None:
    conn.execute(delete(consent_grants).where(consent_grants.c.consent_id == consent["id"]))
    if deleted:
        return
    rows = [g.row() for g in grants_of(consent, recorded_fallback)]
    if rows:
        conn.execute(consent_grants.insert(), rows)


# Every consented read of a record looks its patient's grants up: the statement is built once.
_OF_PATIENTS = select(consent_grants).where(
    consent_grants.c.patient_id.in_(bindparam("patients", expanding=True))
)


def grants_for(conn: Connection, patient_id: str) -> list:
    """The patient's current grants (to decide in Python what a one-patient read may show)."""
    return _grants_by_patient(conn, [patient_id]).get(patient_id, [])


def sharing_decision(conn: Connection, patient_ids: list[str], purpose: str, recipient: str, at: float):  # noqa: ANN201
    """Whether the patients' newest applicable consents let `recipient` use their records (level 1-4) for
    `purpose`: the decision a page explains to the clinician (and asks the patient about when missing)."""
    from yilian.consent.decide import NO_CONSENT, Decision, Request, decide

    if not patient_ids:
        return Decision(NO_CONSENT)
    grants = [g for pid in patient_ids for g in grants_for(conn, pid)]
    decisions = [
        decide([g for g in grants if g.patient_id == pid], Request(purpose, recipient, "*", 4, None, at))
        for pid in patient_ids
    ]
    return next((d for d in decisions if not d.permitted), decisions[0])


def consents_behind(conn: Connection, rids: list[int], purpose: str, recipient: str, at: float) -> list[str]:
    """The consents that let `recipient` see these rows for `purpose` (for the audit trail): per row, the
    newest applicable grant of each patient whose compartment holds it, where that grant permits."""
    from yilian.consent.decide import Request, decide
    from yilian.store.tables import compartment, resources

    R, C = resources.c, compartment.c
    rows = conn.execute(
        select(R.rid, R.type, R.level, R.sensitivity, C.patient_id)
        .join_from(resources, compartment, C.rid == R.rid)
        .where(R.rid.in_(rids), R.level > 2)  # levels 1-2 (the directory) need no consent
    ).all()
    patients = sorted({r.patient_id for r in rows})
    grants = _grants_by_patient(conn, patients)
    used = set()
    for r in rows:
        asked = Request(purpose, recipient, r.type, r.level, r.sensitivity, at)
        d = decide(grants.get(r.patient_id, []), asked)
        if d.permitted and d.consent_id:
            used.add(d.consent_id)
    return sorted(used)


def _grants_by_patient(conn: Connection, patients: list[str]) -> dict[str, list]:
    by_patient: dict[str, list] = {}
    if patients:
        rows = conn.execute(_OF_PATIENTS, {"patients": patients})
        for r in rows:
            by_patient.setdefault(r.patient_id, []).append(Grant(**r._mapping))
    return by_patient
