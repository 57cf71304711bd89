"""The open PO lines' index, with a predicate SQLite's planner can match.

SQLite turns a query's `qty_delivered + qty_cancelled < qty_ordered` round
(the column to the left) before it compares it with a partial index's WHERE,
so the index written that way was never used there: every candidate lookup
read all PO lines. `qty_ordered - qty_delivered - qty_cancelled > 0` (what is
outstanding is more than nothing) has no column alone on either side, and
both databases match it.

Revision ID: 0006_speed
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_speed"
down_revision = "0006_sessions"
branch_labels = None
depends_on = None

OLD = "qty_delivered + qty_cancelled < qty_ordered"
NEW = "qty_ordered - qty_delivered - qty_cancelled > 0"


def _open_item_index(where: str) -> None:
    with op.batch_alter_table("po_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_po_lines_open_item")
        batch_op.create_index(
            "ix_po_lines_open_item",
            ["stock_item_id"],
            unique=False,
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )


def upgrade() -> None:
    _open_item_index(NEW)


def downgrade() -> None:
    _open_item_index(OLD)
