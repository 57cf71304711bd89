"""Indexes that keep pages flat at a million orders: the worklist in serving order and by
reason and age, sales orders by status, and every order line by its item (the
orders and links of one SKU). The serving order's index on the orders
(priority descending, then delivery date) is PostgreSQL's only: SQLite's planner does
not walk one table's index into another's for a sort, so there it would only cost.

Revision ID: 0011_million
Revises: 0010_reversal
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_million"
down_revision = "0010_reversal"
branch_labels = None
depends_on = None

WORKLIST = "backorder_reason IS NOT NULL"


def upgrade() -> None:
    for name, columns in (
        ("order", ["sales_order_id", "line_no"]),
        ("reason", ["backorder_reason", "backorder_since"]),
        ("since", ["backorder_since"]),
    ):
        op.create_index(
            f"ix_so_lines_worklist_{name}",
            "so_lines",
            columns,
            postgresql_where=sa.text(WORKLIST),
            sqlite_where=sa.text(WORKLIST),
        )
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_sales_orders_serving",
            "sales_orders",
            [sa.text("priority DESC"), "delivery_date", "id"],
        )
    op.create_index("ix_sales_orders_status", "sales_orders", ["status"])
    op.create_index("ix_so_lines_stock_item_id", "so_lines", ["stock_item_id"])


def downgrade() -> None:
    op.drop_index("ix_so_lines_stock_item_id", "so_lines")
    op.drop_index("ix_sales_orders_status", "sales_orders")
    op.drop_index("ix_sales_orders_serving", "sales_orders", if_exists=True)
    op.drop_index("ix_so_lines_worklist_since", "so_lines")
    op.drop_index("ix_so_lines_worklist_reason", "so_lines")
    op.drop_index("ix_so_lines_worklist_order", "so_lines")
