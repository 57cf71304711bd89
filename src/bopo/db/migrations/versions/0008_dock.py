"""Expected deliveries: open PO lines by due date, for the goods-in dock's list.

Revision ID: 0008_dock
Revises: 0007_office
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_dock"
down_revision = "0007_office"
branch_labels = None
depends_on = None

OPEN = "qty_ordered - qty_delivered - qty_cancelled > 0"


def upgrade() -> None:
    op.create_index(
        "ix_po_lines_open_due",
        "po_lines",
        ["due_date"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_po_lines_open_due", table_name="po_lines")
