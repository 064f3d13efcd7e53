"""The consent grants table: each active Consent flattened into rows the gate's SQL can match."""

from sqlalchemy import Boolean, Column, Float, Index, Integer, String, Table

from yilian.store.tables import metadata

# One row per (provision, purpose, recipient, data class) of an active Consent; '*' means any.
consent_grants = Table(
    "consent_grants",
    metadata,
    Column("consent_id", String(64), nullable=False),
    Column("patient_id", String(64), nullable=False),
    Column("depth", Integer, nullable=False),  # 0 for the base provision, deeper for its exceptions
    Column("permit", Boolean, nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("recipient", String(64), nullable=False),  # a member Organization id
    Column("data_class", String(64), nullable=False),  # a resource type, or a sensitivity class (HIV...)
    Column("start", Float, nullable=False),
    Column("end", Float, nullable=False),
    Column("recorded", Float, nullable=False),  # when the patient acted: newest wins
)
Index("ix_consent_grants_patient", consent_grants.c.patient_id, consent_grants.c.purpose)
Index("ix_consent_grants_consent", consent_grants.c.consent_id)
