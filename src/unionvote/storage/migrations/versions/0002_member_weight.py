"""the member's vote weight

The roll may give each member a weight (e.g. the per-capita members a council member
represents); a stage whose decision counts weights freezes it into ``snapshot_entries.weight``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite alters a table by copying it, PostgreSQL gets a plain ALTER TABLE
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("weight", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("weight")
