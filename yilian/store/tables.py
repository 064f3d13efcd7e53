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
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
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
    # GB/T 39725 labels copied from meta.security (gate/labels.py writes them) so the gate can filter in SQL.
    Column("level", SmallInteger, nullable=False, server_default="4"),
    Column("category", String(4), nullable=False, server_default="MA"),
    Column("sensitivity", String(16)),  # HIV, STD, PSY, GDIS for level-5 data: what a consent must name
    Column("redact", String(200)),  # elements to redact for readers without the right (space-separated)
    # The labels above are all meta.security holds of them (store/search/derived.py: no label index rows).
    Column("labels_in_columns", Boolean, nullable=False, server_default=false()),
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

# Index tables are clustered by resource (primary key starting with rid, WITHOUT ROWID on SQLite) so a
# resource's rows sit together (fast delete on update, _sort and _include lookups), with one secondary
# index (param, value..., rid) that answers searches. Absent systems and units are '' (key columns).
NO_ROWID = {"sqlite_with_rowid": False}


def _index_table(name: str, *columns: Column, search: tuple[str, ...]) -> Table:
    table = Table(
        name,
        metadata,
        Column("rid", RID, primary_key=True, autoincrement=False),
        Column("param", Integer, primary_key=True, autoincrement=False),
        *columns,
        **NO_ROWID,
    )
    Index(f"ix_{name}", *(table.c[c] for c in search), table.c.rid)
    return table


def _key(name: str, type_) -> Column:  # noqa: ANN001 - a SQLAlchemy type
    return Column(name, type_, primary_key=True, autoincrement=False)


idx_string = _index_table("idx_string", _key("value", Text), search=("param", "value"))
idx_token = _index_table("idx_token", _key("system", Text), _key("value", Text), search=("param", "value"))
idx_date = _index_table("idx_date", _key("low", Float), _key("high", Float), search=("param", "low"))
idx_reference = _index_table(
    "idx_reference",
    _key("target_type", String(64)),
    _key("target_id", String(64)),
    search=("param", "target_id"),
)
idx_quantity = _index_table(
    "idx_quantity", _key("value", Float), _key("system", Text), _key("unit", Text), search=("param", "value")
)
idx_number = _index_table("idx_number", _key("value", Float), search=("param", "value"))
idx_uri = _index_table("idx_uri", _key("value", Text), search=("param", "value"))

compartment = Table(
    "compartment",
    metadata,
    Column("patient_id", String(64), primary_key=True),
    Column("rid", RID, primary_key=True, autoincrement=False),
    **NO_ROWID,
)
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
    Column("password_hash", String(200)),  # argon2id; None: the user signs in with a token only
    Column("scopes", Text),  # SMART v2 scopes of the user's long-lived token (None: by role)
    Column("active", Boolean, nullable=False, default=True),
)

# Index tables by IndexRows field (their columns after rid and param follow IndexRows' tuples).
INDEX_TABLES = {
    "strings": idx_string,
    "tokens": idx_token,
    "dates": idx_date,
    "references": idx_reference,
    "quantities": idx_quantity,
    "numbers": idx_number,
    "uris": idx_uri,
}
