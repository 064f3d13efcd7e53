"""Data-key rotation: a new active key for new writes, then re-sealing what older keys sealed.

Re-sealing reads each sealed Patient/RelatedPerson row (current and history) still under an old key,
opens it and seals it again under the active key, in batches, each batch one transaction. The index key
is not rotated here: hashed index rows would have to be recomputed from every record (a re-index).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, Row

from yilian.config import Settings
from yilian.crypto.codec import IdentifierCodec
from yilian.crypto.keys import DATA_KEYS_FILE, DataKeys, load_or_create_data_keys, replace_secret
from yilian.crypto.seal import rewrite_all
from yilian.crypto.suites import suite as suite_named


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
    """Seal again, under the active key, every row sealed under another; returns how many. Rows are read
    and re-sealed in the same write transaction, so a record updated meanwhile keeps its new version."""
    done = 0

    def resealed(conn: Connection, row: Row, content: bytes) -> bytes | None:
        nonlocal done
        if codec.key_of(content) in (None, codec.keys.active):
            return None
        done += 1
        return codec.seal(row.type, codec.open(row.type, content))

    rewrite_all(engine, resealed)
    from yilian.identity.sealing import reseal_index  # the master patient index's own copies

    return done + reseal_index(engine, codec)
