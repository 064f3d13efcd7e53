"""Every difference between SQLite and PostgreSQL lives here, so the rest of the store has one SQL path."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, event, func, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

log = logging.getLogger(__name__)

WAL_AUTOCHECKPOINT = 1000  # SQLite's default: WAL pages after which a commit copies them into the database
# How often background_checkpoints copies the WAL back. A page written again and again (index pages) is
# copied once per checkpoint: loading Synthea, the checkpoints took 0.44–0.48 s of CPU every 1 s against
# 0.58–0.68 s every 0.25 s (two runs each); the WAL holds at most about a second of writes.
CHECKPOINT_EVERY_S = 1.0


def is_sqlite(conn_or_engine: Connection | Engine) -> bool:
    return conn_or_engine.dialect.name == "sqlite"


def configure_engine(engine: Engine, busy_timeout_ms: int) -> None:
    """Per-connection setup. On SQLite: WAL, relaxed fsync and explicit BEGIN so writers can take the lock."""
    if not is_sqlite(engine):
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001 - DB-API objects
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (pysqlite's own handling defers it)
        cur = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            f"busy_timeout={busy_timeout_ms}",
            "foreign_keys=OFF",
            "temp_store=MEMORY",
            "cache_size=-65536",
            "mmap_size=268435456",
        ):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        # The pragma stays with the pooled DB-API connection: set it only when this use wants another.
        pages = options.get("sqlite_autocheckpoint", WAL_AUTOCHECKPOINT)
        info = conn.connection.info
        if info.get("wal_autocheckpoint", WAL_AUTOCHECKPOINT) != pages:
            conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={int(pages)}")
            info["wal_autocheckpoint"] = pages
        # One writer at a time: a write transaction takes the lock up front (datasette's write thread
        # pattern) instead of failing with "database is locked" when it first writes.
        conn.exec_driver_sql(f"BEGIN {options.get('sqlite_begin', 'DEFERRED')}")


def write_options() -> dict:
    """Execution options for a connection that will write."""
    return {"sqlite_begin": "IMMEDIATE"}


@contextmanager
def background_checkpoints(engine: Engine) -> Iterator[Engine]:
    """For a bulk writer on SQLite: the engine to write with, whose commits leave copying the WAL back
    into the database (a checkpoint: page copies and fsyncs) to a thread of its own, which does it every
    CHECKPOINT_EVERY_S so the WAL stays small, off the writer's path, and sooner when asked
    (`checkpoint_soon`). Commits stay as durable as ever. A last checkpoint runs before the block ends. On
    PostgreSQL (or an in-memory SQLite database, which has no WAL): the engine as it is."""
    if not is_sqlite(engine) or engine.url.database in (None, "", ":memory:"):
        yield engine
        return
    stop, soon = threading.Event(), threading.Event()
    thread = threading.Thread(target=_checkpoint_until, args=(engine, stop, soon), name="wal-checkpoint")
    thread.start()
    try:
        yield engine.execution_options(sqlite_autocheckpoint=0, **{_SOON: soon.set})
    finally:
        stop.set()
        soon.set()
        thread.join()


_SOON = "yilian_checkpoint_soon"  # the execution option that holds how to ask for a checkpoint now


def checkpoint_soon(engine: Engine) -> None:
    """Ask the background checkpoints of `engine` (if it has them) to copy the WAL back now rather than at
    their next turn: a bulk writer about to write its last group does, so that the checkpoint at the end
    has only that group's pages to copy (Synthea: 0.03 s instead of 0.09, script, 3 of 4 runs)."""
    ask = engine.get_execution_options().get(_SOON)
    if ask is not None:
        ask()


def _checkpoint_until(engine: Engine, stop: threading.Event, soon: threading.Event) -> None:
    conn = engine.raw_connection()
    try:
        while True:
            soon.wait(CHECKPOINT_EVERY_S)
            soon.clear()
            stopping = stop.is_set()
            conn.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()  # never waits for the writer
            if stopping:
                return
    except Exception:  # noqa: BLE001 - the WAL then grows until the load ends; the next commit copies it
        log.exception("background WAL checkpoints stopped")
    finally:
        conn.close()


def placeholders(conn: Connection, n: int) -> str:
    mark = "?" if is_sqlite(conn) else "%s"
    return ", ".join([mark] * n)


def insert_many(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """Insert many rows through the driver's executemany: the fastest path on both databases."""
    if not rows:
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders(conn, len(columns))})"
    conn.exec_driver_sql(sql, list(rows))


def insert_keyed(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple], base: int
) -> None:
    """`insert_many` for rows whose first value is a key relative to `base` (store/rows.PreparedBatch):
    the database adds base, so no row is rebuilt in Python."""
    if not rows:
        return
    mark = "?" if is_sqlite(conn) else "%s"
    values = ", ".join([f"{mark} + {int(base)}", *[mark] * (len(columns) - 1)])
    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})", list(rows))


def rid_base(rids: Sequence[int]) -> int | None:
    """The first of `rids` when they are one run of consecutive keys in order (so key k is base + k)."""
    if not rids:
        return None
    first = rids[0]
    if isinstance(rids, range) and rids.step == 1:
        return first
    return first if list(rids) == list(range(first, first + len(rids))) else None


def allocate_rids(conn: Connection, n: int) -> Sequence[int]:
    """Reserve n resource keys. Must run inside a write transaction."""
    if n == 0:
        return ()
    if is_sqlite(conn):
        # BEGIN IMMEDIATE holds the write lock, so max+1 cannot race another writer.
        top = int(conn.exec_driver_sql("SELECT COALESCE(MAX(rid), 0) FROM resources").scalar_one())
        return range(top + 1, top + 1 + n)
    rows = conn.execute(
        text("SELECT nextval('resource_rid_seq') FROM generate_series(1, :n) ORDER BY 1"), {"n": n}
    )
    return [int(r[0]) for r in rows]


def string_prefix_upper(prefix: str) -> str:
    """A string above every string that starts with prefix (an index-friendly prefix match)."""
    return prefix + "\U0010ffff"


def like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class least(FunctionElement):  # noqa: N801 - reads as the SQL function it stands for
    """The smallest of the arguments that are not NULL (NULL if all are): PostgreSQL's LEAST; SQLite's
    scalar min() answers NULL as soon as one argument is, so each argument falls back on the others."""

    name = "least"
    inherit_cache = True


class greatest(FunctionElement):  # noqa: N801
    """The largest of the arguments that are not NULL (NULL if all are), as `least`."""

    name = "greatest"
    inherit_cache = True


@compiles(least)
@compiles(greatest)
def _extreme(element: FunctionElement, compiler, **kw) -> str:  # noqa: ANN001 - a SQLCompiler
    return f"{element.name.upper()}({compiler.process(element.clauses, **kw)})"


@compiles(least, "sqlite")
@compiles(greatest, "sqlite")
def _extreme_sqlite(element: FunctionElement, compiler, **kw) -> str:  # noqa: ANN001
    args = list(element.clauses)
    if len(args) == 1:
        return compiler.process(args[0], **kw)
    either = [func.coalesce(a, *(b for b in args if b is not a)) for a in args]
    scalar = "min" if element.name == "least" else "max"
    return f"{scalar}({', '.join(compiler.process(e, **kw) for e in either)})"
