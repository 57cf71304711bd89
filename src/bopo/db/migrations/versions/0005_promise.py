"""Decision records, sales-order priority, split links, due-date notices.

- allocation_decisions: why each SO line got what it got (one compact row per decision).
- sales_orders.priority: 0 low, 1 normal (default), 2 high, 3 urgent.
- associations: one active association per SO line *and PO line* (a split line has several).
- pending_email_associations.previous_due: the date a due-date notice says was given before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bopo.db.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ACTIVE = "state = 'active'"


def upgrade() -> None:
    op.create_table(
        "allocation_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("so_line_id", sa.Integer(), nullable=False),
        sa.Column("at", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("policy", sa.String(length=2), nullable=False),
        sa.Column("need", sa.Integer(), nullable=False),
        sa.Column("from_stock", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=1), nullable=True),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("considered", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_decisions")),
    )
    op.create_index(
        op.f("ix_allocation_decisions_so_line_id"),
        "allocation_decisions",
        ["so_line_id"],
        unique=False,
    )

    if op.get_context().dialect.name == "sqlite":
        # SQLite adds a column with its CHECK in place; a batch rebuild of a table
        # that other tables reference would trip over their foreign keys.
        op.execute(
            "ALTER TABLE sales_orders ADD COLUMN priority SMALLINT DEFAULT '1' NOT NULL "
            "CONSTRAINT ck_sales_orders_priority_known CHECK (priority BETWEEN 0 AND 3)"
        )
    else:
        op.add_column(
            "sales_orders",
            sa.Column("priority", sa.SmallInteger(), server_default="1", nullable=False),
        )
        op.create_check_constraint(
            op.f("ck_sales_orders_priority_known"), "sales_orders", "priority BETWEEN 0 AND 3"
        )

    op.drop_index("uq_associations_active_so_line", table_name="associations")
    op.create_index(
        "uq_associations_active_so_line_po_line",
        "associations",
        ["so_line_id", "po_line_id"],
        unique=True,
        postgresql_where=sa.text(ACTIVE),
        sqlite_where=sa.text(ACTIVE),
    )

    op.add_column("pending_email_associations", sa.Column("previous_due", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pending_email_associations", schema=None) as batch_op:
        batch_op.drop_column("previous_due")
    op.drop_index("uq_associations_active_so_line_po_line", table_name="associations")
    op.create_index(
        "uq_associations_active_so_line",
        "associations",
        ["so_line_id"],
        unique=True,
        postgresql_where=sa.text(ACTIVE),
        sqlite_where=sa.text(ACTIVE),
    )
    if op.get_context().dialect.name == "sqlite":
        # The CHECK belongs to the column (see upgrade), so SQLite drops both in place.
        op.execute("ALTER TABLE sales_orders DROP COLUMN priority")
    else:
        op.drop_constraint(op.f("ck_sales_orders_priority_known"), "sales_orders", type_="check")
        op.drop_column("sales_orders", "priority")
    op.drop_index(op.f("ix_allocation_decisions_so_line_id"), table_name="allocation_decisions")
    op.drop_table("allocation_decisions")
