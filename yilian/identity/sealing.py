"""Encryption at rest of the index's copies of patients' identifiers (when `encrypt_identifiers` is on).

The store seals each Patient's direct identifiers (yilian/crypto/codec.py); the index keeps its own copies
to match on, and with the setting on it keeps them sealed too, with the store's codec (same suite, same
data keys, same envelope):

- `mpi_records.features` and `.demographics`, `mpi_links.evidence`, `mpi_persons.golden`: one envelope
  each (AES-256-GCM or SM4-GCM under the active data key), bound to the table, column and row, so a
  sealed value copied to another row does not open;
- `mpi_records.name_chars` / `.name_key` (term frequencies are equality counts) and `mpi_keys.key`
  (blocking and identifier keys: candidates are equality look-ups): keyed hashes under the index key.
  A key keeps its rule's name in clear ("name-birth#<hash>"), never its value.

Matching is unchanged: the same keys find the same candidates, whose features are opened to score them.
Reading works on both forms, so an index written before the setting was turned on still opens;
`reseal_index` seals such rows and re-seals rows under a rotated-out data key (crypto.rotation calls it).
What it costs: equal names have equal hashes (a frequency attacker with the database sees who shares a
name), as in the store's own search index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Engine, select, tuple_, update

from yilian.crypto.codec import ENVELOPE  # the codec's envelope element
from yilian.identity.tables import mpi_keys, mpi_links, mpi_persons, mpi_records
from yilian.store import dialect
from yilian.store.codec import codec_of

if TYPE_CHECKING:
    from yilian.crypto.codec import IdentifierCodec

_CARRIER = "text"  # an element the codec always seals: the value travels in it
SEALED_PREFIX = b'{"' + ENVELOPE.encode() + b'"'
BATCH = 500
# Sealed columns, as each envelope names them (with the row: the AAD).
FEATURES, DEMOGRAPHICS = "mpi_records.features", "mpi_records.demographics"
EVIDENCE, GOLDEN = "mpi_links.evidence", "mpi_persons.golden"


class Sealer:
    """The codec's envelope and keyed hash, applied to index values."""

    def __init__(self, codec: IdentifierCodec) -> None:
        self.codec = codec

    def seal(self, column: str, row_id: str, value: Any) -> str:  # noqa: ANN401 - any JSON value
        carrier = {"resourceType": column, "id": row_id, _CARRIER: value}
        return orjson.dumps({ENVELOPE: self.codec.seal_resource(carrier)[ENVELOPE]}).decode()

    def open(self, column: str, row_id: str, text: str | bytes) -> Any:  # noqa: ANN401
        stored = orjson.loads(text)
        if not is_sealed(text):
            return stored
        carrier = {"resourceType": column, "id": row_id, ENVELOPE: stored[ENVELOPE]}
        return self.codec.open_resource(carrier)[_CARRIER]

    def key(self, key: str) -> str:
        """A blocking or identifier key as stored: the rule's name and a keyed hash of the whole key."""
        rule = key.split(":", 1)[0]
        return f"{rule}#{self.codec.hash_value('mpi-key', key)}"

    def term(self, column: str, value: str | None) -> str | None:
        return None if value is None else self.codec.hash_value(f"mpi-{column}", value)


def sealer(conn: Connection) -> Sealer | None:
    codec = codec_of(conn)
    return None if codec is None else Sealer(codec)  # type: ignore[arg-type]


def is_sealed(text: str | bytes) -> bool:
    data = text.encode() if isinstance(text, str) else text
    return data.startswith(SEALED_PREFIX)


# ---- what the index modules call: sealed when the connection carries a codec, plain JSON otherwise


def dump(conn: Connection, column: str, row_id: str, value: Any) -> str:  # noqa: ANN401
    s = sealer(conn)
    return s.seal(column, row_id, value) if s else orjson.dumps(value).decode()


def load(conn: Connection, column: str, row_id: str, text: str | bytes) -> Any:  # noqa: ANN401
    s = sealer(conn)
    if s is not None:
        return s.open(column, row_id, text)
    if is_sealed(text):
        raise RuntimeError(
            f"{column} of {row_id} is encrypted: turn on encrypt_identifiers (with the data keys) to read it"
        )
    return orjson.loads(text)


