"""Failed sign-ins kept in the database, so that every web node counts them alike.

- sign_in_failures: per (kind, key), a user name (case-folded) or a client address,
  the failures so far, the last one and when the next try may come.

An addition only (a new table): nodes still running the code before this revision
keep working against the upgraded database (they count in memory, as before).

Revision ID: 0007_nodes
Revises: 0006_prod
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bopo.db.base

revision = "0007_nodes"
down_revision = "0006_prod"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_at", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("wait_until", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_sign_in_failures")),
    )
    op.create_index(
        op.f("ix_sign_in_failures_last_at"), "sign_in_failures", ["last_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sign_in_failures_last_at"), table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
