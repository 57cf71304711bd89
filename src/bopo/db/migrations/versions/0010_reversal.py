"""A receipt can be reversed: when, and by whom.

Revision ID: 0010_reversal
Revises: 0009_runtime
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bopo.db.base

revision = "0010_reversal"
down_revision = "0009_runtime"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("receipts") as batch:
        batch.add_column(
            sa.Column("reversed_at", bopo.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("reversed_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("receipts") as batch:
        batch.drop_column("reversed_by")
        batch.drop_column("reversed_at")