def stored_key(conn: Connection, key: str) -> str:
    s = sealer(conn)
    return s.key(key) if s else key


def stored_term(conn: Connection, column: str, value: str | None) -> str | None:
    s = sealer(conn)
    return s.term(column, value) if s else value


# ---- sealing what was written in clear, and re-sealing after a key rotation

SEALED_BY_TABLE = {
    "mpi_records": ("features", "demographics"),
    "mpi_links": ("evidence",),
    "mpi_persons": ("golden",),
}


def pair_id(a: str, b: str) -> str:
    """The row a link's evidence is bound to (the pair, ordered)."""
    return f"{a}|{b}"


def _bound_to(table, row) -> str:  # noqa: ANN001
    """The row id a sealed value of `table` is bound to (the AAD beside the column's name)."""
    if table is mpi_links:
        return pair_id(row.a, row.b)
    return row.patient_id if table is mpi_records else row.person_id


def reseal_index(engine: Engine, codec: IdentifierCodec) -> int:
    """Seal, under the active data key, every index value written in clear or sealed under another key,
    and hash the keys and terms written in clear; returns how many rows changed."""
    s = Sealer(codec)
    done = _hash_keys(engine, s)
    for table in (mpi_records, mpi_links, mpi_persons):
        done += _reseal_table(engine, s, table)
    return done


def _stale(s: Sealer, text: str | None) -> bool:
    if text is None:
        return False
    return not is_sealed(text) or s.codec.key_of(text.encode()) != s.codec.keys.active


def _reseal_table(engine: Engine, s: Sealer, table) -> int:  # noqa: ANN001
    """Page through the table by its key (memory stays flat on a large index), re-sealing stale rows. Each
    page is read and rewritten in one write transaction: a record re-indexed meanwhile is never
    overwritten with its older values."""
    (pk,) = table.primary_key.columns
    columns = SEALED_BY_TABLE[table.name]
    done, last = 0, None
    while True:
        page = select(table).order_by(pk).limit(BATCH)
        with engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
            rows = conn.execute(page if last is None else page.where(pk > last)).all()
            if not rows:
                return done
            last = getattr(rows[-1], pk.name)
            stale = [r for r in rows if any(_stale(s, getattr(r, c)) for c in columns)]
            for row in stale:
                values = _resealed(s, table, columns, row)
                conn.execute(update(table).where(pk == getattr(row, pk.name)).values(values))
        done += len(stale)


def _resealed(s: Sealer, table, columns: tuple[str, ...], row) -> dict:  # noqa: ANN001
    bound = _bound_to(table, row)
    values = {}
    for column in columns:
        if (text := getattr(row, column)) is not None:
            name = f"{table.name}.{column}"
            values[column] = s.seal(name, bound, s.open(name, bound, text))
    if table is mpi_records and not is_sealed(row.features):  # written in clear: its terms too
        features = orjson.loads(row.features)
        values["name_chars"] = s.term("name_chars", features.get("name_chars") or None)
        values["name_key"] = s.term("name_key", features.get("name_key"))
    return values


def _hash_keys(engine: Engine, s: Sealer) -> int:
    """Keys written in clear ("rule:value") become "rule#hash" (the index key is not rotated here). Paged
    by the primary key, so each page starts where the last ended instead of rescanning hashed keys."""
    K, done, last = mpi_keys.c, 0, None
    while True:
        page = select(K.key, K.patient_id).where(K.key.contains(":")).order_by(K.key, K.patient_id)
        if last is not None:
            page = page.where(tuple_(K.key, K.patient_id) > tuple_(*last))
        with engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
            clear = conn.execute(page.limit(BATCH)).all()
            if not clear:
                return done
            last = tuple(clear[-1])
            for key, patient_id in clear:
                where = (K.key == key, K.patient_id == patient_id)
                conn.execute(update(mpi_keys).where(*where).values(key=s.key(key)))
        done += len(clear)
