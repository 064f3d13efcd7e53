"""Move the token `:text` rows (Coding.display, CodeableConcept.text) to their own table, `idx_text`.

They were string rows, kept in two B-trees (by resource, and by parameter and value) though only the
second is ever read: a `:text` search reads them by parameter. `idx_text` keeps one B-tree, (param,
value, rid), and the version each row is of; an update no longer deletes them but upserts its own, and a
search counts a row only with its resource's current version (store/tables.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

import zlib

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ABSTRACT_BASES = ("Resource", "DomainResource")  # the common parameters (_tag, _security...) apply to all


def upgrade() -> None:
    table = op.create_table(
        "idx_text",
        sa.Column("rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("param", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("param", "value", "rid", name="pk_idx_text"),
        sqlite_with_rowid=False,
    )
    conn = op.get_bind()
    for keys in _chunks(_text_keys(conn)):
        params = {f"k{i}": key for i, key in enumerate(keys)}
        marks = ", ".join(f":{name}" for name in params)
        conn.execute(
            sa.text(
                f"INSERT INTO {table.name} (rid, param, value, version) SELECT s.rid, s.param, s.value, "
                f"r.version FROM idx_string s JOIN resources r ON r.rid = s.rid WHERE s.param IN ({marks})"
            ),
            params,
        )
        conn.execute(sa.text(f"DELETE FROM idx_string WHERE param IN ({marks})"), params)


def downgrade() -> None:
    # The current versions' rows go back to idx_string; rows of older versions were not there before.
    op.execute(
        "INSERT INTO idx_string (rid, param, value) SELECT t.rid, t.param, t.value FROM idx_text t "
        "JOIN resources r ON r.rid = t.rid AND r.version = t.version AND NOT r.deleted"
    )
    op.drop_table("idx_text")


def _text_keys(conn: sa.Connection) -> list[int]:
    """The parameter keys of `<type>.<token code>:text` for the types in the store, as store/search/keys.py
    made them when this was written (a migration keeps what it needs, whatever the code becomes); the
    token parameters come from the shipped R4 definitions, which do not change."""
    from yilian import spec

    types = [t for (t,) in conn.execute(sa.text("SELECT DISTINCT type FROM resources"))]
    tokens: dict[str, set[str]] = {}
    for p in spec.load("search-parameters.json.gz"):
        if p.get("resourceType") == "SearchParameter" and p.get("type") == "token":
            for base in p.get("base", ()):
                tokens.setdefault(base, set()).add(p["code"])
    common = set().union(*(tokens.get(b, set()) for b in _ABSTRACT_BASES))
    return sorted(
        zlib.crc32(f"{rtype}.{code}:text".encode()) & 0x7FFFFFFF
        for rtype in types
        for code in tokens.get(rtype, set()) | common
    )


def _chunks(keys: list[int], size: int = 500) -> list[list[int]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]
