"""Ingest's own operational tables (never clinical data: that is FHIR, in the store, behind the gate).

- `ingest_messages`: every message or CSV row group as received, stored before it is processed, with
  its status (received → processed | rejected | duplicate), the error of a rejected one (the dead-letter
  store is the rejected rows) and the idempotency key (message control id, or a content hash).
- `ingest_unmapped`: each local code a processed message carried that the member's code map did not know.
- `ingest_code_map`: per-member tables mapping local codes (lab item, diagnosis, drug...) to standard ones.
- `ingest_mappings`: each member's CSV column mapping (the TOML text), used again when a row is replayed.
"""

from sqlalchemy import Column, Float, Index, Integer, LargeBinary, String, Table, Text

from yilian.store.tables import metadata

ingest_messages = Table(
    "ingest_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("member", String(64)),  # None when the sender could not be identified
    Column("format", String(16), nullable=False),  # hl7v2 | csv | fhir
    Column("kind", String(64), nullable=False),  # ORU^R01, csv:results...
    Column("control_id", String(200)),  # MSH-10, or the CSV group key
    Column("idem_key", String(240), nullable=False),  # control id, else sha256 of the content
    Column("content_hash", String(64), nullable=False),
    Column("charset", String(32)),  # how the payload's bytes are to be decoded
    Column("payload", LargeBinary, nullable=False),  # exactly as received (or as last fixed)
    Column("source", String(200)),  # file name, or mllp:<peer>
    Column("received_at", Float, nullable=False),  # POSIX seconds
    Column("event_at", Float),  # the clinical event's time, for timeliness
    Column("processed_at", Float),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("resources", Integer, nullable=False, default=0),  # entries written or matched
    Column("duplicate_of", Integer),
)
Index("ix_ingest_messages_key", ingest_messages.c.idem_key, ingest_messages.c.member)
Index("ix_ingest_messages_status", ingest_messages.c.status, ingest_messages.c.member)
Index("ix_ingest_messages_member", ingest_messages.c.member, ingest_messages.c.received_at)

ingest_unmapped = Table(
    "ingest_unmapped",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", Integer, nullable=False),
    Column("member", String(64)),
    Column("kind", String(32), nullable=False),  # lab | diagnosis | drug | exam | procedure...
    Column("system", Text, nullable=False),
    Column("code", String(200), nullable=False),
    Column("display", Text),
)
Index("ix_ingest_unmapped_member", ingest_unmapped.c.member, ingest_unmapped.c.kind)
Index("ix_ingest_unmapped_message", ingest_unmapped.c.message_id)

ingest_code_map = Table(
    "ingest_code_map",
    metadata,
    Column("member", String(64), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("local_code", String(200), primary_key=True),
    Column("local_display", Text),
    Column("targets", Text, nullable=False),  # JSON list of FHIR Codings
)

ingest_mappings = Table(
    "ingest_mappings",
    metadata,
    Column("member", String(64), primary_key=True),
    Column("toml", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)
