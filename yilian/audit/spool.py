"""The read path's audit spool: a small SQLite file beside the store where each read's event is committed
before the response goes out, without taking the store's write lock (SQLite has one writer).

A commit here costs tens of microseconds (WAL, synchronous=NORMAL: the same durability as the store's own
commits: a process crash loses nothing). The folder drains the spool into the store in batches; the
store remembers, in the same transaction as the copied events, how far it drained (`audit_spool_mark`),
so a crash between the two commits copies nothing twice.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from pathlib import Path

import orjson
from sqlalchemy import Connection, select

from yilian.audit.events import Event
from yilian.audit.record import insert_events
from yilian.audit.tables import audit_spool_mark

M = audit_spool_mark.c
DRAIN_BATCH = 20_000


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        # AUTOINCREMENT: ids never come back after the table empties (the drain mark counts on it).
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, event BLOB NOT NULL)"
        )
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('name', ?)", (f"{path.name}-{uuid.uuid4().hex}",))
        self.name = self.db.execute("SELECT value FROM meta WHERE key = 'name'").fetchone()[0]

    def append(self, events: list[Event]) -> None:
        """Commit events to the spool; returns once they are durable."""
        rows = [(_pack(e),) for e in events]
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany("INSERT INTO spool (event) VALUES (?)", rows)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def count(self) -> int:
        with self.lock:
            return int(self.db.execute("SELECT COUNT(*) FROM spool").fetchone()[0])

    def drain(self, engine) -> int:  # noqa: ANN001 - the store's Engine
        """Copy spooled events into the store (in batches), then forget them here; returns how many."""
        from yilian.store import dialect

        moved = 0
        while True:
            with engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
                upto = self._mark(conn)
                with self.lock:
                    self.db.execute("DELETE FROM spool WHERE id <= ?", (upto,))  # copied by an earlier drain
                    rows = self.db.execute(
                        "SELECT id, event FROM spool WHERE id > ? ORDER BY id LIMIT ?", (upto, DRAIN_BATCH)
                    ).fetchall()
                if not rows:
                    return moved
                insert_events(conn, [_unpack(blob) for _, blob in rows])
                self._set_mark(conn, rows[-1][0], upto)
            with self.lock:
                self.db.execute("DELETE FROM spool WHERE id <= ?", (rows[-1][0],))
            moved += len(rows)

    def _mark(self, conn: Connection) -> int:
        found = conn.execute(select(M.upto).where(M.spool == self.name).with_for_update()).scalar()
        return int(found) if found is not None else 0

    def _set_mark(self, conn: Connection, upto: int, before: int) -> None:
        from sqlalchemy import insert, update

        if before:
            conn.execute(update(audit_spool_mark).where(M.spool == self.name).values(upto=upto))
        else:
            conn.execute(insert(audit_spool_mark).values(spool=self.name, upto=upto))

    def close(self) -> None:
        with self.lock:
            self.db.close()


def _pack(e: Event) -> bytes:
    head = orjson.dumps(
        [e.recorded, e.user_id, e.member, e.action, e.outcome, e.purpose, e.break_glass, sorted(e.patients)]
    )
    return len(head).to_bytes(4, "big") + head + e.entry


def _unpack(blob: bytes) -> Event:
    n = int.from_bytes(blob[:4], "big")
    recorded, user, member, action, outcome, purpose, bg, patients = orjson.loads(blob[4 : 4 + n])
    return Event(recorded, user, member, action, outcome, purpose, bg, set(patients), bytes(blob[4 + n :]))


def spool_path(settings) -> Path | None:  # noqa: ANN001 - Settings
    """Beside the SQLite store; None for PostgreSQL (reads record their event in their own transaction)."""
    db = settings.sqlite_path()
    return db.with_name(db.name + ".audit-spool") if db is not None else None
