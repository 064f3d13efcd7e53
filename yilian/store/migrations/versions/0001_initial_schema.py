"""Initial schema: resources, history, search indexes, compartments, users.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Resource keys are allocated in batches before insert (store.dialect.allocate_rids).
        op.execute("CREATE SEQUENCE IF NOT EXISTS resource_rid_seq")
    op.create_table(
        "compartment",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column(
            "rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.PrimaryKeyConstraint("patient_id", "rid"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("compartment", schema=None) as batch_op:
        batch_op.create_index("ix_compartment_rid", ["rid"], unique=False)

    op.create_table(
        "idx_date",
        sa.Column(
            "rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("param", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("low", sa.Float(), autoincrement=False, nullable=False),
        sa.Column("high", sa.Float(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("rid", "param", "low", "high"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("idx_date", schema=None) as batch_op:
        batch_op.create_index("ix_idx_date", ["param", "low", "rid"], unique=False)

    op.create_table(
        "idx_number",
        sa.Column(
            "rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("param", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.Float(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("rid", "param", "value"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("idx_number", schema=None) as batch_op:
        batch_op.create_index("ix_idx_number", ["param", "value", "rid"], unique=False)

    op.create_table(
        "idx_quantity",
        sa.Column(
            "rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("param", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.Float(), autoincrement=False, nullable=False),
        sa.Column("system", sa.Text(), autoincrement=False, nullable=False),
        sa.Column("unit", sa.Text(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("rid", "param", "value", "system", "unit"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("idx_quantity", schema=None) as batch_op:
        batch_op.create_index("ix_idx_quantity", ["param", "value", "rid"], unique=False)

    op.create_table(
        "idx_reference",
        sa.Column(
            "rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("param", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("target_type", sa.String(length=64), autoincrement=False, nullable=False),
        sa.Column("target_id", sa.String(length=64), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("rid", "param", "target_type", "target_id"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("idx_reference", schema=None) as batch_op:
        batch_op.create_index("ix_idx_reference", ["param", "target_id", "rid"], unique=False)
        batch_op.create_index("ix_idx_reference_target", ["target_id", "target_type"], unique=False)

    op.create_table(
        "idx_string",
        sa.Column(
            "rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("param", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.Text(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("rid", "param", "value"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("idx_string", schema=None) as batch_op:
        batch_op.create_index("ix_idx_string", ["param", "value", "rid"], unique=False)

    op.create_table(
        "idx_token",
        sa.Column(
            "rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("param", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("system", sa.Text(), autoincrement=False, nullable=False),
        sa.Column("value", sa.Text(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("rid", "param", "system", "value"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("idx_token", schema=None) as batch_op:
        batch_op.create_index("ix_idx_token", ["param", "value", "rid"], unique=False)

    op.create_table(
        "idx_uri",
        sa.Column(
            "rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("param", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.Text(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("rid", "param", "value"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("idx_uri", schema=None) as batch_op:
        batch_op.create_index("ix_idx_uri", ["param", "value", "rid"], unique=False)

    op.create_table(
        "resource_history",
        sa.Column(
            "rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_updated", sa.Float(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("rid", "version"),
    )
    op.create_table(
        "resources",
        sa.Column(
            "rid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.Float(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("rid"),
        sa.UniqueConstraint("type", "id", name="uq_resources_type_id"),
    )
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.create_index("ix_resources_member", ["member", "type"], unique=False)
        batch_op.create_index("ix_resources_type_updated", ["type", "last_updated"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organization", sa.String(length=64), nullable=True),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS resource_rid_seq")
    op.drop_table("users")
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.drop_index("ix_resources_type_updated")
        batch_op.drop_index("ix_resources_member")

    op.drop_table("resources")
    op.drop_table("resource_history")
    with op.batch_alter_table("idx_uri", schema=None) as batch_op:
        batch_op.drop_index("ix_idx_uri")

    op.drop_table("idx_uri")
    with op.batch_alter_table("idx_token", schema=None) as batch_op:
        batch_op.drop_index("ix_idx_token")

    op.drop_table("idx_token")
    with op.batch_alter_table("idx_string", schema=None) as batch_op:
        batch_op.drop_index("ix_idx_string")

    op.drop_table("idx_string")
    with op.batch_alter_table("idx_reference", schema=None) as batch_op:
        batch_op.drop_index("ix_idx_reference_target")
        batch_op.drop_index("ix_idx_reference")

    op.drop_table("idx_reference")
    with op.batch_alter_table("idx_quantity", schema=None) as batch_op:
        batch_op.drop_index("ix_idx_quantity")

    op.drop_table("idx_quantity")
    with op.batch_alter_table("idx_number", schema=None) as batch_op:
        batch_op.drop_index("ix_idx_number")

    op.drop_table("idx_number")
    with op.batch_alter_table("idx_date", schema=None) as batch_op:
        batch_op.drop_index("ix_idx_date")

    op.drop_table("idx_date")
    with op.batch_alter_table("compartment", schema=None) as batch_op:
        batch_op.drop_index("ix_compartment_rid")

    op.drop_table("compartment")
