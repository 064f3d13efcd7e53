"""The read path's audit spool: append-only segment files beside the SQLite store, where each read's
event is made durable before the response goes out, without taking the store's write lock (SQLite has
one writer).

Recording one event is ONE `write()` of a framed record (magic, length, CRC-32, payload) to the process's
current segment, opened with O_APPEND: a few microseconds. When `write()` returns the record is in the
operating system, so it survives the process being killed (SIGKILL, OOM, a crash); a power cut or a
kernel crash may lose what the kernel had not yet written back, with at worst a torn record at a
segment's end, which its CRC reveals. That is the durability of the store's own commits (SQLite WAL,
synchronous=NORMAL). A forced sync per request (fdatasync) costs milliseconds on this class of disk.

Draining (the folder, before each fold) copies records into the store in batches and remembers, in the
same store transaction, the byte offset it reached in that segment (`audit_spool_mark`): a crash between
the two copies nothing twice. Each writing process holds an exclusive `flock` on its segment; a segment
nobody holds (its process stopped, crashed or moved to a new segment) is final, and once drained to its
end it is deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import sqlite3
import struct
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import orjson
from sqlalchemy import Connection, Engine, insert, select, update

from yilian.audit.events import Event
from yilian.audit.record import insert_events
from yilian.audit.tables import audit_spool_mark
from yilian.store import dialect

log = logging.getLogger(__name__)
M = audit_spool_mark.c
MAGIC = b"YA"
HEADER = struct.Struct(">2sII")  # magic, payload length, CRC-32 of the payload
SUFFIX = ".seg"
STARTING = ".starting"  # a segment being started: not yet locked, never holding a record
SEGMENT_BYTES = 64 << 20  # a writer moves to a new segment past this size; drained ones are deleted
MAX_RECORD = 64 << 20
DRAIN_BATCH = 20_000

# Turns drained payloads into events, on the drain's store transaction (audit.record.shape_spooled).
Shaper = Callable[[Connection, list[bytes]], list[Event]]


def frame(payload: bytes) -> bytes:
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def records(path: Path, offset: int, limit: int) -> tuple[list[bytes], int]:
    """Up to `limit` whole, intact records from `offset`, and the offset after the last one. Stops at the
    first record that is incomplete (still being written, or torn by a power cut) or damaged."""
    found: list[bytes] = []
    with open(path, "rb") as f:
        f.seek(offset)
        while len(found) < limit:
            head = f.read(HEADER.size)
            if len(head) < HEADER.size:
                break
            magic, n, crc = HEADER.unpack(head)
            if magic != MAGIC or not 0 < n <= MAX_RECORD:
                break
            payload = f.read(n)
            if len(payload) < n or zlib.crc32(payload) != crc:
                break
            found.append(payload)
            offset += HEADER.size + n
    return found, offset


class Spool:
    """One store's spool folder, as this process writes and drains it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        self.fd: int | None = None
        self.written = 0  # bytes in the current segment

    # ---- writing (the request path) -------------------------------------------------------------

    def append(self, payload: bytes) -> None:
        """Make one record durable (in the OS: see the module's docstring); returns once it is."""
        record = frame(payload)
        with self.lock:
            if self.fd is None or self.written >= SEGMENT_BYTES:
                self._next_segment()
            try:
                n = os.write(self.fd, record)
            except OSError:
                self._close()  # a partial record may end the segment: nothing may follow it
                raise
            if n != len(record):
                self._close()
                raise OSError(f"audit spool: short write ({n} of {len(record)} bytes)")
            self.written += n

    def _next_segment(self) -> None:
        """Start a segment: created under a name drainers do not list, locked ("a writer holds this
        segment"), then renamed. Created under its own name, a drain between the creation and the lock
        took it for a stopped writer's, drained it empty and deleted it, and every record after went to a
        deleted file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}"
        starting = self.folder / (name + STARTING)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        fd = os.open(starting, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(starting, self.folder / (name + SUFFIX))  # the lock stays with the file
        except BaseException:
            os.close(fd)
            starting.unlink(missing_ok=True)
            raise
        self._close()
        self.fd, self.written = fd, 0

    def _close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # releases the flock: the segment is final
            self.fd = None

    def close(self) -> None:
        with self.lock:
            self._close()

    # ---- draining (the folder) ------------------------------------------------------------------

    def segments(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if p.name.endswith(SUFFIX))

    def drain(self, engine: Engine, shape: Shaper) -> int:
        """Copy spooled records into the store as events; returns how many."""
        return sum(self._drain_segment(engine, shape, path) for path in self.segments())

    def _drain_segment(self, engine: Engine, shape: Shaper, path: Path) -> int:
        final = not _held(path)  # checked first: a segment nobody holds gets no more records
        moved = 0
        while True:
            with engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
                upto = _mark(conn, path.name)
                try:  # read after the mark, under the store's write lock (see _forget)
                    found, end = records(path, upto or 0, DRAIN_BATCH)
                except FileNotFoundError:
                    return moved  # another process drained and deleted it
                if found:
                    insert_events(conn, shape(conn, found))
                    _set_mark(conn, path.name, end, upto)
            moved += len(found)
            if len(found) < DRAIN_BATCH:
                break
        if final:
            _forget(path, end)
        return moved

    def count(self, engine: Engine) -> int:
        """Records spooled and not yet drained."""
        total = 0
        with engine.connect() as conn:
            for path in self.segments():
                offset = _mark(conn, path.name, lock=False) or 0
                with contextlib.suppress(FileNotFoundError):
                    while True:
                        found, offset = records(path, offset, DRAIN_BATCH)
                        total += len(found)
                        if len(found) < DRAIN_BATCH:
                            break
        return total


def _held(path: Path) -> bool:
    """Whether a writer (this process included) still holds the segment."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _forget(path: Path, drained_to: int) -> None:
    """Delete a final segment drained to its end. Its mark stays in the store (one small row per segment
    ever written): a drainer that read the mark before this deletion finds the file gone, never a file
    it would copy again from offset 0."""
    with contextlib.suppress(FileNotFoundError):
        left = path.stat().st_size - drained_to
        if left > 0:  # a record torn by a power cut or a failed write: it was never acknowledged
            log.warning("audit spool %s: %d bytes after the last intact record dropped", path.name, left)
        path.unlink()


