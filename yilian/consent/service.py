"""Keeping `consent_grants` in step with the Consent resources, in the writing transaction: a withdrawn
or changed consent takes effect on the very next request."""

from __future__ import annotations

from sqlalchemy import Connection, delete

from yilian.consent.model import grants_of
from yilian.consent.tables import consent_grants


def refresh(conn: Connection, consent: dict, *, deleted: bool, recorded_fallback: float) -> None:
    conn.execute(delete(consent_grants).where(consent_grants.c.consent_id == consent["id"]))
    if deleted:
        return
    rows = [g.row() for g in grants_of(consent, recorded_fallback)]
    if rows:
        conn.execute(consent_grants.insert(), rows)


def grants_for(conn: Connection, patient_id: str) -> list:
    """The patient's current grants (to decide in Python what a one-patient read may show)."""
    from sqlalchemy import select

    from yilian.consent.model import Grant

    rows = conn.execute(select(consent_grants).where(consent_grants.c.patient_id == patient_id))
    return [Grant(**r._mapping) for r in rows]


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
