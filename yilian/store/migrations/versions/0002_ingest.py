"""Ingest: the message store (with its dead letters), unmapped codes, per-member code maps.

Revision ID: 0002_ingest
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_ingest"
down_revision = "0001"
branch_labels = ("ingest",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("member", sa.String(length=64), nullable=True),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("control_id", sa.String(length=200), nullable=True),
        sa.Column("idem_key", sa.String(length=240), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("charset", sa.String(length=32), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("event_at", sa.Float(), nullable=True),
        sa.Column("processed_at", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("resources", sa.Integer(), nullable=False),
        sa.Column("duplicate_of", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ingest_messages", schema=None) as batch_op:
        batch_op.create_index("ix_ingest_messages_key", ["idem_key", "member"], unique=False)
        batch_op.create_index("ix_ingest_messages_status", ["status", "member"], unique=False)
        batch_op.create_index("ix_ingest_messages_member", ["member", "received_at"], unique=False)

    op.create_table(
        "ingest_unmapped",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("system", sa.Text(), nullable=False),
        sa.Column("code", sa.String(length=200), nullable=False),
        sa.Column("display", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ingest_unmapped", schema=None) as batch_op:
        batch_op.create_index("ix_ingest_unmapped_member", ["member", "kind"], unique=False)
        batch_op.create_index("ix_ingest_unmapped_message", ["message_id"], unique=False)

    op.create_table(
        "ingest_code_map",
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("local_code", sa.String(length=200), nullable=False),
        sa.Column("local_display", sa.Text(), nullable=True),
        sa.Column("targets", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("member", "kind", "local_code"),
    )
    op.create_table(
        "ingest_mappings",
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("toml", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("member"),
    )


def downgrade() -> None:
    op.drop_table("ingest_mappings")
    op.drop_table("ingest_code_map")
    with op.batch_alter_table("ingest_unmapped", schema=None) as batch_op:
        batch_op.drop_index("ix_ingest_unmapped_message")
        batch_op.drop_index("ix_ingest_unmapped_member")
    op.drop_table("ingest_unmapped")
    with op.batch_alter_table("ingest_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_ingest_messages_member")
        batch_op.drop_index("ix_ingest_messages_status")
        batch_op.drop_index("ix_ingest_messages_key")
    op.drop_table("ingest_messages")
