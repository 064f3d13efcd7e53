"""The gate's own tables: break-glass grants and OAuth2 access tokens (users live in store.tables)."""

from sqlalchemy import Boolean, Column, Float, Index, String, Table, Text

from yilian.store.tables import metadata

# An emergency access (ETREAT): who opened whose record, why, until when; reviewed by the security officer.
break_glass = Table(
    "break_glass",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("organization", String(64)),
    Column("patient_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("started", Float, nullable=False),
    Column("expires", Float, nullable=False),
    Column("reviewed_by", String(64)),
    Column("review_note", Text),
    Column("reviewed_at", Float),
)
Index("ix_break_glass_user", break_glass.c.user_id, break_glass.c.patient_id, break_glass.c.expires)

# OAuth2 bearer tokens issued by /auth/token, with SMART on FHIR v2 scopes; stored as SHA-256 hashes.
access_tokens = Table(
    "access_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("expires", Float, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)
