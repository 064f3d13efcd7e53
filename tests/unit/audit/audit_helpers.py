"""Synthetic audit events for the log tests (recorded straight into the log, no request needed)."""

from __future__ import annotations

import orjson
from sqlalchemy import Engine

from yilian.audit.events import Event
from yilian.audit.record import insert_events
from yilian.store import dialect


def event(i: int, user: str = "dr.li", patients: tuple[str, ...] = ("p1",), **kw) -> Event:  # noqa: ANN003
    entry = orjson.dumps({"resourceType": "AuditEvent", "id": f"e{i}", "n": i}, option=orjson.OPT_SORT_KEYS)
    return Event(
        recorded=kw.get("recorded", 1_700_000_000.0 + i),
        user_id=user,
        member=kw.get("member", "m-a"),
        action=kw.get("action", "read"),
        outcome=kw.get("outcome", 200),
        purpose=kw.get("purpose", "TREAT"),
        break_glass=kw.get("break_glass"),
        patients=set(patients),
        entry=entry,
    )


def record(engine: Engine, events: list[Event]) -> None:
    with engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
        insert_events(conn, events)
