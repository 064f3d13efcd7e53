"""Pairs of records the index knows about: automatic links, reviews waiting for a person, and what a
person decided (match / no-match). A person's decision is never overwritten by the matcher."""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import Connection, and_, delete, or_, select, update

from yilian.identity.sealing import EVIDENCE, dump, load, pair_id
from yilian.identity.tables import mpi_links

L = mpi_links.c
AUTO, REVIEW, MATCH, NO_MATCH = "auto", "review", "match", "no-match"
LINKED = (AUTO, MATCH)  # the statuses that join two records into one person
HUMAN = (MATCH, NO_MATCH)


def ordered(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def status(conn: Connection, a: str, b: str) -> str | None:
    a, b = ordered(a, b)
    return conn.execute(select(L.status).where(L.a == a, L.b == b)).scalar_one_or_none()


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
    a, b = ordered(a, b)
    before = status(conn, a, b)
    now = time.time()
    if new_status is None:
        conn.execute(delete(mpi_links).where(L.a == a, L.b == b))
        return before
    values = {"status": new_status, "updated": now, "decided_by": by}
    if weight is not None:
        from yilian.identity.score import probability

        values.update(weight=weight, probability=probability(weight))
    if evidence is not None:
        values["evidence"] = dump(conn, EVIDENCE, pair_id(a, b), evidence)
    if reasons:
        values["reasons"] = " ".join(reasons)
    if before is None:
        conn.execute(mpi_links.insert().values(a=a, b=b, created=now, **values))
    else:
        conn.execute(update(mpi_links).where(L.a == a, L.b == b).values(**values))
    return before


def of(conn: Connection, patient_ids: Iterable[str], statuses: Iterable[str] | None = None) -> list:
    ids = list(patient_ids)
    out = []
    for i in range(0, len(ids), 400):
        chunk = ids[i : i + 400]
        cond = or_(L.a.in_(chunk), L.b.in_(chunk))
        if statuses is not None:
            cond = and_(cond, L.status.in_(list(statuses)))
        out.extend(conn.execute(select(mpi_links).where(cond)).all())
    return list({r.id: r for r in out}.values())


def forget_machine_links(conn: Connection, patient_id: str) -> list[str]:
    """Drop the matcher's links and reviews of a record (its features changed); returns the other ends."""
    rows = of(conn, [patient_id], (AUTO, REVIEW))
    if rows:
        conn.execute(delete(mpi_links).where(L.id.in_([r.id for r in rows])))
    return [r.b if r.a == patient_id else r.a for r in rows]


def forget_all(conn: Connection, patient_id: str) -> list[str]:
    rows = of(conn, [patient_id])
    if rows:
        conn.execute(delete(mpi_links).where(L.id.in_([r.id for r in rows])))
    return [r.b if r.a == patient_id else r.a for r in rows]


def refused(conn: Connection, patient_id: str) -> set[str]:
    """Records a person said are not this one."""
    return {r.b if r.a == patient_id else r.a for r in of(conn, [patient_id], (NO_MATCH,))}


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
