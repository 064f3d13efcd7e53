"""Persons: the connected groups of records joined by links (automatic or a person's), kept in step
after every change, with their golden record (served as a FHIR Person by Person/[id]/$golden).

A change re-walks only the groups it touched. Person ids are stable: a group keeps the id most of its
records had; a group split off gets a new one; a person whose records all went elsewhere is gone.
Golden Persons are not stored as resources: the store's Patient compartments, histories and counts stay
the members' records alone, and each reader gets the Person built from the records they may see.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

from sqlalchemy import Connection, bindparam, delete, select

from yilian.gate.repository import GatedRepository
from yilian.identity import golden, index, links
from yilian.identity.sealing import GOLDEN, dump, load
from yilian.identity.tables import mpi_persons, mpi_records

R = mpi_records.c
_PERSONS_OF = select(R.patient_id, R.person_id).where(R.patient_id.in_(bindparam("ids", expanding=True)))
_MEMBERS = select(R.patient_id).where(R.person_id.in_(bindparam("person_ids", expanding=True)))
_DROP_GOLDEN = delete(mpi_persons).where(mpi_persons.c.person_id == bindparam("b_person_id"))
_INSERT_GOLDEN = mpi_persons.insert()


def new_person_id() -> str:
    return f"mpi-{uuid.uuid4().hex[:20]}"


def regroup(conn: Connection, seeds: set[str]) -> set[str]:
    """Recompute the persons of `seeds` (and of everyone in their persons); returns the person ids touched."""
    if not seeds:
        return set()
    before = _persons_of(conn, seeds)
    nodes = set(seeds) | _members(conn, set(before.values()))
    graph = _linked_graph(conn, nodes)
    nodes |= set(graph)
    before.update(_persons_of(conn, nodes - set(before)))
    touched = set(before.values())
    taken: set[str] = set()
    for group in sorted(_components(nodes, graph), key=len, reverse=True):
        counts = Counter(before[n] for n in group if n in before and before[n] not in taken)
        pid = counts.most_common(1)[0][0] if counts else new_person_id()
        taken.add(pid)
        moved = [n for n in group if before.get(n) != pid]
        if moved:
            index.set_person(conn, moved, pid)
            touched.add(pid)
    return touched


def _persons_of(conn: Connection, patient_ids: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    ids = list(patient_ids)
    for i in range(0, len(ids), 500):
        rows = conn.execute(_PERSONS_OF, {"ids": ids[i : i + 500]})
        out.update({r.patient_id: r.person_id for r in rows})
    return out


def _members(conn: Connection, person_ids: set[str]) -> set[str]:
    if not person_ids:
        return set()
    return set(conn.execute(_MEMBERS, {"person_ids": list(person_ids)}).scalars())


def _linked_graph(conn: Connection, nodes: set[str]) -> dict[str, set[str]]:
    """Adjacency over linked pairs, walked out from `nodes` until no new record is reached."""
    graph: dict[str, set[str]] = {}
    frontier = set(nodes)
    seen: set[str] = set()
    while frontier:
        seen |= frontier
        found = set()
        for row in links.of(conn, frontier, links.LINKED):
            graph.setdefault(row.a, set()).add(row.b)
            graph.setdefault(row.b, set()).add(row.a)
            found |= {row.a, row.b}
        frontier = found - seen
    return graph


def _components(nodes: set[str], graph: dict[str, set[str]]) -> list[set[str]]:
    seen: set[str] = set()
    out = []
    for start in sorted(nodes):
        if start in seen:
            continue
        group, stack = set(), [start]
        while stack:
            n = stack.pop()
            if n not in group:
                group.add(n)
                stack.extend(graph.get(n, ()))
        seen |= group
        out.append(group)
    return out


def refresh(conn: Connection, person_ids: set[str]) -> None:
    """Recompute the golden records of `person_ids` (with the source of every value) in `mpi_persons`
    (a person whose records all went elsewhere loses its row)."""
    now = time.time()
    for pid in sorted(person_ids):
        records = index.members_of(conn, pid)
        conn.execute(_DROP_GOLDEN, {"b_person_id": pid})
        if records:
            fields = dump(conn, GOLDEN, pid, golden.golden(records))
            row = {"person_id": pid, "size": len(records), "golden": fields, "created": now, "updated": now}
            conn.execute(_INSERT_GOLDEN, row)


def _assurance(conn: Connection, records: list[index.Indexed]) -> dict[str, str]:
    """level4 for records a person (or a member's merge) linked, level3 for the matcher's links."""
    ids = [r.patient_id for r in records]
    out = {}
    for row in links.of(conn, ids, links.LINKED):
        level = "level4" if row.status == links.MATCH else "level3"
        for end in (row.a, row.b):
            if out.get(end) != "level4":
                out[end] = level
    return out


def golden_of(conn: Connection, person_id: str) -> dict | None:
    row = conn.execute(select(mpi_persons.c.golden).where(mpi_persons.c.person_id == person_id)).first()
    return load(conn, GOLDEN, person_id, row.golden) if row else None


def sync(repo: GatedRepository, touched: set[str]) -> None:
    """After an action in a request: the golden records of the touched persons, in its transaction."""
    refresh(repo.conn, touched)


def person_for(repo: GatedRepository, person_id: str) -> dict | None:
    """The golden FHIR Person as this caller may see it: built from the person's records the caller can
    read (so no value comes from a record hidden from them); None when they can read none."""
    records = [r for r in index.members_of(repo.conn, person_id) if _visible(repo, r.patient_id)]
    if not records:
        return None
    fields = golden.golden(records)
    return golden.person_resource(person_id, records, fields, _assurance(repo.conn, records))


def _visible(repo: GatedRepository, patient_id: str) -> bool:
    from yilian.fhir.outcomes import FhirError

    try:
        repo.read("Patient", patient_id)
    except FhirError:
        return False
    return True
