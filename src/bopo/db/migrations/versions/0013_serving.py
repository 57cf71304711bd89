"""The worklist's serving order on its lines.

Each order line carries copies of its order's source, priority and delivery date
(`so_lines.order_source`, `order_priority`, `order_delivery_date`), so the worklist is
ordered and filtered on the lines alone: the planner can estimate a filter on one
table, where across the join to the orders it could not, and an offset typed by hand
walks one index instead of joining every line before it. The order stays the one
source of truth:

- a line inserted without them gets them from its order (intake writes them itself,
  so its lines cost no trigger; older writers and tests that leave them out are served);
- an order whose source, priority or delivery date changes writes them on its lines.

Two partial indexes of the worklist in serving order (priority descending, delivery
date, order, line): all of it, and by source; each carries the line's id and reason, so
a page, an offset and a count by reason are read from the index, and the page after a
line is a seek. PostgreSQL's only,
as 0011's serving index on the orders: SQLite's sort of its worklist stays as it was.

The dashboard: PostgreSQL's index of the open PO lines by due date carries their ids
and quantities, so the supply due by week is added up from it alone (not from every
open line's row), and the orders waiting on overdue supply start from the overdue
lines in it.

Revision ID: 0013_serving
Revises: 0012_lists
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013_serving"
down_revision = "0012_lists"
branch_labels = None
depends_on = None

WORKLIST = "backorder_reason IS NOT NULL"
# (line column, order column)
COPIED = (
    ("order_source", "source"),
    ("order_priority", "priority"),
    ("order_delivery_date", "delivery_date"),
)
# Priority negated, so the serving order is ascending in every column and the next page
# after a line is one row comparison the index seeks (bopo.services.worklist.backorders).
SERVING: list[Any] = [
    sa.text("(-order_priority)"),
    "order_delivery_date",
    "sales_order_id",
    "line_no",
]
# What a page, an offset or a count by reason reads, from the index alone.
CARRIED = ["id", "backorder_reason", "order_priority"]
_ANY_MISSING = " OR ".join(f"NEW.{line} IS NULL" for line, _ in COPIED)
_ANY_CHANGED = " OR ".join(f"OLD.{o} IS DISTINCT FROM NEW.{o}" for _, o in COPIED)
_FROM_NEW = ", ".join(f"{line} = NEW.{o}" for line, o in COPIED)

_PG = [
    f"""
    CREATE FUNCTION bopo_line_copies_order() RETURNS trigger AS $$
    BEGIN
        SELECT {", ".join(o for _, o in COPIED)}
          INTO {", ".join(f"NEW.{line}" for line, _ in COPIED)}
          FROM sales_orders WHERE id = NEW.sales_order_id;
        RETURN NEW;
    END
    $$ LANGUAGE plpgsql
    """,
    f"""
    CREATE TRIGGER trg_so_lines_order_copies BEFORE INSERT ON so_lines
    FOR EACH ROW WHEN ({_ANY_MISSING}) EXECUTE FUNCTION bopo_line_copies_order()
    """,
    f"""
    CREATE FUNCTION bopo_order_to_lines() RETURNS trigger AS $$
    BEGIN
        UPDATE so_lines SET {_FROM_NEW} WHERE sales_order_id = NEW.id;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    f"""
    CREATE TRIGGER trg_sales_orders_to_lines AFTER UPDATE OF
        {", ".join(o for _, o in COPIED)} ON sales_orders
    FOR EACH ROW WHEN ({_ANY_CHANGED}) EXECUTE FUNCTION bopo_order_to_lines()
    """,
]
_SQLITE = [
    f"""
    CREATE TRIGGER trg_so_lines_order_copies AFTER INSERT ON so_lines
    WHEN {_ANY_MISSING}
    BEGIN
        UPDATE so_lines SET {", ".join(f"{line} = o.{o}" for line, o in COPIED)}
            FROM sales_orders o WHERE o.id = NEW.sales_order_id AND so_lines.id = NEW.id;
    END
    """,
    f"""
    CREATE TRIGGER trg_sales_orders_to_lines AFTER UPDATE OF
        {", ".join(o for _, o in COPIED)} ON sales_orders
    WHEN {_ANY_CHANGED.replace("IS DISTINCT FROM", "IS NOT")}
    BEGIN
        UPDATE so_lines SET {_FROM_NEW} WHERE sales_order_id = NEW.id;
    END
    """,
]


PO_LINE_OPEN = "qty_ordered - qty_delivered - qty_cancelled > 0"
DUE_CARRIES = ["id", "qty_ordered", "qty_delivered", "qty_cancelled"]


def _open_due(include: list[str]) -> None:
    """The open PO lines by due date (0008), on PostgreSQL carrying `include`."""
    op.drop_index("ix_po_lines_open_due", "po_lines")
    op.create_index(
        "ix_po_lines_open_due",
        "po_lines",
        ["due_date"],
        postgresql_where=sa.text(PO_LINE_OPEN),
        postgresql_include=include,
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for line, kind in (
        ("order_source", sa.String(40)),
        ("order_priority", sa.SmallInteger()),
        ("order_delivery_date", sa.Date()),
    ):
        op.add_column("so_lines", sa.Column(line, kind, nullable=True))
    sets = ", ".join(f"{line} = o.{o}" for line, o in COPIED)
    backfill = (
        f"UPDATE so_lines SET {sets} FROM sales_orders o WHERE o.id = so_lines.sales_order_id"
    )
    if dialect == "postgresql":
        # The copies change no count of 0012's: its trigger would add up every line for nothing.
        op.execute("ALTER TABLE so_lines DISABLE TRIGGER trg_so_lines_waiting_update")
        op.execute(backfill)
        op.execute("ALTER TABLE so_lines ENABLE TRIGGER trg_so_lines_waiting_update")
    else:
        op.execute(backfill)
    for ddl in _PG if dialect == "postgresql" else _SQLITE:
        op.execute(ddl)
    if dialect != "postgresql":
        return
    for name, first in (("serving", []), ("source_serving", ["order_source"])):
        op.create_index(
            f"ix_so_lines_worklist_{name}",
            "so_lines",
            [*first, *SERVING],
            postgresql_where=sa.text(WORKLIST),
            postgresql_include=CARRIED,
        )
    _open_due(DUE_CARRIES)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _open_due([])
    op.drop_index("ix_so_lines_worklist_source_serving", "so_lines", if_exists=True)
    op.drop_index("ix_so_lines_worklist_serving", "so_lines", if_exists=True)
    on = {"so_lines": " ON so_lines", "sales_orders": " ON sales_orders"}
    for table, name in (("so_lines", "order_copies"), ("sales_orders", "to_lines")):
        suffix = on[table] if dialect == "postgresql" else ""
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_{name}{suffix}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS bopo_line_copies_order()")
        op.execute("DROP FUNCTION IF EXISTS bopo_order_to_lines()")
    # Not in batch mode: a rebuilt so_lines would lose 0012's triggers on SQLite, whose
    # ALTER TABLE drops a column (3.35) that no index or trigger names.
    for line, _ in reversed(COPIED):
        op.drop_column("so_lines", line)
