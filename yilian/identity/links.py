"""Pairs of records the index knows about: automatic links, reviews waiting for a person, and what a
person decided (match / no-match). A person's decision is never overwritten by the matcher.

Statements are built once, with bound parameters (see index.py: the real-time path runs many small ones)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, delete, or_, select, update

from yilian.identity.sealing import EVIDENCE, dump, load, pair_id
from yilian.identity.tables import mpi_links

L = mpi_links.c
AUTO, REVIEW, MATCH, NO_MATCH = "auto", "review", "match", "no-match"
LINKED = (AUTO, MATCH)  # the statuses that join two records into one person
HUMAN = (MATCH, NO_MATCH)

_PAIR = (L.a == bindparam("b_a"), L.b == bindparam("b_b"))
_STATUS = select(L.status).where(*_PAIR)
_INSERT = mpi_links.insert()
_UPDATE = update(mpi_links).where(*_PAIR)
_DELETE = delete(mpi_links).where(*_PAIR)
_DELETE_IDS = delete(mpi_links).where(L.id.in_(bindparam("ids", expanding=True)))
_OF = select(mpi_links).where(
    or_(L.a.in_(bindparam("a_ids", expanding=True)), L.b.in_(bindparam("b_ids", expanding=True)))
)
_OF_STATUSES = _OF.where(L.status.in_(bindparam("statuses", expanding=True)))
_OF_RECORD = select(L.a, L.b, L.status).where(or_(L.a == bindparam("p_a"), L.b == bindparam("p_b")))
_FORGET = delete(mpi_links).where(
    or_(L.a == bindparam("p_a"), L.b == bindparam("p_b")), L.status.in_(bindparam("statuses", expanding=True))
)


def ordered(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def status(conn: Connection, a: str, b: str) -> str | None:
    a, b = ordered(a, b)
    return conn.execute(_STATUS, {"b_a": a, "b_b": b}).scalar_one_or_none()


def statuses_of(conn: Connection, patient_id: str) -> dict[str, str]:
    """Every pair a record is part of: the other record -> the pair's status (one query)."""
    rows = conn.execute(_OF_RECORD, {"p_a": patient_id, "p_b": patient_id})
    return {b if a == patient_id else a: status for a, b, status in rows}


def put(
    conn: Connection,
    a: str,
    b: str,
    new_status: str | None,
    *,
    weight: float | None = None,
    evidence: list | None = None,
    reasons: Iterable[str] = (),
    by: str | None = None,
) -> str | None:
    """Set a pair's status (None: forget the pair); returns the status before."""
    before = status(conn, a, b)
    change(conn, a, b, before, new_status, weight=weight, evidence=evidence, reasons=reasons, by=by)
    return before


def change(
    conn: Connection,
    a: str,
    b: str,
    before: str | None,
    new_status: str | None,
    *,
    weight: float | None = None,
    evidence: list | None = None,
    reasons: Iterable[str] = (),
    by: str | None = None,
) -> None:
    """`put` for a caller who already read the pair's status (`before`)."""
    a, b = ordered(a, b)
    pair = {"b_a": a, "b_b": b}
    now = time.time()
    if new_status is None:
        conn.execute(_DELETE, pair)
        return
    values = {"status": new_status, "updated": now, "decided_by": by}
    if weight is not None:
        from yilian.identity.score import probability

        values.update(weight=weight, probability=probability(weight))
    if evidence is not None:
        values["evidence"] = dump(conn, EVIDENCE, pair_id(a, b), evidence)
    if reasons:
        values["reasons"] = " ".join(reasons)
    if before is None:
        conn.execute(_INSERT, {"a": a, "b": b, "created": now, **values})
    else:
        conn.execute(_UPDATE, {**pair, **values})


def of(conn: Connection, patient_ids: Iterable[str], statuses: Iterable[str] | None = None) -> list:
    ids = list(patient_ids)
    out = []
    for i in range(0, len(ids), 400):
        chunk = ids[i : i + 400]
        if statuses is None:
            out.extend(conn.execute(_OF, {"a_ids": chunk, "b_ids": chunk}).all())
        else:
            params = {"a_ids": chunk, "b_ids": chunk, "statuses": list(statuses)}
            out.extend(conn.execute(_OF_STATUSES, params).all())
    return list({r.id: r for r in out}.values())


def forget(conn: Connection, patient_id: str, statuses: Iterable[str]) -> None:
    """Drop a record's pairs that have one of `statuses`."""
    conn.execute(_FORGET, {"p_a": patient_id, "p_b": patient_id, "statuses": list(statuses)})


def forget_all(conn: Connection, patient_id: str) -> list[str]:
    rows = of(conn, [patient_id])
    if rows:
        conn.execute(_DELETE_IDS, {"ids": [r.id for r in rows]})
    return [r.b if r.a == patient_id else r.a for r in rows]


def open_reviews(conn: Connection, limit: int = 50, offset: int = 0) -> list:
    return conn.execute(
        select(mpi_links)
        .where(L.status == REVIEW)
        .order_by(L.weight.desc(), L.id)
        .limit(limit)
        .offset(offset)
    ).all()


def evidence_of(conn: Connection, row) -> list:  # noqa: ANN001 - an mpi_links Row
    """The evidence per field the matcher recorded for a pair (opened when sealed)."""
    return load(conn, EVIDENCE, pair_id(row.a, row.b), row.evidence) if row.evidence else []


def by_id(conn: Connection, link_id: int):  # noqa: ANN201 - a Row or None
    return conn.execute(select(mpi_links).where(L.id == link_id)).first()
