"""Audit: the Merkle audit log (events, patients, tree tiles, state, checkpoints, witnesses), incidents.

Revision ID: 0004_audit
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_audit"
down_revision = "0001"
branch_labels = ("audit",)
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("leaf", sa.BigInteger(), nullable=True),
        sa.Column("recorded", sa.Float(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("member", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.SmallInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=True),
        sa.Column("break_glass", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_table(
        "audit_entry",
        sa.Column("seq", SEQ, autoincrement=False, nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ux_audit_event_leaf", "audit_event", ["leaf"], unique=True)
    op.create_index(
        "ix_audit_event_pending",
        "audit_event",
        ["seq"],
        sqlite_where=sa.text("leaf IS NULL"),
        postgresql_where=sa.text("leaf IS NULL"),
    )
    op.create_index("ix_audit_event_user", "audit_event", ["user_id", "recorded"])
    op.create_index("ix_audit_event_recorded", "audit_event", ["recorded"])
    op.create_table(
        "audit_patient",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("seq", SEQ, autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("patient_id", "seq"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_audit_patient_seq", "audit_patient", ["seq"])
    op.create_table(
        "audit_hash",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("tile", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "tile"),
        sqlite_with_rowid=False,
    )
    state = op.create_table(
        "audit_state",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("suite", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(state, [{"id": 1, "size": 0, "suite": None}])
    op.create_table(
        "audit_checkpoint",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("recorded", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("size"),
    )
    op.create_table(
        "audit_spool_mark",
        sa.Column("spool", sa.String(length=120), nullable=False),
        sa.Column("upto", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("spool"),
    )
    op.create_table(
        "audit_witness",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("added", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "audit_incident",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reported_by", sa.String(length=64), nullable=False),
        sa.Column("recorded", sa.Float(), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("window_end", sa.Float(), nullable=False),
        sa.Column("users", sa.Text(), nullable=True),
        sa.Column("member", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "audit_incident_patient",
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("accesses", sa.Integer(), nullable=False),
        sa.Column("first_access", sa.Float(), nullable=False),
        sa.Column("last_access", sa.Float(), nullable=False),
        sa.Column("notified_at", sa.Float(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("delivered", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("incident_id", "patient_id"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    for name in (
        "audit_incident_patient",
        "audit_incident",
        "audit_witness",
        "audit_spool_mark",
        "audit_checkpoint",
        "audit_state",
        "audit_hash",
        "audit_patient",
        "audit_entry",
        "audit_event",
    ):
        op.drop_table(name)
