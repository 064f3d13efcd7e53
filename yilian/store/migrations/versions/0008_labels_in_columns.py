"""Say on the resource row that its label columns stand for its labels.

Until now one marker row per resource (`_security:columns`) said so; now `resources.labels_in_columns`
does, and only resources of a level other than the usual one (4) still get the marker row, which keeps
searches for those few on an index probe (store/search/derived.py). Rows stored before keep their marker
rows, which searches still read, so nothing needs rewriting.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

import zlib

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "resources",
        sa.Column("labels_in_columns", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # Resources stored since have no marker row at level 4, which the code before this needs to find
    # them by label: write those rows, then drop the column.
    conn = op.get_bind()
    types = [t for (t,) in conn.execute(sa.text("SELECT DISTINCT type FROM resources"))]
    for rtype in types:
        conn.execute(
            sa.text(
                "INSERT INTO idx_token (rid, param, system, value) SELECT rid, :param, '', 'L4' "
                "FROM resources r WHERE r.type = :type AND r.labels_in_columns AND r.level = 4 AND NOT "
                "EXISTS (SELECT 1 FROM idx_token t WHERE t.rid = r.rid AND t.param = :param)"
            ),
            {"param": _marker_key(rtype), "type": rtype},
        )
    with op.batch_alter_table("resources") as batch:
        batch.drop_column("labels_in_columns")


def _marker_key(rtype: str) -> int:
    """The marker's parameter key as store/search/keys.py made it when this was written (a migration
    keeps what it needs, whatever the code becomes)."""
    return zlib.crc32(f"{rtype}._security:columns".encode()) & 0x7FFFFFFF
