"""The message store: ingest's own operational rows (messages, dead letters, unmapped codes, code maps).

Only ingest's tables are read and written here, never clinical data (that goes through the router). A
message is stored, in its own committed transaction, before anything is done with it, so a crash or a
refusal loses nothing; `record_outcomes` then says what became of each one.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import orjson
from sqlalchemy import Engine, and_, bindparam, delete, func, insert, select, true, update

from yilian.ingest.codes import CodeMap, Table, Unmapped
from yilian.ingest.kept import Kept
from yilian.ingest.tables import ingest_code_map, ingest_mappings, ingest_messages, ingest_unmapped
from yilian.store import dialect

M = ingest_messages.c
RECEIVED, PROCESSED, REJECTED, DUPLICATE, RESENT = "received", "processed", "rejected", "duplicate", "resent"
CHUNK = 500


@dataclass
class Incoming:
    """One message (or CSV row group) as it arrived."""

    member: str | None
    format: str
    kind: str
    payload: bytes
    control_id: str | None = None
    charset: str | None = None
    source: str | None = None
    received_at: float = field(default_factory=time.time)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.payload).hexdigest()

    @property
    def idem_key(self) -> str:
        # HL7 v2 resends keep their control id; CSV rows and files are known by their content, so a
        # corrected row (same key, new values) is processed again.
        if self.format == "hl7v2" and self.control_id:
            return f"id:{self.control_id}"
        return f"sha256:{self.content_hash}"


@dataclass
class Stored:
    id: int
    incoming: Incoming
    duplicate_of: int | None = None


@dataclass
class Outcome:
    id: int
    status: str
    error: str | None = None
    resources: int = 0
    event_at: float | None = None
    unmapped: list[Unmapped] = field(default_factory=list)


def _writing(engine: Engine):  # noqa: ANN202 - a connection context
    return engine.connect().execution_options(**dialect.write_options())


def store_incoming(
    engine: Engine, items: Sequence[Incoming], seen: dict[tuple, int] | None = None
) -> list[Stored]:
    """Store messages before processing. One already processed under the same member and idempotency
    key (or sent twice in this batch) is stored as a duplicate of it; a rejected or never finished
    earlier copy is marked resent, and the new one takes its place. A batch stored in chunks passes the
    same `seen` to each call ((member, idempotency key) -> the id later copies duplicate), so a copy of
    a message an earlier chunk stored is a duplicate of it, as within one call."""
    if not items:
        return []
    seen = {} if seen is None else seen
    with _writing(engine) as conn, conn.begin():
        keys = [(item.member, item.idem_key) for item in items]
        new_keys = {key for key in keys if key not in seen}
        # (Another member's message under the same key is no copy of these: only new_keys count.)
        earlier = {k: v for k, v in _earlier(conn, {k[1] for k in new_keys}).items() if k in new_keys}
        first: dict[tuple, int] = {}  # key -> index of its first copy in this batch
        rows, dup_of, twin = [], [], []
        for i, (item, key) in enumerate(zip(items, keys, strict=True)):
            prior = seen.get(key) or (earlier[key][0] if earlier.get(key, (0, ""))[1] == PROCESSED else None)
            twin.append(first.get(key) if prior is None else None)
            first.setdefault(key, i)
            dup_of.append(prior)
            rows.append(_row(item, DUPLICATE if prior or twin[-1] is not None else RECEIVED, prior))
        stmt = insert(ingest_messages).returning(M.id, sort_by_parameter_order=True)
        ids = [r.id for r in conn.execute(stmt, rows)]
        for i, t in enumerate(twin):
            if t is not None:
                dup_of[i] = ids[t]
                conn.execute(update(ingest_messages).where(M.id == ids[i]).values(duplicate_of=ids[t]))
        for key, i in first.items():
            seen.setdefault(key, dup_of[i] or ids[i])
        superseded = [v[0] for v in earlier.values() if v[1] in (REJECTED, RECEIVED)]
        if superseded:
            conn.execute(update(ingest_messages).where(M.id.in_(superseded)).values(status=RESENT))
    return [Stored(i, item, d) for i, item, d in zip(ids, items, dup_of, strict=True)]


def _earlier(conn, keys: set[str]) -> dict[tuple, tuple[int, str]]:  # noqa: ANN001
    """(member, idem key) -> (id, status) of the newest earlier message under one of the idempotency
    keys that is not itself a duplicate."""
    found: dict[tuple, tuple[int, str]] = {}
    for chunk in chunks(sorted(keys)):
        rows = conn.execute(
            select(M.id, M.member, M.idem_key, M.status)
            .where(M.idem_key.in_(chunk), M.status.in_((RECEIVED, PROCESSED, REJECTED)))
            .order_by(M.id)
        )
        for r in rows:
            found[(r.member, r.idem_key)] = (r.id, r.status)
    return found


def _row(item: Incoming, status: str, duplicate_of: int | None) -> dict:
    return {
        "member": item.member,
        "format": item.format,
        "kind": item.kind[:64],
        "control_id": (item.control_id or None) and item.control_id[:200],
        "idem_key": item.idem_key[:240],
        "content_hash": item.content_hash,
        "charset": item.charset,
        "payload": item.payload,
        "source": (item.source or "")[:200] or None,
        "received_at": item.received_at,
        "event_at": None,
        "processed_at": time.time() if status == DUPLICATE else None,
        "status": status,
        "error": None,
        "attempts": 0,
        "resources": 0,
        "duplicate_of": duplicate_of,
    }


def record_outcomes(engine: Engine, outcomes: Sequence[Outcome]) -> None:
    if not outcomes:
        return
    now = time.time()
    params = [
        {
            "b_id": o.id,
            "b_status": o.status,
            "b_error": o.error,
            "b_resources": o.resources,
            "b_event": o.event_at,
            "b_now": now,
        }
        for o in outcomes
    ]
    stmt = (
        update(ingest_messages)
        .where(M.id == bindparam("b_id"))
        .values(
            status=bindparam("b_status"),
            error=bindparam("b_error"),
            resources=bindparam("b_resources"),
            event_at=func.coalesce(bindparam("b_event"), M.event_at),
            processed_at=bindparam("b_now"),
            attempts=M.attempts + 1,
        )
    )
    unmapped = [
        {"message_id": o.id, "kind": u.kind, "system": u.system, "code": u.code[:200], "display": u.display}
        for o in outcomes
        for u in o.unmapped
    ]
    with _writing(engine) as conn, conn.begin():
        conn.execute(stmt, params)
        ids = [o.id for o in outcomes]
        for chunk in chunks(ids):
            conn.execute(delete(ingest_unmapped).where(ingest_unmapped.c.message_id.in_(chunk)))
        if unmapped:
            members = dict(
                conn.execute(
                    select(M.id, M.member).where(M.id.in_({u["message_id"] for u in unmapped}))
                ).all()
            )
            for u in unmapped:
                u["member"] = members.get(u["message_id"])
            conn.execute(insert(ingest_unmapped), unmapped)


T = TypeVar("T")


def chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """`values` in lists of `size` (the last one shorter), taken as they come: a generator is read no
    further than the chunk handed on."""
    rest = iter(values)
    while chunk := list(itertools.islice(rest, size)):
        yield chunk


# --- reading the store (dead letters, replay) --------------------------------------------------------


@dataclass
class MessageRow:
    id: int
    member: str | None
    format: str
    kind: str
    control_id: str | None
    charset: str | None
    payload: bytes
    source: str | None
    received_at: float
    event_at: float | None
    status: str
    error: str | None
    attempts: int
    resources: int
    duplicate_of: int | None

    def incoming(self) -> Incoming:
        return Incoming(
            self.member,
            self.format,
            self.kind,
            self.payload,
            self.control_id,
            self.charset,
            self.source,
            self.received_at,
        )

    def text(self) -> str:
        return self.payload.decode(self.charset or "utf-8", "replace")


_COLUMNS = [M[name] for name in MessageRow.__dataclass_fields__]


def get_message(engine: Engine, message_id: int) -> MessageRow | None:
    with engine.connect() as conn:
        row = conn.execute(select(*_COLUMNS).where(M.id == message_id)).first()
    return MessageRow(*row) if row else None


def list_messages(
    engine: Engine,
    *,
    status: str | Sequence[str] | None = None,
    member: str | None = None,
    limit: int = 200,
    ids: Sequence[int] | None = None,
) -> list[MessageRow]:
    conds = []
    if status:
        conds.append(M.status.in_([status] if isinstance(status, str) else list(status)))
    if member:
        conds.append(M.member == member)
    if ids is not None:
        conds.append(M.id.in_(list(ids)))
    with engine.connect() as conn:
        rows = conn.execute(select(*_COLUMNS).where(and_(true(), *conds)).order_by(M.id).limit(limit)).all()
    return [MessageRow(*r) for r in rows]


def replace_payload(engine: Engine, message_id: int, payload: bytes, charset: str = "utf-8") -> None:
    """A fix: the corrected message replaces the stored one (the error stays until it is replayed)."""
    with _writing(engine) as conn, conn.begin():
        conn.execute(
            update(ingest_messages)
            .where(M.id == message_id)
            .values(payload=payload, charset=charset, content_hash=hashlib.sha256(payload).hexdigest())
        )


# --- code maps -----------------------------------------------------------------------------------------


def save_code_tables(engine: Engine, member: str, tables: dict[str, Table]) -> int:
    """Replace the member's entries for each kind given; returns how many codes are now mapped."""
    rows = [
        {
            "member": member,
            "kind": kind,
            "local_code": code,
            "local_display": display,
            "targets": orjson.dumps(codings).decode(),
        }
        for kind, table in tables.items()
        for code, (display, codings) in table.items()
    ]
    with _writing(engine) as conn, conn.begin():
        for kind in tables:
            conn.execute(
                delete(ingest_code_map).where(
                    ingest_code_map.c.member == member, ingest_code_map.c.kind == kind
                )
            )
        if rows:
            conn.execute(insert(ingest_code_map), rows)
    _code_tables.forget(engine, member)
    return len(rows)


