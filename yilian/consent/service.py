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
