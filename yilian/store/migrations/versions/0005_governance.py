"""Governance: GB/T 39725 label columns, consent grants, break-glass, passwords and OAuth2 tokens.

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = ("governance",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("level", sa.SmallInteger(), server_default="4", nullable=False))
        batch_op.add_column(sa.Column("category", sa.String(length=4), server_default="MA", nullable=False))
        batch_op.add_column(sa.Column("sensitivity", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("redact", sa.String(length=200), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("scopes", sa.Text(), nullable=True))
    op.create_table(
        "consent_grants",
        sa.Column("consent_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("permit", sa.Boolean(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("data_class", sa.String(length=64), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("recorded", sa.Float(), nullable=False),
    )
    op.create_index("ix_consent_grants_patient", "consent_grants", ["patient_id", "purpose"])
    op.create_index("ix_consent_grants_consent", "consent_grants", ["consent_id"])
    op.create_table(
        "break_glass",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("organization", sa.String(length=64), nullable=True),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("started", sa.Float(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_break_glass_user", "break_glass", ["user_id", "patient_id", "expires"])
    op.create_table(
        "access_tokens",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("access_tokens")
    op.drop_index("ix_break_glass_user", table_name="break_glass")
    op.drop_table("break_glass")
    op.drop_index("ix_consent_grants_consent", table_name="consent_grants")
    op.drop_index("ix_consent_grants_patient", table_name="consent_grants")
    op.drop_table("consent_grants")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("scopes")
        batch_op.drop_column("password_hash")
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.drop_column("redact")
        batch_op.drop_column("sensitivity")
        batch_op.drop_column("category")
        batch_op.drop_column("level")
