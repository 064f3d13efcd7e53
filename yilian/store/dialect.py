"""Every difference between SQLite and PostgreSQL lives here, so the rest of the store has one SQL path."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, event, text


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
        # One writer at a time: a write transaction takes the lock up front (datasette's write thread
        # pattern) instead of failing with "database is locked" when it first writes.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def write_options() -> dict:
    """Execution options for a connection that will write."""
    return {"sqlite_begin": "IMMEDIATE"}


def placeholders(conn: Connection, n: int) -> str:
    mark = "?" if is_sqlite(conn) else "%s"
    return ", ".join([mark] * n)


def insert_many(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """Insert many rows through the driver's executemany: the fastest path on both databases."""
    if not rows:
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders(conn, len(columns))})"
    conn.exec_driver_sql(sql, list(rows))


def allocate_rids(conn: Connection, n: int) -> Sequence[int]:
    """Reserve n resource keys. Must run inside a write transaction."""
    if n == 0:
        return ()
    if is_sqlite(conn):
        # BEGIN IMMEDIATE holds the write lock, so max+1 cannot race another writer.
        top = int(conn.exec_driver_sql("SELECT COALESCE(MAX(rid), 0) FROM resources").scalar_one())
        return range(top + 1, top + 1 + n)
    rows = conn.execute(text("SELECT nextval('resource_rid_seq') FROM generate_series(1, :n)"), {"n": n})
    return [int(r[0]) for r in rows]


def string_prefix_upper(prefix: str) -> str:
    """A string above every string that starts with prefix (an index-friendly prefix match)."""
    return prefix + "\U0010ffff"


def like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
