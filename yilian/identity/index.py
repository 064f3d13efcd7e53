"""The real-time index in the database: records with their features, blocking keys, candidate look-up
and term frequencies. Everything runs on the caller's connection, so index rows commit with the Patient.
With `encrypt_identifiers` on, features and demographics are stored sealed and keys and terms as keyed
hashes (sealing.py); this module is where they are sealed and opened.

Statements are built once, with bound parameters: a Patient's arrival runs a dozen small queries inside the
writer's transaction, where building and compiling each statement anew would cost more than running it.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

from sqlalchemy import (
    Connection,
    Executable,
    and_,
    bindparam,
    delete,
    func,
    literal,
    select,
    union_all,
    update,
)

from yilian.identity import block
from yilian.identity.compare import Spec
from yilian.identity.sealing import DEMOGRAPHICS, FEATURES, dump, load, stored_key, stored_term
from yilian.identity.tables import mpi_keys, mpi_records

R, K = mpi_records.c, mpi_keys.c
SMOOTHING = 10_000
MAX_BLOCK = 200  # a key shared by more records than this (a clinic's default phone) finds no candidates
KEYS_PER_QUERY = 50  # blocking keys looked up in one statement (SQLite allows 500 terms in a UNION)
_TOTALS: dict[str, tuple[float, int]] = {}  # database -> (when counted, indexed records), for frequencies

_BY_PATIENT = select(mpi_records).where(R.patient_id == bindparam("patient_id"))
_BY_PATIENTS = select(mpi_records).where(R.patient_id.in_(bindparam("patient_ids", expanding=True)))
_BY_PERSON = select(mpi_records).where(R.person_id == bindparam("person_id"))
_INSERT = mpi_records.insert()
_UPDATE = update(mpi_records).where(R.patient_id == bindparam("b_patient_id"))
_DROP_KEYS = delete(mpi_keys).where(K.patient_id == bindparam("patient_id"))
_INSERT_KEYS = mpi_keys.insert()
_SET_PERSON = (
    update(mpi_records)
    .where(R.patient_id.in_(bindparam("patient_ids", expanding=True)))
    .values(person_id=bindparam("person_id"))
)
_BY_KEY = select(K.patient_id).where(K.key == bindparam("key"))
_TERM_COUNTS = {
    column: select(func.count()).where(and_(R[column] == bindparam("term"), R.active))
    for column in ("name_chars", "name_key")
}


@dataclass
class Indexed:
    patient_id: str
    version: int
    member: str | None
    person_id: str
    active: bool
    features: dict
    demographics: dict


def get(conn: Connection, patient_id: str) -> Indexed | None:
    row = conn.execute(_BY_PATIENT, {"patient_id": patient_id}).first()
    return _indexed(conn, row) if row else None


def get_many(conn: Connection, patient_ids: list[str]) -> list[Indexed]:
    out: list[Indexed] = []
    for i in range(0, len(patient_ids), 500):
        rows = conn.execute(_BY_PATIENTS, {"patient_ids": patient_ids[i : i + 500]})
        out.extend(_indexed(conn, r) for r in rows)
    return out


def members_of(conn: Connection, person_id: str) -> list[Indexed]:
    return [_indexed(conn, r) for r in conn.execute(_BY_PERSON, {"person_id": person_id})]


def _indexed(conn: Connection, row) -> Indexed:  # noqa: ANN001 - a Row
    return Indexed(
        row.patient_id,
        row.version,
        row.member,
        row.person_id,
        row.active,
        load(conn, FEATURES, row.patient_id, row.features),
        load(conn, DEMOGRAPHICS, row.patient_id, row.demographics),
    )


def active_features(conn: Connection) -> list[dict]:
    """Every active record's features with its id as `uid` (the batch linkage's input)."""
    rows = conn.execute(select(R.patient_id, R.features).where(R.active))
    return [{**load(conn, FEATURES, pid, f), "uid": pid} for pid, f in rows]


def put(conn: Connection, spec: Spec, rec: Indexed, exists: bool) -> None:
    """Insert or replace a record and its keys (an inactive record keeps only its identifier keys)."""
    values = {
        "version": rec.version,
        "member": rec.member,
        "person_id": rec.person_id,
        "active": rec.active,
        "features": dump(conn, FEATURES, rec.patient_id, rec.features),
        "demographics": dump(conn, DEMOGRAPHICS, rec.patient_id, rec.demographics),
        "name_chars": stored_term(conn, "name_chars", rec.features.get("name_chars") or None),
        "name_key": stored_term(conn, "name_key", rec.features.get("name_key")),
        "updated": time.time(),
    }
    if exists:
        conn.execute(_UPDATE, {"b_patient_id": rec.patient_id, **values})
        conn.execute(_DROP_KEYS, {"patient_id": rec.patient_id})
    else:
        conn.execute(_INSERT, {"patient_id": rec.patient_id, **values})
    wanted = identifier_keys(rec.demographics) + (block.keys(spec, rec.features) if rec.active else [])
    if wanted:
        stored = dict.fromkeys(stored_key(conn, k) for k in wanted)
        conn.execute(_INSERT_KEYS, [{"key": k, "patient_id": rec.patient_id} for k in stored])


def identifier_keys(demographics: dict) -> list[str]:
    return [
        block.identifier_key(i.get("system"), i["value"])
        for i in demographics.get("identifier", [])
        if i.get("value")
    ]


def set_person(conn: Connection, patient_ids: list[str], person_id: str) -> None:
    for i in range(0, len(patient_ids), 500):
        conn.execute(_SET_PERSON, {"patient_ids": patient_ids[i : i + 500], "person_id": person_id})


def candidates(conn: Connection, keys: list[str], exclude: str | None = None) -> list[str]:
    """Active records sharing a blocking key, skipping keys shared by too many records to mean anything."""
    found: dict[str, None] = {}
    for start in range(0, len(keys), KEYS_PER_QUERY):
        chunk = keys[start : start + KEYS_PER_QUERY]
        per_key: list[list[str]] = [[] for _ in chunk]
        params = {f"key{i}": stored_key(conn, key) for i, key in enumerate(chunk)}
        for i, patient_id in conn.execute(_candidates_query(len(chunk)), params):
            per_key[i].append(patient_id)
        for ids in per_key:
            if len(ids) <= MAX_BLOCK:
                found.update(dict.fromkeys(ids))
    found.pop(exclude, None)
    return list(found)


@functools.cache
def _candidates_query(n: int) -> Executable:
    """One statement for `n` keys: the records of key i (at most MAX_BLOCK + 1 of them) in rows (i, id)."""
    branches = []
    for i in range(n):
        one = select(K.patient_id).where(K.key == bindparam(f"key{i}")).limit(MAX_BLOCK + 1).subquery()
        branches.append(select(literal(i).label("i"), one.c.patient_id))
    return branches[0] if n == 1 else union_all(*branches)


def by_identifier(conn: Connection, system: str | None, value: str) -> list[str]:
    key = stored_key(conn, block.identifier_key(system, value))
    return list(conn.execute(_BY_KEY, {"key": key}).scalars())


class Frequencies:
    """Term frequencies from the index (an indexed count per value, cached for one match).

    Smoothed as if the index held SMOOTHING more records with the value unseen: in a young index every
    name is "common" (one record of two is 50%), which would wipe out the name's evidence.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.cache: dict[tuple[str, object], float | None] = {}

    def __call__(self, column: str, value: object) -> float | None:
        if value is None or column not in ("name_chars", "name_key"):
            return None
        if (column, value) not in self.cache:
            stored = stored_term(self.conn, column, value)
            n = self.conn.execute(_TERM_COUNTS[column], {"term": stored}).scalar_one()
            self.cache[(column, value)] = (n + 1) / (total(self.conn) + SMOOTHING)
        return self.cache[(column, value)]


def total(conn: Connection, max_age: float = 60.0) -> int:
    """Indexed records (counted at most once a minute: a frequency does not need the exact total)."""
    key = str(conn.engine.url)
    when, n = _TOTALS.get(key, (0.0, 0))
    if time.time() - when > max_age or n == 0:
        n = max(1, conn.execute(select(func.count()).select_from(mpi_records)).scalar_one())
        _TOTALS[key] = (time.time(), n)
    return n