def _mark(conn: Connection, name: str, lock: bool = True) -> int | None:
    stmt = select(M.upto).where(M.spool == name)
    found = conn.execute(stmt.with_for_update() if lock else stmt).scalar()
    return int(found) if found is not None else None


def _set_mark(conn: Connection, name: str, upto: int, before: int | None) -> None:
    if before is not None:
        conn.execute(update(audit_spool_mark).where(M.spool == name).values(upto=upto))
    else:
        conn.execute(insert(audit_spool_mark).values(spool=name, upto=upto))


def spool_folder(settings) -> Path | None:  # noqa: ANN001 - Settings
    """Beside the SQLite store; None for PostgreSQL (reads record their event in their own transaction)."""
    db = settings.sqlite_path()
    return db.with_name(db.name + ".audit-spool.d") if db is not None else None


# ---- the spool of earlier versions: a SQLite file of shaped events ----------------------------------


def legacy_path(settings) -> Path | None:  # noqa: ANN001 - Settings
    db = settings.sqlite_path()
    return db.with_name(db.name + ".audit-spool") if db is not None else None


def drain_legacy(path: Path, engine: Engine) -> int:
    """Copy the events of an earlier version's SQLite spool into the store (exactly once: its mark is
    kept like a segment's), then delete the file. Returns how many were copied."""
    if not path.is_file():
        return 0
    db = sqlite3.connect(path, isolation_level=None)
    try:
        name = db.execute("SELECT value FROM meta WHERE key = 'name'").fetchone()[0]
        with engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
            upto = _mark(conn, name)
            rows = db.execute("SELECT id, event FROM spool WHERE id > ? ORDER BY id", (upto or 0,)).fetchall()
            if rows:
                insert_events(conn, [_legacy_event(blob) for _, blob in rows])
                _set_mark(conn, name, rows[-1][0], upto)
    finally:
        db.close()
    for leftover in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))):
        leftover.unlink(missing_ok=True)
    return len(rows)


def _legacy_event(blob: bytes) -> Event:
    n = int.from_bytes(blob[:4], "big")
    recorded, user, member, action, outcome, purpose, bg, patients = orjson.loads(blob[4 : 4 + n])
    return Event(recorded, user, member, action, outcome, purpose, bg, set(patients), bytes(blob[4 + n :]))
