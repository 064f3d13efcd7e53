"""Writing events durably before the request is answered: an acknowledged event is never lost.

- A write's event is inserted in the write's own transaction, just before it commits (audit.log gathers
  the events of a transaction's requests): they commit together or not at all.
- On SQLite, a read's (and a refused request's) facts are appended to the spool (audit.spool) and
  shaped into their AuditEvent when the spool is drained (`shape_spooled`).
- Without a spool (an in-memory SQLite database), they are committed by a *group commit*: concurrent
  requests hand their events to whichever of them is committing next, so one transaction carries many
  events, and each request returns only once its own event is committed. Reads never write inside their
  own read transaction (on SQLite that would turn every reader into a writer).

Events land with `leaf` NULL; audit.log folds them into the Merkle tree in batches.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from sqlalchemy import Connection, Engine, text

from yilian.audit.events import Event, Facts, shape
from yilian.audit.patients import resolve
from yilian.audit.tables import audit_entry, audit_event, audit_patient
from yilian.store import dialect

EVENT_COLUMNS = ("seq", "recorded", "user_id", "member", "action", "outcome", "purpose", "break_glass")


def insert_events(conn: Connection, events: Sequence[Event]) -> list[int]:
    """Insert events, their AuditEvent JSON and their patients on `conn` (a write transaction); returns
    their seqs. Rows go through the driver's executemany: recording is on every request's path."""
    if not events:
        return []
    seqs = allocate_seqs(conn, len(events))
    rows, entries, patients = [], [], []
    for e, seq in zip(events, seqs, strict=True):
        rows.append((seq, e.recorded, e.user_id, e.member, e.action, e.outcome, e.purpose, e.break_glass))
        entries.append((seq, e.entry))
        patients.extend((pid, seq) for pid in e.patients)
    dialect.insert_many(conn, audit_event.name, EVENT_COLUMNS, rows)
    dialect.insert_many(conn, audit_entry.name, ("seq", "entry"), entries)
    dialect.insert_many(conn, audit_patient.name, ("patient_id", "seq"), patients)
    return list(seqs)


def shape_spooled(conn: Connection, payloads: list[bytes]) -> list[Event]:
    """Events from spooled facts."""
    return shape_facts(conn, [Facts.unpack(p) for p in payloads])


def shape_facts(conn: Connection, batch: list[Facts]) -> list[Event]:
    """Events from captured facts, their deferred patient lookups done in one query for the batch."""
    found = resolve(conn, (pair for facts in batch for pair in facts.deferred))
    events = []
    for facts in batch:
        patients = set(facts.patients)
        for pair in facts.deferred:
            patients |= found[pair]
        events.append(shape(facts, patients))
    return events


def allocate_seqs(conn: Connection, n: int) -> Sequence[int]:
    """Reserve n event seqs. On SQLite the transaction holds the write lock (BEGIN IMMEDIATE), so max+1
    cannot race; PostgreSQL draws them from the column's sequence."""
    if dialect.is_sqlite(conn):
        top = int(conn.exec_driver_sql("SELECT COALESCE(MAX(seq), 0) FROM audit_event").scalar_one())
        return range(top + 1, top + 1 + n)
    rows = conn.execute(
        text("SELECT nextval(pg_get_serial_sequence('audit_event', 'seq')) FROM generate_series(1, :n)"),
        {"n": n},
    )
    return [int(r[0]) for r in rows]


class _Slot:
    __slots__ = ("events", "done", "error")

    def __init__(self, events: Sequence[Event]) -> None:
        self.events, self.done, self.error = events, False, None


class GroupCommit:
    """Commits events for many threads at once; `submit` returns when the caller's events are durable."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.cond = threading.Condition()
        self.pending: list[_Slot] = []
        self.flushing = False
        self.commits = 0  # transactions committed (for tests and benchmarks)

    def submit(self, events: Sequence[Event]) -> None:
        slot = _Slot(events)
        with self.cond:
            self.pending.append(slot)
            while not slot.done:
                if self.flushing:
                    self.cond.wait()
                    continue
                self._lead()
        if slot.error is not None:
            raise slot.error

    def _lead(self) -> None:
        """Called with the lock held: commit everything pending (this caller's slot included)."""
        batch, self.pending = self.pending, []
        self.flushing = True
        self.cond.release()
        error: BaseException | None = None
        try:
            self._write([e for slot in batch for e in slot.events])
        except BaseException as exc:  # noqa: BLE001 - handed to every waiter of the batch
            error = exc
        finally:
            self.cond.acquire()
            self.flushing = False
        for slot in batch:
            slot.done, slot.error = True, error
        self.commits += 1
        self.cond.notify_all()

    def _write(self, events: list[Event]) -> None:
        with self.engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
            insert_events(conn, events)
