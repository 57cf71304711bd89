"""Goods in: receipts and what each sales-order line got from them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bopo.db.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("po_line_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("to_stock", sa.Integer(), nullable=False),
        sa.Column("received_at", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint("qty > 0", name=op.f("ck_receipts_qty_positive")),
        sa.CheckConstraint(
            "to_stock >= 0 AND to_stock <= qty", name=op.f("ck_receipts_to_stock_within_qty")
        ),
        sa.ForeignKeyConstraint(
            ["po_line_id"], ["po_lines.id"], name=op.f("fk_receipts_po_line_id_po_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipts")),
    )
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_receipts_po_line_id"), ["po_line_id"], unique=False)

    op.create_table(
        "receipt_lines",
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("so_line_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "kind IN ('linked', 'backorder')", name=op.f("ck_receipt_lines_kind_known")
        ),
        sa.CheckConstraint("qty > 0", name=op.f("ck_receipt_lines_qty_positive")),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["receipts.id"],
            name=op.f("fk_receipt_lines_receipt_id_receipts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["so_line_id"], ["so_lines.id"], name=op.f("fk_receipt_lines_so_line_id_so_lines")
        ),
        sa.PrimaryKeyConstraint("receipt_id", "so_line_id", name=op.f("pk_receipt_lines")),
    )


def downgrade() -> None:
    op.drop_table("receipt_lines")
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipts_po_line_id"))
    op.drop_table("receipts")
