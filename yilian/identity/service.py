"""Whole-index use cases for the CLI: index every Patient, train a model, link everything in batch.

Patients are read through the gate (as the local operator); the batch run replaces the matcher's links
and reviews with Splink's, keeps every decision a person made, regroups all records into persons and
writes the golden Persons that changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Connection, delete, select

from yilian.fhir.messages import FhirRequest
from yilian.fhir.router import handle
from yilian.gate.caller import operator
from yilian.gate.repository import Gate
from yilian.identity import batch, index, links, persons, train
from yilian.identity import model as models
from yilian.identity.clusters import GuardedClusters
from yilian.identity.observer import index_versions
from yilian.identity.settings import FEATURE_COLUMNS, PERSON_SPEC
from yilian.identity.tables import mpi_links, mpi_records

Progress = Callable[[str, int, int], None]
PAGE = 500


def index_all(gate: Gate, progress: Progress | None = None) -> int:
    """Index every Patient the index lacks or holds an older version of; returns how many."""
    done, offset, total = 0, 0, None
    while True:
        query = [("_count", str(PAGE)), ("_offset", str(offset)), ("_sort", "_id")]
        bundle = handle(gate, operator(), FhirRequest("GET", "Patient", query)).resource() or {}
        total = bundle.get("total", total)
        entries = bundle.get("entry", [])
        if not entries:
            return done
        with gate.writing(operator()) as repo:
            stale = _stale(
                repo.conn, [(e["resource"]["id"], int(e["resource"]["meta"]["versionId"])) for e in entries]
            )
            if stale:
                versions = [repo.read("Patient", pid) for pid in stale]
                index_versions(repo.conn, versions)
        done += len(stale)
        offset += len(entries)
        if progress:
            progress("index", offset, total or offset)


def _stale(conn: Connection, ids: list[tuple[str, int]]) -> list[str]:
    have = dict(
        conn.execute(
            select(mpi_records.c.patient_id, mpi_records.c.version).where(
                mpi_records.c.patient_id.in_([i for i, _ in ids])
            )
        ).all()
    )
    return [i for i, v in ids if have.get(i, 0) < v]


def train_model(conn: Connection, rows: list[dict], source: str, max_pairs: float = 2e6) -> int:
    params = train.train(PERSON_SPEC, train.arrow_table(rows, FEATURE_COLUMNS), max_pairs=max_pairs)
    return models.save(conn, params, source)


def link_all(gate: Gate, progress: Progress | None = None) -> dict:
    """Batch linkage of the whole index (after `index_all`)."""
    started = time.perf_counter()
    with gate.writing(operator()) as repo:
        conn = repo.conn
        rows = index.active_features(conn)
        summary = {"records": len(rows)}
        if len(rows) < 2:
            return summary
        model = models.active(conn, PERSON_SPEC)
        result = batch.link(PERSON_SPEC, model, rows, progress)
        human = {
            (r.a, r.b)
            for r in conn.execute(
                select(mpi_links.c.a, mpi_links.c.b).where(mpi_links.c.status.in_(links.HUMAN))
            )
        }
        conn.execute(delete(mpi_links).where(mpi_links.c.status.in_((links.AUTO, links.REVIEW))))
        for status, pairs in ((links.AUTO, result.auto), (links.REVIEW, result.review)):
            for p in pairs:
                if links.ordered(p.a, p.b) not in human:
                    links.put(
                        conn, p.a, p.b, status, weight=p.weight, reasons=p.decision.reasons, by="mpi-batch"
                    )
        touched = regroup_all(conn)
        if progress:
            progress("persons", 0, len(touched))
        persons.sync(repo, touched)
        summary.update(
            auto_links=len(result.auto),
            reviews=len(result.review),
            persons_changed=len(touched),
            scored_pairs=result.scored_pairs,
            seconds=round(time.perf_counter() - started, 2),
            stages=result.seconds,
        )
    return summary


def regroup_all(conn: Connection) -> set[str]:
    """Every record into the person its links make it part of (ids kept where most records agree)."""
    before = dict(conn.execute(select(mpi_records.c.patient_id, mpi_records.c.person_id)).all())
    groups = GuardedClusters({})
    for a, b in conn.execute(
        select(mpi_links.c.a, mpi_links.c.b).where(mpi_links.c.status.in_(links.LINKED))
    ):
        groups.union(a, b, force=True)
    touched: set[str] = set()
    taken: set[str] = set()
    for members in sorted(groups.groups(before).values(), key=len, reverse=True):
        counts: dict[str, int] = {}
        for m in members:
            if before[m] not in taken:
                counts[before[m]] = counts.get(before[m], 0) + 1
        pid = max(counts, key=counts.__getitem__) if counts else persons.new_person_id()
        taken.add(pid)
        moved = [m for m in members if before[m] != pid]
        if moved:
            touched |= {pid, *(before[m] for m in moved)}
            index.set_person(conn, moved, pid)
    return touched
