"""The record store's operations on one connection: write versions, read them back, search, history.

Every read takes a `scope`, the SQL condition the gate compiled for the caller, and applies it inside the
query: rows outside it are never fetched, so paging, counts and includes cannot leak them.
Nothing here checks permissions or validates resources: that is the gate's and the router's work.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Integer,
    String,
    and_,
    bindparam,
    delete,
    false,
    func,
    literal,
    or_,
    select,
    union,
    union_all,
    update,
)

from yilian.fhir.outcomes import conflict, gone, not_found, precondition_failed
from yilian.store import dialect
from yilian.store.codec import Codec, codec_of
from yilian.store.rows import (
    LABEL_COLUMNS,
    RESOURCE_COLUMNS,
    Prepared,
    PreparedBatch,
    batch_of,
    prepare,
)
from yilian.store.search.derived import covering_keys
from yilian.store.search.params import reference_param_keys
from yilian.store.tables import (
    INDEX_TABLES,
    compartment,
    idx_reference,
    idx_token,
    resource_history,
    resources,
)

R = resources.c
H = resource_history.c
COLUMNS = (R.rid, R.type, R.id, R.version, R.last_updated, R.deleted, R.member, R.content, R.redact)


@dataclass(frozen=True, slots=True)
class Stored:
    """One version of a resource as stored."""

    rid: int
    type: str
    id: str
    version: int
    last_updated: float
    deleted: bool
    member: str | None
    content: bytes
    method: str = ""
    redact: str | None = None  # elements a reader without the right must not see (gate/labels.py)
    # The patients of its compartment rows when the store has just written it (None: not known here): the
    # audit of the write needs them, and looking up rows the same transaction wrote cost a query per group.
    patients: frozenset[str] | None = None

    def resource(self) -> dict:
        return orjson.loads(self.content)

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    @property
    def reference(self) -> str:
        return f"{self.type}/{self.id}"


def _stored(row, method: str = "", codec: Codec | None = None) -> Stored:  # noqa: ANN001 - a Row
    content = codec.open(row[1], row[7]) if codec else row[7]  # identifiers decrypted (store/codec.py)
    return Stored(*row[:7], content, method=method or _method(row[3], row[5]), redact=row.redact)


def _method(version: int, deleted: bool) -> str:
    return "DELETE" if deleted else ("POST" if version == 1 else "PUT")


def new_id() -> str:
    return new_ids(1)[0]


_VARIANT = "89ab"  # RFC 9562's variant: the top two bits of the ninth byte are 10


def new_ids(n: int) -> list[str]:
    """n new resource ids: time-ordered (version 7) UUIDs, RFC 9562 section 5.7, with the 12 bits after the
    version holding the fraction of the millisecond (its method 3), the rest from one read of the system's
    randomness.

    Time-ordered because every index keyed by id (resources (type, id), the references to new resources)
    then grows at its right edge: random (version 4) ids put each insert on a random page, so a group's
    commit wrote far more pages (the ORU floor: 2,887-3,045 msg/s with version 4 ids against 3,258-3,318
    with these, 3 alternated pairs). The id shows when the resource was created, which its first version's
    meta.lastUpdated shows anyway."""
    ns = time.time_ns()
    stamp = f"{ns // 1_000_000:012x}{(ns % 1_000_000) * 4096 // 1_000_000:03x}"
    digits = os.urandom(8 * n).hex()
    ids = []
    for i in range(0, 16 * n, 16):
        h = digits[i : i + 16]
        ids.append(f"{stamp[:8]}-{stamp[8:12]}-7{stamp[12:]}-{_VARIANT[int(h[0], 16) & 3]}{h[1:4]}-{h[4:]}")
    return ids


# ---------------------------------------------------------------------------------------------- writes


def insert_new(conn: Connection, items: Sequence[tuple[dict, str | None, str | None]]) -> list[Stored]:
    """Store brand-new resources (version 1) in one batch; items are (resource, id or None, member)."""
    if not items:
        return []
    now = time.time()
    prepared = [
        prepare(res, rid=0, rid_id=rid_id or new_id(), version=1, now=now, member=member)
        for res, rid_id, member in items
    ]
    return insert_prepared(conn, prepared)


def insert_prepared(conn: Connection, prepared: list[Prepared]) -> list[Stored]:
    """Insert prepared version-1 resources, giving each its key (rid)."""
    stored = insert_batch(conn, batch_of(prepared))
    for p, s in zip(prepared, stored, strict=True):
        p.rid = s.rid
    return stored


_REDACT = LABEL_COLUMNS.index("redact")  # in a prepared resource's labels


def insert_batch(conn: Connection, batch: PreparedBatch) -> list[Stored]:
    """Insert a batch of prepared version-1 resources: one block of rids, one executemany per table.
    Returns the stored resources in key order."""
    if not batch.resources:
        return []
    rids = dialect.allocate_rids(conn, batch.size)
    codec = codec_of(conn)
    sealed = _sealed(codec, batch) if codec else batch
    base = dialect.rid_base(rids)
    if base is None:  # not one contiguous block (PostgreSQL under concurrent writers): key each row here
        sealed = sealed.rekeyed(rids.__getitem__)
        base = 0
    dialect.insert_keyed(conn, "resources", RESOURCE_COLUMNS, sealed.resources, base)
    _insert_indexes(conn, sealed, base)
    patients: dict[int, set[str]] = {}
    for key, patient_id in batch.compartment:
        patients.setdefault(key, set()).add(patient_id)
    return [
        Stored(
            rids[key],
            rtype,
            rid_id,
            version,
            updated,
            False,
            member,
            content,
            redact=labels[_REDACT],
            patients=frozenset(patients.get(key, ())),
        )
        for key, rtype, rid_id, version, updated, _deleted, member, content, *labels in batch.resources
    ]


def _insert_indexes(conn: Connection, batch: PreparedBatch, base: int) -> None:
    for name, rows in batch.index.items():
        table = INDEX_TABLES[name]
        dialect.insert_keyed(conn, table.name, [c.name for c in table.columns], rows, base)
    dialect.insert_keyed(conn, "compartment", ("rid", "patient_id"), batch.compartment, base)


def _from_prepared(p: Prepared) -> Stored:
    return Stored(
        p.rid,
        p.type,
        p.id,
        p.version,
        p.last_updated,
        False,
        p.member,
        p.content,
        redact=p.labels[_REDACT],
        patients=frozenset(p.patients),
    )


def _sealed(codec: Codec, batch: PreparedBatch) -> PreparedBatch:
    """The batch as the codec stores it: the resources it seals (patients, a few in a load) rebuilt sealed,
    every other row as it is. `batch` itself is left unsealed (its resources are returned to the caller)."""
    keys = {row[0] for row in batch.resources if codec.seals(row[1])}
    if not keys:
        return batch
    index: dict[int, dict[str, list[tuple]]] = {}
    out = PreparedBatch(size=batch.size)
    for name, rows in batch.index.items():
        kept = out.index[name] = []
        for row in rows:
            if row[0] in keys:
                index.setdefault(row[0], {}).setdefault(name, []).append(row[1:])
            else:
                kept.append(row)
    patients: dict[int, set[str]] = {}
    for row in batch.compartment:
        if row[0] in keys:
            patients.setdefault(row[0], set()).add(row[1])
        else:
            out.compartment.append(row)
    for row in batch.resources:
        key = row[0]
        if key not in keys:
            out.resources.append(row)
            continue
        _key, rtype, rid_id, version, updated, _deleted, member, content, *labels = row
        found, compartment = index.get(key, {}), patients.get(key, set())
        p = Prepared(key, rtype, rid_id, version, updated, member, content, found, compartment, tuple(labels))
        out.add(codec.seal_prepared(p), key=key)
    return out


def current(conn: Connection, rtype: str, rid_id: str, *, lock: bool = False) -> Stored | None:
    """The current row of Type/id, deleted or not, ignoring scope (for writes, which the gate checks)."""
    stmt = select(*COLUMNS).where(R.type == rtype, R.id == rid_id)
    if lock and not dialect.is_sqlite(conn):
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    return _stored(row, codec=codec_of(conn)) if row else None


def write_version(
    conn: Connection,
    existing: Stored | None,
    resource: dict,
    *,
    member: str | None,
    if_match: str | None = None,
) -> tuple[Stored, bool]:
    """Store `resource` as the next version of `existing` (or create it with its own id).

    Returns (stored, created). An update that changes nothing but meta keeps the current version.
    """
    rtype, rid_id = resource["resourceType"], resource["id"]
    if existing is None:
        if if_match:
            raise precondition_failed(f"{rtype}/{rid_id} does not exist, so If-Match cannot hold")
        return insert_new(conn, [(resource, rid_id, member)])[0], True
    _check_version(existing, if_match)
    if not existing.deleted and _same_content(existing.resource(), resource):
        return existing, False
    now = max(time.time(), existing.last_updated + 1e-3)
    p = prepare(
        resource,
        rid=existing.rid,
        rid_id=rid_id,
        version=existing.version + 1,
        now=now,
        member=member or existing.member,
    )
    codec = codec_of(conn)
    sealed = codec.seal_prepared(p) if codec else p
    _archive(conn, existing)
    _clear_indexes(conn, existing.rid)
    conn.execute(
        update(resources)
        .where(R.rid == existing.rid)
        .values(
            version=p.version,
            last_updated=now,
            deleted=False,
            member=p.member,
            content=sealed.content,
            **dict(zip(LABEL_COLUMNS, p.labels, strict=True)),
        )
    )
    _insert_indexes(conn, batch_of([sealed]), existing.rid)  # key 0: the resource's own rid
    return _from_prepared(p), existing.deleted


def delete_version(conn: Connection, existing: Stored) -> Stored:
    """Mark a resource deleted as a new version; its indexes go, its history stays."""
    if existing.deleted:
        return existing
    now = max(time.time(), existing.last_updated + 1e-3)
    version = existing.version + 1
    stub = orjson.dumps(
        {"resourceType": existing.type, "id": existing.id, "meta": {"versionId": str(version)}}
    )
    _archive(conn, existing)
    _clear_indexes(conn, existing.rid)
    conn.execute(
        update(resources)
        .where(R.rid == existing.rid)
        .values(version=version, last_updated=now, deleted=True, content=stub)
    )
    return Stored(existing.rid, existing.type, existing.id, version, now, True, existing.member, stub)


def _check_version(existing: Stored, if_match: str | None) -> None:
    if if_match is None:
        return
    wanted = if_match.removeprefix("W/").strip('"')
    if wanted != str(existing.version):
        raise conflict(
            f"{existing.reference} is at version {existing.version}, not {wanted}: "
            "someone changed it since you read it; read it again and reapply your change"
        )


def _same_content(old: dict, new: dict) -> bool:
    def strip(res: dict) -> dict:
        meta = {k: v for k, v in res.get("meta", {}).items() if k not in ("versionId", "lastUpdated")}
        return {**res, "meta": meta}

    return strip(old) == strip(new)


def _archive(conn: Connection, existing: Stored) -> None:
    codec = codec_of(conn)  # `existing` was opened when read: seal it again for the history table
    content = codec.seal(existing.type, existing.content) if codec else existing.content
    conn.execute(
        resource_history.insert().values(
            rid=existing.rid,
            version=existing.version,
            last_updated=existing.last_updated,
            deleted=existing.deleted,
            method=_method(existing.version, existing.deleted),
            content=content,
        )
    )


def _clear_indexes(conn: Connection, rid: int) -> None:
    for table in (*INDEX_TABLES.values(), compartment):
        conn.execute(delete(table).where(table.c.rid == rid))


# ----------------------------------------------------------------------------------------------- reads


def read(
    conn: Connection, rtype: str, rid_id: str, scope: ColumnElement[bool], params: dict | None = None
) -> Stored:
    """One current resource within `scope` (`params` binds the scope's parameters, e.g. patient_id)."""
    row = conn.execute(select(*COLUMNS).where(R.type == rtype, R.id == rid_id, scope), params).first()
    if row is None:
        raise not_found(f"{rtype}/{rid_id} is not known")
    stored = _stored(row, codec=codec_of(conn))
    if stored.deleted:
        raise gone(f"{rtype}/{rid_id} was deleted (version {stored.version})")
    return stored


def vread(conn: Connection, rtype: str, rid_id: str, version: int, scope: ColumnElement[bool]) -> Stored:
    row = conn.execute(select(*COLUMNS).where(R.type == rtype, R.id == rid_id, scope)).first()
    if row is None:
        raise not_found(f"{rtype}/{rid_id} is not known")
    codec = codec_of(conn)
    if row.version == version:
        stored = _stored(row, codec=codec)
    else:
        old = conn.execute(
            select(H.rid, H.version, H.last_updated, H.deleted, H.method, H.content).where(
                H.rid == row.rid, H.version == version
            )
        ).first()
        if old is None:
            raise not_found(f"{rtype}/{rid_id} has no version {version}")
        stored = Stored(
            old.rid,
            rtype,
            rid_id,
            old.version,
            old.last_updated,
            old.deleted,
            row.member,
            codec.open(rtype, old.content) if codec else old.content,
            old.method,
        )
    if stored.deleted:
        raise gone(f"{rtype}/{rid_id} version {version} is a deletion")
    return stored


def history(
    conn: Connection,
    scope: ColumnElement[bool],
    *,
    rtype: str | None = None,
    rid_id: str | None = None,
    since: float | None = None,
    count: int = 100,
    offset: int = 0,
) -> list[Stored]:
    """Versions newest first, for one resource, one type or the whole store."""
    cur_where = [scope]
    if rtype:
        cur_where.append(R.type == rtype)
    if rid_id:
        cur_where.append(R.id == rid_id)
    current_q = select(*COLUMNS, literal("").label("method")).where(*cur_where)
    old_q = (
        select(
            R.rid, R.type, R.id, H.version, H.last_updated, H.deleted, R.member, H.content, R.redact, H.method
        )
        .join_from(resource_history, resources, H.rid == R.rid)
        .where(*cur_where)
    )
    if since is not None:
        current_q = current_q.where(R.last_updated >= since)
        old_q = old_q.where(H.last_updated >= since)
    both = union_all(current_q, old_q).subquery()
    stmt = (
        select(both).order_by(both.c.last_updated.desc(), both.c.version.desc()).limit(count).offset(offset)
    )
    codec = codec_of(conn)
    return [_stored(row, row.method, codec) for row in conn.execute(stmt)]


def fetch(conn: Connection, conditions: Sequence[ColumnElement[bool]], *, order=(), limit=None, offset=0):  # noqa: ANN001, ANN201
    stmt = select(*COLUMNS).where(*conditions).order_by(*order, R.rid)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    codec = codec_of(conn)
    return [_stored(row, codec=codec) for row in conn.execute(stmt)]


MATCHES_WANTED = 2  # a conditional operation needs to know only: no match, one, or more than one


def tokens_lookup(scope: ColumnElement[bool]):  # noqa: ANN201 - a Select
    """A reusable statement for many `rtype?code=[system|]value` lookups at once (bind the lists `params`
    and `values`): the visible resources holding one of the values under one of the parameters, as
    (param, system, value, COLUMNS...) rows in rid order, at most MATCHES_WANTED of them per (param,
    system, value), so a value thousands of resources share costs no more than a rare one. The caller
    picks each lookup's matches from them (two per system are enough to tell one match from several)."""
    tok = idx_token.c
    per_token = (tok.param, tok.system, tok.value)
    ranked = (
        select(
            *per_token,
            tok.rid,
            func.row_number().over(partition_by=per_token, order_by=tok.rid).label("n"),
        )
        .select_from(idx_token.join(resources, R.rid == tok.rid))
        .where(
            tok.param.in_(bindparam("params", expanding=True)),
            tok.value.in_(bindparam("values", expanding=True)),
            R.deleted == false(),
            scope,
        )
        .subquery("ranked")
    )
    first = ranked.c
    return (
        select(first.param, first.system, first.value, *COLUMNS)
        .select_from(ranked.join(resources, R.rid == first.rid))
        .where(first.n <= MATCHES_WANTED)
        .order_by(R.rid)
    )


def run_tokens_lookup(conn: Connection, stmt, params: list[int], values: list[str]) -> list[tuple]:  # noqa: ANN001
    """(param, system, value, Stored) for each row `tokens_lookup` finds."""
    rows = conn.execute(stmt, {"params": params, "values": values})
    return [
        (param, system, value, Stored(*cols[:8], method=_method(cols[3], cols[5]), redact=cols[8]))
        for param, system, value, *cols in rows
    ]


def count(conn: Connection, conditions: Sequence[ColumnElement[bool]]) -> int:
    return int(conn.execute(select(func.count()).select_from(resources).where(*conditions)).scalar_one())


def compartment_rids(patient_id: str):  # noqa: ANN201 - a Select
    return select(compartment.c.rid).where(compartment.c.patient_id == patient_id)


def patient_param():  # noqa: ANN201 - a BindParameter
    """The patient a one-patient read is confined to, bound when the statement runs: statements and scopes
    built on it are reused for every patient."""
    return bindparam("patient_id", type_=String)


_everything_statements: dict[tuple, tuple] = {}  # (id(scope), since?, types) -> (scope, statement)


def everything(
    conn: Connection,
    patient_id: str,
    scope: ColumnElement[bool],
    *,
    since: float | None = None,
    types: Sequence[str] = (),
    limit: int,
    offset: int = 0,
) -> list[Stored]:
    """A patient's compartment plus the resources it references (Organization, Practitioner...). The scope
    may use `patient_param()`. The statement is built once per scope and shape (scopes are cached by the
    gate), because building and keying it costs more than SQLite takes to run it."""
    key = (id(scope), since is not None, tuple(types))
    cached = _everything_statements.get(key)
    if cached is None or cached[0] is not scope:  # an id can be reused once its scope is gone
        if len(_everything_statements) > 1024:
            _everything_statements.clear()
        cached = (scope, _everything_statement(scope, since is not None, tuple(types)))
        _everything_statements[key] = cached
    params = {"patient_id": patient_id, "since": since, "limit": limit, "offset": offset}
    codec = codec_of(conn)
    found = [_stored(row, codec=codec) for row in conn.execute(cached[1], params)]
    found.sort(key=lambda s: (s.type != "Patient" or s.id != patient_id, s.rid))  # the page's order
    return found


def _everything_statement(scope: ColumnElement[bool], with_since: bool, types: tuple[str, ...]):  # noqa: ANN202
    own = compartment_rids(patient_param())
    ref = idx_reference.c
    targets = select(ref.target_type, ref.target_id).where(ref.rid.in_(own)).distinct().subquery()
    referenced = select(R.rid).join_from(
        resources, targets, and_(R.type == targets.c.target_type, R.id == targets.c.target_id)
    )
    conds = [R.deleted == false(), scope, R.rid.in_(own) | R.rid.in_(referenced)]
    if with_since:
        conds.append(R.last_updated >= bindparam("since", type_=Float))
    if types:
        conds.append(R.type.in_(types))
    patient_first = (R.type != "Patient") | (R.id != patient_param())
    # The page is chosen and ordered on keys alone, then its rows are read by rid (everything() puts them
    # in the page's order): sorting rows with their JSON made SQLite copy every document into a sorter,
    # half the time of the query.
    page = (
        select(R.rid)
        .where(*conds)
        .order_by(patient_first, R.rid)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
        .correlate(None)  # its own `resources`, not the outer query's
    )
    return select(*COLUMNS).where(R.rid.in_(page))


def referenced_by(
    conn: Connection,
    rids: Sequence[int],
    params: Sequence[int] | None,
    target_type: str | None,
    scope: ColumnElement[bool],
) -> list[Stored]:
    """Resources referenced from `rids` (through `params` when given): _include."""
    ref = idx_reference.c
    targets = select(ref.target_type, ref.target_id).where(ref.rid.in_(rids))
    if params is not None:
        targets = targets.where(ref.param.in_(covering_keys(params)))  # rows left out: search/derived.py
    if target_type:
        targets = targets.where(ref.target_type == target_type)
    t = targets.distinct().subquery()
    hits = select(R.rid).join_from(resources, t, and_(R.type == t.c.target_type, R.id == t.c.target_id))
    return fetch(conn, [R.rid.in_(hits), R.deleted == false(), scope])


def referencing(
    conn: Connection,
    targets: Sequence[Stored],
    source_type: str,
    params: Sequence[int] | None,
    scope: ColumnElement[bool],
) -> list[Stored]:
    """Resources of `source_type` that reference any of `targets` (through `params`): _revinclude."""
    ref = idx_reference.c
    by_type: dict[str, set[str]] = {}
    for t in targets:
        by_type.setdefault(t.type, set()).add(t.id)
    # Always by parameter: the one index on references that leads with the target is (param, target_id).
    keys = covering_keys(params) if params is not None else reference_param_keys(source_type)
    # Type and id both: an id alone may name resources of several types.
    points_at = or_(
        *(
            and_(ref.param.in_(keys), ref.target_id.in_(sorted(ids)), ref.target_type == rtype)
            for rtype, ids in by_type.items()
        )
    )
    sources = select(ref.rid).where(points_at)
    conds = [R.rid.in_(sources), R.deleted == false(), scope]
    if source_type != "*":
        conds.append(R.type == source_type)
    return fetch(conn, conds)


def care_relationships(
    conn: Connection, patients: list[str], care_types: Sequence[str], scope: ColumnElement[bool]
) -> set[tuple[str, str]]:
    """(patient, organisation) pairs joined by an Encounter, EpisodeOfCare or CareTeam in the record."""
    c, ref = compartment.c, idx_reference.c
    found: set[tuple[str, str]] = set()
    for i in range(0, len(patients), 1000):
        chunk = patients[i : i + 1000]
        care = (
            select(c.patient_id, R.rid, R.member)
            .join_from(compartment, resources, R.rid == c.rid)
            .where(c.patient_id.in_(chunk), R.type.in_(care_types), R.deleted == false(), scope)
            .subquery()
        )
        by_source = select(care.c.patient_id, care.c.member).where(care.c.member.is_not(None))
        by_reference = select(care.c.patient_id, ref.target_id).join_from(
            care, idx_reference, and_(ref.rid == care.c.rid, ref.target_type == "Organization")
        )
        found.update((p, o) for p, o in conn.execute(union(by_source, by_reference)))
    return found
