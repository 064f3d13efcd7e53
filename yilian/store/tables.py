"""The store's tables.

A resource's current version lives in `resources` (one row per type/id, `rid` a compact surrogate key);
superseded versions move to `resource_history`. Search indexes are narrow tables keyed by `rid` and a
numeric search-parameter id (`param`, see store.params_ids) so that one index serves every resource type
without repeating type and code strings (Blaze and Medplum keep similar per-kind index tables).
`compartment` lists which Patient compartments a resource belongs to: it makes Patient/$everything
a single indexed lookup.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

RID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite's INTEGER PRIMARY KEY is its rowid

resources = Table(
    "resources",
    metadata,
    Column("rid", RID, primary_key=True, autoincrement=False),
    Column("type", String(64), nullable=False),
    Column("id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_updated", Float, nullable=False),  # POSIX seconds, UTC
    Column("deleted", Boolean, nullable=False, default=False),
    Column("member", String(64)),  # the alliance member the resource came from
    Column("content", LargeBinary, nullable=False),  # the resource as JSON (UTF-8), meta included
    UniqueConstraint("type", "id", name="uq_resources_type_id"),
)
Index("ix_resources_type_updated", resources.c.type, resources.c.last_updated)
Index("ix_resources_member", resources.c.member, resources.c.type)

resource_history = Table(
    "resource_history",
    metadata,
    Column("rid", RID, primary_key=True, autoincrement=False),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("last_updated", Float, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("method", String(8), nullable=False),
    Column("content", LargeBinary, nullable=False),
)

idx_string = Table(
    "idx_string",
    metadata,
    Column("rid", RID, nullable=False),
    Column("param", Integer, nullable=False),
    Column("value", Text, nullable=False),
)
Index("ix_idx_string", idx_string.c.param, idx_string.c.value, idx_string.c.rid)
Index("ix_idx_string_rid", idx_string.c.rid)

idx_token = Table(
    "idx_token",
    metadata,
    Column("rid", RID, nullable=False),
    Column("param", Integer, nullable=False),
    Column("system", Text),
    Column("value", Text, nullable=False),
)
Index("ix_idx_token", idx_token.c.param, idx_token.c.value, idx_token.c.rid)
Index("ix_idx_token_rid", idx_token.c.rid)

idx_date = Table(
    "idx_date",
    metadata,
    Column("rid", RID, nullable=False),
    Column("param", Integer, nullable=False),
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
)
Index("ix_idx_date", idx_date.c.param, idx_date.c.low, idx_date.c.rid)
Index("ix_idx_date_rid", idx_date.c.rid)

idx_reference = Table(
    "idx_reference",
    metadata,
    Column("rid", RID, nullable=False),
    Column("param", Integer, nullable=False),
    Column("target_type", String(64), nullable=False),
    Column("target_id", String(64), nullable=False),
)
Index("ix_idx_reference", idx_reference.c.param, idx_reference.c.target_id, idx_reference.c.rid)
Index("ix_idx_reference_target", idx_reference.c.target_id, idx_reference.c.target_type)
Index("ix_idx_reference_rid", idx_reference.c.rid)

idx_quantity = Table(
    "idx_quantity",
    metadata,
    Column("rid", RID, nullable=False),
    Column("param", Integer, nullable=False),
    Column("value", Float, nullable=False),
    Column("system", Text),
    Column("unit", Text),
)
Index("ix_idx_quantity", idx_quantity.c.param, idx_quantity.c.value, idx_quantity.c.rid)
Index("ix_idx_quantity_rid", idx_quantity.c.rid)

idx_number = Table(
    "idx_number",
    metadata,
    Column("rid", RID, nullable=False),
    Column("param", Integer, nullable=False),
    Column("value", Float, nullable=False),
)
Index("ix_idx_number", idx_number.c.param, idx_number.c.value, idx_number.c.rid)
Index("ix_idx_number_rid", idx_number.c.rid)

idx_uri = Table(
    "idx_uri",
    metadata,
    Column("rid", RID, nullable=False),
    Column("param", Integer, nullable=False),
    Column("value", Text, nullable=False),
)
Index("ix_idx_uri", idx_uri.c.param, idx_uri.c.value, idx_uri.c.rid)
Index("ix_idx_uri_rid", idx_uri.c.rid)

compartment = Table(
    "compartment",
    metadata,
    Column("patient_id", String(64), nullable=False),
    Column("rid", RID, nullable=False),
)
Index("ix_compartment", compartment.c.patient_id, compartment.c.rid)
Index("ix_compartment_rid", compartment.c.rid)

# Users and their API access tokens (the governance issue adds passwords, sessions and consent).
users = Table(
    "users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("organization", String(64)),  # the member the user works for
    Column("roles", Text, nullable=False),  # space-separated role codes
    Column("token_hash", String(64), unique=True),  # SHA-256 of the bearer token
    Column("active", Boolean, nullable=False, default=True),
)

# Index tables in the order IndexRows lists them: name -> table.
INDEX_TABLES = {
    "strings": idx_string,
    "tokens": idx_token,
    "dates": idx_date,
    "references": idx_reference,
    "quantities": idx_quantity,
    "numbers": idx_number,
    "uris": idx_uri,
}
