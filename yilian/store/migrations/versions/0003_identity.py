"""Master patient index: normalised records, blocking keys, links, persons, actions, models.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = ("identity",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mpi_records",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=True),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("demographics", sa.Text(), nullable=False),
        sa.Column("name_chars", sa.String(length=64), nullable=True),
        sa.Column("name_key", sa.String(length=128), nullable=True),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("patient_id"),
    )
    with op.batch_alter_table("mpi_records", schema=None) as batch_op:
        batch_op.create_index("ix_mpi_records_person", ["person_id"], unique=False)
        batch_op.create_index("ix_mpi_records_name_chars", ["name_chars"], unique=False)
        batch_op.create_index("ix_mpi_records_name_key", ["name_key"], unique=False)

    op.create_table(
        "mpi_keys",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("key", "patient_id"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("mpi_keys", schema=None) as batch_op:
        batch_op.create_index("ix_mpi_keys_patient", ["patient_id"], unique=False)

    op.create_table(
        "mpi_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("a", sa.String(length=64), nullable=False),
        sa.Column("b", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("weight", sa.Float(), nullable=True),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("a", "b", name="uq_mpi_links_pair"),
    )
    with op.batch_alter_table("mpi_links", schema=None) as batch_op:
        batch_op.create_index("ix_mpi_links_b", ["b"], unique=False)
        batch_op.create_index("ix_mpi_links_status", ["status", "updated"], unique=False)

    op.create_table(
        "mpi_persons",
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("golden", sa.Text(), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("person_id"),
    )

    op.create_table(
        "mpi_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("undone_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )

    op.create_table(
        "mpi_models",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("auto_weight", sa.Float(), nullable=False),
        sa.Column("review_weight", sa.Float(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("mpi_models")
    op.drop_table("mpi_actions")
    op.drop_table("mpi_persons")
    with op.batch_alter_table("mpi_links", schema=None) as batch_op:
        batch_op.drop_index("ix_mpi_links_status")
        batch_op.drop_index("ix_mpi_links_b")
    op.drop_table("mpi_links")
    with op.batch_alter_table("mpi_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_mpi_keys_patient")
    op.drop_table("mpi_keys")
    with op.batch_alter_table("mpi_records", schema=None) as batch_op:
        batch_op.drop_index("ix_mpi_records_name_key")
        batch_op.drop_index("ix_mpi_records_name_chars")
        batch_op.drop_index("ix_mpi_records_person")
    op.drop_table("mpi_records")
