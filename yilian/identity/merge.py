"""What a person does to the index: link two records, unlink a record from its person, merge two persons,
decide a review, and undo any of these (unmerge is undoing a merge).

Each action is recorded in `mpi_actions` with the status of every pair it changed, before and after, so it
can be undone exactly; the request that made it is audited by the gate's observers like any other.
Only an alliance administrator or an MPI steward may act (role `mpi-steward`).
"""

from __future__ import annotations

import time

import orjson
from sqlalchemy import Connection, select, update

from yilian.fhir.outcomes import bad_request, conflict, forbidden, not_found
from yilian.gate.caller import Caller
from yilian.identity import index, links
from yilian.identity.persons import regroup
from yilian.identity.tables import mpi_actions

STEWARD_ROLES = ("admin", "mpi-steward")


def check_steward(caller: Caller) -> None:
    if not caller.has(*STEWARD_ROLES):
        raise forbidden("Only an alliance administrator or an MPI steward (mpi-steward) may change the index")


def link(conn: Connection, caller: Caller, a: str, b: str, note: str = "") -> tuple[int, set[str]]:
    _known(conn, a, b)
    if a == b:
        raise bad_request("A record cannot be linked to itself")
    return _act(conn, caller, "link", [(a, b, links.MATCH)], note)


def unlink(conn: Connection, caller: Caller, a: str, note: str = "") -> tuple[int, set[str]]:
    """Take a record out of its person: 'not the same' with every other record of that person."""
    rec = _known(conn, a)[0]
    others = [r.patient_id for r in index.members_of(conn, rec.person_id) if r.patient_id != a]
    if not others:
        raise bad_request(f"Patient/{a} is not linked to any other record")
    return _act(conn, caller, "unlink", [(a, o, links.NO_MATCH) for o in others], note)


def merge(conn: Connection, caller: Caller, person: str, other: str, note: str = "") -> tuple[int, set[str]]:
    """Two persons are one: a person's link between one record of each."""
    keep, gone = index.members_of(conn, person), index.members_of(conn, other)
    if not keep or not gone:
        raise not_found(f"Person/{person if not keep else other} is not in the index")
    if person == other:
        raise bad_request("A person cannot be merged with itself")
    return _act(conn, caller, "merge", [(keep[0].patient_id, gone[0].patient_id, links.MATCH)], note)


def decide_review(
    conn: Connection, caller: Caller, link_id: int, same: bool, note: str = ""
) -> tuple[int, set[str]]:
    row = links.by_id(conn, link_id)
    if row is None:
        raise not_found(f"Review {link_id} does not exist")
    return _act(conn, caller, "review", [(row.a, row.b, links.MATCH if same else links.NO_MATCH)], note)


def undo(
    conn: Connection, caller: Caller, action_id: int, note: str = "", only: tuple[str, ...] = ()
) -> tuple[int, set[str]]:
    """Put back every pair an action changed; unmerge is undo limited to merges and links."""
    check_steward(caller)
    row = conn.execute(select(mpi_actions).where(mpi_actions.c.id == action_id)).first()
    if row is None:
        raise not_found(f"Action {action_id} does not exist")
    if row.undone_by is not None:
        raise conflict(f"Action {action_id} was already undone by action {row.undone_by}")
    if only and row.action not in only:
        raise bad_request(f"Action {action_id} is a {row.action}, not a {' or '.join(only)}")
    changes = orjson.loads(row.changes)
    reverse = [(a, b, before) for a, b, before, _after in changes]
    new_id, touched = _act(
        conn,
        caller,
        "unmerge" if row.action in ("merge", "link") else "undo",
        reverse,
        note or f"undo of action {action_id}",
    )
    conn.execute(update(mpi_actions).where(mpi_actions.c.id == action_id).values(undone_by=new_id))
    return new_id, touched


def _act(
    conn: Connection, caller: Caller, action: str, pairs: list[tuple[str, str, str | None]], note: str
) -> tuple[int, set[str]]:
    check_steward(caller)
    changes = []
    for a, b, status in pairs:
        before = links.put(conn, a, b, status, by=caller.user_id, reasons=(action,))
        changes.append([*links.ordered(a, b), before, status])
    result = conn.execute(
        mpi_actions.insert().values(
            action=action,
            by=caller.user_id,
            at=time.time(),
            note=note or None,
            changes=orjson.dumps(changes).decode(),
        )
    )
    touched = regroup(conn, {x for a, b, _ in pairs for x in (a, b)})
    return int(result.inserted_primary_key[0]), touched


def _known(conn: Connection, *patient_ids: str) -> list[index.Indexed]:
    found = index.get_many(conn, list(patient_ids))
    missing = set(patient_ids) - {r.patient_id for r in found}
    if missing:
        raise not_found(f"Patient/{sorted(missing)[0]} is not in the master patient index")
    return sorted(found, key=lambda r: list(patient_ids).index(r.patient_id))


def history(conn: Connection, limit: int = 50) -> list:
    return conn.execute(select(mpi_actions).order_by(mpi_actions.c.id.desc()).limit(limit)).all()
