"""Search: indexes on lower() of the columns people search by; retired PO line statuses.

On PostgreSQL they are trigram GIN indexes (pg_trgm), which find a part anywhere
in the value; on SQLite, b-trees on lower(column) for exact and prefix lookups.

Revision ID: 0007_office
Revises: 0006_shops
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bopo.db.base

revision = "0007_office"
down_revision = "0007_nodes"
branch_labels = None
depends_on = None

SEARCHED = [
    ("stock_items", "sku"),
    ("stock_items", "name"),
    ("customers", "code"),
    ("customers", "name"),
    ("customers", "email"),
    ("purchase_orders", "number"),
    ("sales_orders", "number"),
]


def upgrade() -> None:
    with op.batch_alter_table("po_line_statuses") as batch:
        batch.add_column(
            sa.Column("retired_at", bopo.db.base.UTCDateTime(timezone=True), nullable=True)
        )
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, column in SEARCHED:
        name = f"ix_{table}_{column}_search"
        if postgres:
            op.execute(f"CREATE INDEX {name} ON {table} USING gin (lower({column}) gin_trgm_ops)")
        else:
            op.create_index(name, table, [sa.text(f"lower({column})")])


def downgrade() -> None:
    for table, column in SEARCHED:
        op.drop_index(f"ix_{table}_{column}_search", table_name=table)
    with op.batch_alter_table("po_line_statuses") as batch:
        batch.drop_column("retired_at")
