"""Drop the index on references by target alone.

Every reader of idx_reference now names the parameters it reads (`_revinclude=T:*` names every reference
parameter of T), so (param, target_id, rid) serves them all, and each stored reference is one B-tree
insert fewer.

Revision ID: 0007
Revises: 0001
Create Date: 2026-11-24
"""

from alembic import op

revision = "0007"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_idx_reference_target", table_name="idx_reference")


def downgrade() -> None:
    op.create_index("ix_idx_reference_target", "idx_reference", ["target_id", "target_type"])
