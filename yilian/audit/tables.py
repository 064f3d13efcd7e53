"""The audit log's tables (migration 0004_audit).

- `audit_event`: one narrow row per recorded AuditEvent, the columns the views query. A row is written
  durably when the request is answered (in the request's own transaction for writes) with `leaf` NULL;
  the folder later gives it the next leaf index of the Merkle log. Rows are never updated otherwise, and
  never deleted.
- `audit_entry`: each event's AuditEvent as canonical JSON, the Merkle leaf; insert-only (kept apart so
  that folding rewrites narrow rows only).
- `audit_patient`: which patients each event is about (the patient access log, incident scoping).
- `audit_hash`: the Merkle tree's complete-node hashes, in tiles of 256 consecutive hashes per level.
- `audit_state`: the folded tree size (one row, locked by the folder).
- `audit_spool_mark`: how far each read-path spool file was drained into `audit_event`.
- `audit_checkpoint`: signed tree heads (size + root), with members' countersignatures in the note.
- `audit_witness`: members' public keys for countersigning.
- `audit_incident*`: security incidents, their affected patients and the notifications sent.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
)

from yilian.store.tables import NO_ROWID, metadata

SEQ = BigInteger().with_variant(Integer(), "sqlite")  # SQLite's INTEGER PRIMARY KEY is its rowid

audit_event = Table(
    "audit_event",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("leaf", BigInteger),  # index in the Merkle log; NULL until folded
    Column("recorded", Float, nullable=False),  # POSIX seconds
    Column("user_id", String(64)),
    Column("member", String(64)),  # the user's organisation
    Column("action", String(32), nullable=False),  # read, search, create, ..., login
    Column("outcome", SmallInteger, nullable=False),  # HTTP status (200, 403...)
    Column("purpose", String(16)),
    Column("break_glass", Text),  # the emergency reason when the access used break-glass
)
Index("ux_audit_event_leaf", audit_event.c.leaf, unique=True)
Index(
    "ix_audit_event_pending",
    audit_event.c.seq,
    sqlite_where=audit_event.c.leaf.is_(None),
    postgresql_where=audit_event.c.leaf.is_(None),
)
Index("ix_audit_event_user", audit_event.c.user_id, audit_event.c.recorded)
Index("ix_audit_event_recorded", audit_event.c.recorded)

audit_entry = Table(
    "audit_entry",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=False),
    Column("entry", LargeBinary, nullable=False),  # the AuditEvent as canonical JSON: the Merkle leaf
)

audit_patient = Table(
    "audit_patient",
    metadata,
    Column("patient_id", String(64), primary_key=True),
    Column("seq", SEQ, primary_key=True, autoincrement=False),
    **NO_ROWID,
)
Index("ix_audit_patient_seq", audit_patient.c.seq)

audit_hash = Table(
    "audit_hash",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("tile", BigInteger, primary_key=True, autoincrement=False),
    Column("hashes", LargeBinary, nullable=False),  # up to 256 consecutive 32-byte node hashes
    **NO_ROWID,
)

audit_state = Table(
    "audit_state",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),  # always 1
    Column("size", BigInteger, nullable=False),
    Column("suite", String(16)),  # fixed by the first fold
)

audit_checkpoint = Table(
    "audit_checkpoint",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("recorded", Float, nullable=False),
    Column("note", Text, nullable=False),  # the signed note: body and every signature line
)

audit_spool_mark = Table(
    "audit_spool_mark",
    metadata,
    Column("spool", String(120), primary_key=True),  # a read-path spool file's name (audit/spool.py)
    Column("upto", BigInteger, nullable=False),  # its last event copied into audit_event
)

audit_witness = Table(
    "audit_witness",
    metadata,
    Column("name", String(64), primary_key=True),  # usually a member Organization id
    Column("algorithm", String(16), nullable=False),
    Column("public_key", Text, nullable=False),  # base64
    Column("added", Float, nullable=False),
)

audit_incident = Table(
    "audit_incident",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("reported_by", String(64), nullable=False),
    Column("recorded", Float, nullable=False),
    Column("window_start", Float, nullable=False),  # accesses in [start, end) are in scope
    Column("window_end", Float, nullable=False),
    Column("users", Text),  # space-separated user ids in scope (empty: any)
    Column("member", String(64)),  # one member in scope (None: any)
    Column("status", String(16), nullable=False),  # open, notified, closed
)

audit_incident_patient = Table(
    "audit_incident_patient",
    metadata,
    Column("incident_id", String(36), primary_key=True),
    Column("patient_id", String(64), primary_key=True),
    Column("accesses", Integer, nullable=False),
    Column("first_access", Float, nullable=False),
    Column("last_access", Float, nullable=False),
    Column("notified_at", Float),
    Column("channel", String(32)),
    Column("delivered", Boolean),
    **NO_ROWID,
)