CODE_TABLES_KEPT_S = 30.0  # a member's code tables, once read, are used this long before being read again
_code_tables = Kept(CODE_TABLES_KEPT_S)


def load_code_map(engine: Engine, member: str | None) -> CodeMap:
    """The member's code tables (read again when older than CODE_TABLES_KEPT_S: kept.py)."""
    if not member:
        return CodeMap(member, {})
    tables = _code_tables.get(engine, member)
    if tables is None:
        tables = {}
        with engine.connect() as conn:
            rows = conn.execute(select(ingest_code_map).where(ingest_code_map.c.member == member)).all()
        for r in rows:
            tables.setdefault(r.kind, {})[r.local_code] = (r.local_display, orjson.loads(r.targets))
        _code_tables.put(engine, member, tables)
    return CodeMap(member, tables)


def save_mapping(engine: Engine, member: str, toml_text: str) -> None:
    with _writing(engine) as conn, conn.begin():
        conn.execute(delete(ingest_mappings).where(ingest_mappings.c.member == member))
        conn.execute(insert(ingest_mappings).values(member=member, toml=toml_text, updated_at=time.time()))


def load_mapping(engine: Engine, member: str | None) -> str | None:
    if not member:
        return None
    with engine.connect() as conn:
        return conn.execute(select(ingest_mappings.c.toml).where(ingest_mappings.c.member == member)).scalar()
