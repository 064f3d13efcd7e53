"""Sealing what was stored in the clear: the rows written before `encrypt_identifiers` was turned on.

`seal` walks every Patient, RelatedPerson and Person row (current versions, then the history) in key
order, a batch per write transaction, and for every row without an envelope:
- seals its identifying elements (crypto/codec.py: the envelope a write under the codec makes);
- for a current version, replaces its index rows of the sealed search parameters (identifier, telecom,
  phone, email as tokens; name, family, given, phonetic, address* as strings) by the keyed hashes a
  write under the codec stores, recomputed from the record by the store's own extraction.
A row that carries an envelope is left alone, so a second run changes nothing and an interrupted run
resumes where it stopped (each batch is committed whole or not at all). A batch is read, sealed and
written in one write transaction: a record updated meanwhile is never overwritten with an older copy.

`status` counts the rows by state: sealed (per data key), clear (identifying elements to seal), and
nothing to seal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from sqlalchemy import Connection, Engine, Row, Table, false, func, select, true, update

from yilian.crypto.codec import SEALED_TYPES, IdentifierCodec, has_identifying_elements, is_sealed, key_of
from yilian.store import dialect
from yilian.store.rows import prepare
from yilian.store.tables import idx_string, idx_token, resource_history, resources

R, H = resources.c, resource_history.c
BATCH = 500
Progress = Callable[[int], None]  # told how many rows each batch went through


@dataclass
class SealReport:
    sealed: int = 0  # rows sealed by this run
    already: int = 0  # rows found sealed (by an earlier run, or written under the codec)
    nothing: int = 0  # rows without an identifying element
    index_rows: int = 0  # keyed-hash search-index rows written, and master-patient-index rows sealed


@dataclass
class Status:
    by_key: Counter = field(default_factory=Counter)  # data key id -> rows it sealed
    clear: int = 0  # rows whose identifying elements are stored in the clear
    nothing: int = 0  # rows without an identifying element

    @property
    def sealed(self) -> int:
        return sum(self.by_key.values())


def rows_of_sealed_types(engine: Engine) -> int:
    """Current and historical rows of the sealed types (the length of a progress bar)."""
    with engine.connect() as conn:
        current = conn.execute(select(func.count()).where(R.type.in_(SEALED_TYPES))).scalar_one()
        old = conn.execute(
            select(func.count()).select_from(_history_join()).where(R.type.in_(SEALED_TYPES))
        ).scalar_one()
    return int(current) + int(old)


def seal(engine: Engine, codec: IdentifierCodec, progress: Progress | None = None) -> SealReport:
    """Seal every row stored in the clear (see the module's docstring)."""
    report = SealReport()

    def sealed(conn: Connection, row: Row, content: bytes) -> bytes | None:
        if is_sealed(content):
            report.already += 1
            return None
        if row.current and not row.deleted:
            report.index_rows += seal_index_rows(conn, codec, row, content)
        resource = orjson.loads(content)
        if not has_identifying_elements(resource):
            report.nothing += 1
            return None
        report.sealed += 1
        return orjson.dumps(codec.seal_resource(resource))

    rewrite_all(engine, sealed, progress)
    from yilian.identity.sealing import reseal_index  # the master patient index keeps its own copies

    report.index_rows += reseal_index(engine, codec)
    return report


def seal_index_rows(conn: Connection, codec: IdentifierCodec, row: Row, content: bytes) -> int:
    """Replace a current version's index rows of the sealed parameters by the keyed hashes a write under
    the codec stores; returns how many rows were written."""
    p = prepare(
        orjson.loads(content),
        rid=row.rid,
        rid_id=row.id,
        version=row.version,
        now=row.last_updated,
        member=row.member,
    )
    index = codec.seal_index(row.type, p.index)
    written = 0
    for name, table, params in (("tokens", idx_token, codec.tokens), ("strings", idx_string, codec.strings)):
        keys = tuple(params)
        marks = dialect.placeholders(conn, len(keys))
        conn.exec_driver_sql(
            f"DELETE FROM {table.name} WHERE rid = {int(row.rid)} AND param IN ({marks})", keys
        )
        fresh = [(row.rid, *r) for r in index.get(name, ()) if r[0] in params]
        dialect.insert_many(conn, table.name, [c.name for c in table.columns], fresh)
        written += len(fresh)
    return written


# What to store instead of a row's content (None: leave it). The row has rid, version, type, id,
# last_updated, member, deleted, current (False for a history row) and content.
Rewrite = Callable[[Connection, Row, bytes], "bytes | None"]


def rewrite_all(engine: Engine, rewrite: Rewrite, progress: Progress | None = None) -> None:
    """Go through every row of the sealed types, current versions then history, in key order, one batch
    per write transaction (read and written under the same lock), storing what `rewrite` makes of it."""
    for table in (resources, resource_history):
        _walk(engine, table, rewrite, progress)


def _walk(engine: Engine, table: Table, rewrite: Rewrite, progress: Progress | None) -> None:
    c = table.c
    current = table is resources
    keys = (c.rid,) if current else (c.rid, c.version)
    stmt = select(
        c.rid,
        c.version,
        R.type,
        R.id,
        R.last_updated,
        R.member,
        R.deleted if current else false().label("deleted"),
        (true() if current else false()).label("current"),
        c.content,
    ).where(R.type.in_(SEALED_TYPES))
    if not current:
        stmt = stmt.select_from(_history_join())
    after: tuple = (0,) if current else (0, 0)
    while True:
        with engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
            if current:
                page = stmt.where(c.rid > after[0])
            else:
                page = stmt.where((c.rid > after[0]) | ((c.rid == after[0]) & (c.version > after[1])))
            batch = conn.execute(page.order_by(*keys).limit(BATCH).with_for_update()).all()
            for row in batch:
                fresh = rewrite(conn, row, bytes(row.content))
                if fresh is not None:
                    where = (k == getattr(row, k.name) for k in keys)
                    conn.execute(update(table).where(*where).values(content=fresh))
        if progress is not None and batch:
            progress(len(batch))
        if len(batch) < BATCH:
            return
        after = tuple(getattr(batch[-1], k.name) for k in keys)


def _history_join():  # noqa: ANN202 - a Join
    return resource_history.join(resources, R.rid == H.rid)


def status(engine: Engine) -> Status:
    """The rows of the sealed types by state (no key needed: only the envelopes' key ids are read)."""
    found = Status()
    current = select(R.content).where(R.type.in_(SEALED_TYPES))
    old = select(H.content).select_from(_history_join()).where(R.type.in_(SEALED_TYPES))
    with engine.connect() as conn:
        for stmt in (current, old):
            for (raw,) in conn.execute(stmt.execution_options(yield_per=BATCH)):
                content = bytes(raw)
                if is_sealed(content):
                    found.by_key[key_of(content)] += 1
                elif has_identifying_elements(orjson.loads(content)):
                    found.clear += 1
                else:
                    found.nothing += 1
    return found
