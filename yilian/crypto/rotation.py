"""Data-key rotation: a new active key for new writes, then re-sealing what older keys sealed.

Re-sealing reads each sealed Patient/RelatedPerson row (current and history) still under an old key,
opens it and seals it again under the active key, in batches, each batch one transaction. The index key
is not rotated here: hashed index rows would have to be recomputed from every record (a re-index).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select, update

from yilian.config import Settings
from yilian.crypto.codec import SEALED_TYPES, IdentifierCodec
from yilian.crypto.keys import DATA_KEYS_FILE, DataKeys, load_or_create_data_keys, replace_secret
from yilian.crypto.suites import suite as suite_named
from yilian.store import dialect
from yilian.store.tables import resource_history, resources

R, H = resources.c, resource_history.c
BATCH = 500


def codec_for(settings: Settings) -> IdentifierCodec:
    suite = suite_named(settings.crypto_suite)
    return IdentifierCodec(suite, load_or_create_data_keys(settings.keys_path(), suite, settings.data_keys))


def rotate(settings: Settings) -> DataKeys:
    """Add a new active data key to the key file (old keys stay, to open what they sealed)."""
    if settings.data_keys:
        raise ValueError("The data keys come from YILIAN_DATA_KEYS: rotate them where they are kept")
    suite = suite_named(settings.crypto_suite)
    keys = load_or_create_data_keys(settings.keys_path(), suite, None).rotated(suite)
    replace_secret(Path(settings.keys_path()) / DATA_KEYS_FILE, keys.to_json())
    return keys


def reseal(engine: Engine, codec: IdentifierCodec) -> int:
    """Seal again, under the active key, every row sealed under another; returns how many."""
    done = 0
    for table, key_cols, type_of in (
        (resources, (R.rid,), lambda row: row.type),
        (resource_history, (H.rid, H.version), None),
    ):
        done += _reseal_table(engine, codec, table, key_cols, type_of)
    return done


def _reseal_table(engine: Engine, codec: IdentifierCodec, table, key_cols, type_of) -> int:  # noqa: ANN001
    c = table.c
    if table is resources:
        stmt = select(c.rid, c.type, c.content).where(c.type.in_(SEALED_TYPES))
    else:
        stmt = (
            select(c.rid, c.version, resources.c.type, c.content)
            .join_from(resource_history, resources, resources.c.rid == c.rid)
            .where(resources.c.type.in_(SEALED_TYPES))
        )
    with engine.connect() as conn:
        stale = [
            r for r in conn.execute(stmt) if codec.key_of(bytes(r.content)) not in (None, codec.keys.active)
        ]
    for i in range(0, len(stale), BATCH):
        with engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
            for row in stale[i : i + BATCH]:
                fresh = codec.seal(row.type, codec.open(row.type, bytes(row.content)))
                where = [col == getattr(row, col.name) for col in key_cols]
                conn.execute(update(table).where(*where).values(content=fresh))
    return len(stale)
