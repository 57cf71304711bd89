"""Email outbox: the recipient's name and the time of the next attempt.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bopo.db.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pending_emails", schema=None) as batch_op:
        batch_op.add_column(sa.Column("to_name", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("next_attempt_at", bopo.db.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("pending_emails", schema=None) as batch_op:
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("to_name")
