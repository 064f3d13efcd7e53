"""The gate observer that keeps the index live: after each successful write request, every Patient version
it wrote is matched on arrival, inside the request's transaction (the index commits with the Patient),
and the golden records of the persons it changed are recomputed.

A failure in the index must not refuse a registration: the index work runs in a savepoint, and a record
it could not index is picked up by `yilian identity link` (which re-indexes what is missing or stale).
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection

from yilian.gate.access import Access
from yilian.gate.repository import Gate
from yilian.identity import model as models
from yilian.identity import persons, realtime
from yilian.identity.settings import PERSON_SPEC

log = logging.getLogger(__name__)


class IdentityObserver:
    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    def observe(self, access: Access) -> None:
        if access.conn is None or access.error is not None or not access.writing:
            return
        latest: dict[str, object] = {}
        for s in access.touched:
            if s.type == "Patient" and (s.id not in latest or latest[s.id].version < s.version):
                latest[s.id] = s
        if not latest:
            return
        try:
            with access.conn.begin_nested():
                index_versions(access.conn, list(latest.values()))
        except Exception:  # noqa: BLE001 - the registration stands; the batch run re-indexes it
            log.exception("master patient index: could not index %s", ", ".join(latest))


def index_versions(conn: Connection, stored: list) -> set[str]:
    """Index Patient versions (store `Stored` objects); returns the persons changed."""
    model = models.for_transaction(conn, PERSON_SPEC)
    touched: set[str] = set()
    for s in stored:
        resource = None if s.deleted else s.resource()
        touched |= realtime.arrive(conn, PERSON_SPEC, model, s.id, s.version, s.member, resource)
    persons.refresh(conn, touched)
    return touched
