"""Lists at a million orders.

- Each stock item's waiting lines and units (`stock_items.waiting_lines`,
  `waiting_units`: its worklist lines waiting for stock or a PO line, not `late supply`,
  and what they still want), kept by triggers on so_lines as the PO lines' link counts
  are kept by triggers on associations (0001): the items running short are ranked on
  them instead of adding up the whole worklist per item.
- The purchase orders with an open line (due by a date), answered from an index of the
  open lines by purchase order and due date instead of reading every PO line.
- The audit trail by an action's group (`email` for `email.retry`), newest first, on
  an index of the group (the part of the action before its first dot, written per
  database as bopo.db.models.history.action_group writes it) and the id.

Revision ID: 0012_lists
Revises: 0011_million
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_lists"
down_revision = "0011_million"
branch_labels = None
depends_on = None

PO_LINE_OPEN = "qty_ordered - qty_delivered - qty_cancelled > 0"
ACTION_GROUP = {
    "postgresql": "split_part(action, '.', 1)",
    "sqlite": "substr(action, 1, instr(action || '.', '.') - 1)",
}
# A line waiting for stock or a PO line, and the units it waits for
# (bopo.db.queries.waiting_qty); {t} is the row: a transition table's, NEW or OLD.
WAITING = "{t}.backorder_reason IS NOT NULL AND {t}.backorder_reason <> 'late supply'"
UNITS = "{t}.qty - {t}.qty_shipped - {t}.qty_assigned - {t}.qty_cancelled"

# PostgreSQL: statement-level triggers over transition tables, as for the link counts,
# so a bulk insert of many lines moves each item's counters once.
_PG_FUNCTION = f"""
CREATE FUNCTION bopo_count_waiting() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE stock_items s SET waiting_lines = s.waiting_lines + d.lines,
                                 waiting_units = s.waiting_units + d.units
        FROM (SELECT stock_item_id, count(*) AS lines, sum({UNITS.format(t="n")}) AS units
              FROM new_rows n WHERE {WAITING.format(t="n")} GROUP BY stock_item_id) d
        WHERE s.id = d.stock_item_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE stock_items s SET waiting_lines = s.waiting_lines - d.lines,
                                 waiting_units = s.waiting_units - d.units
        FROM (SELECT stock_item_id, count(*) AS lines, sum({UNITS.format(t="o")}) AS units
              FROM old_rows o WHERE {WAITING.format(t="o")} GROUP BY stock_item_id) d
        WHERE s.id = d.stock_item_id;
    ELSE
        UPDATE stock_items s SET waiting_lines = s.waiting_lines + d.lines,
                                 waiting_units = s.waiting_units + d.units
        FROM (SELECT stock_item_id, sum(lines) AS lines, sum(units) AS units FROM (
                  SELECT stock_item_id, 1 AS lines, {UNITS.format(t="n")} AS units
                  FROM new_rows n WHERE {WAITING.format(t="n")}
                  UNION ALL
                  SELECT stock_item_id, -1, -({UNITS.format(t="o")})
                  FROM old_rows o WHERE {WAITING.format(t="o")}) x
              GROUP BY stock_item_id HAVING sum(lines) <> 0 OR sum(units) <> 0) d
        WHERE s.id = d.stock_item_id;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
_PG_TRIGGERS = [
    """
    CREATE TRIGGER trg_so_lines_waiting_insert AFTER INSERT ON so_lines
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bopo_count_waiting()
    """,
    """
    CREATE TRIGGER trg_so_lines_waiting_update AFTER UPDATE ON so_lines
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bopo_count_waiting()
    """,
    """
    CREATE TRIGGER trg_so_lines_waiting_delete AFTER DELETE ON so_lines
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bopo_count_waiting()
    """,
]
_ADD = "waiting_lines = waiting_lines + 1, waiting_units = waiting_units + ({units})"
_TAKE = "waiting_lines = waiting_lines - 1, waiting_units = waiting_units - ({units})"
_SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER trg_so_lines_waiting_insert AFTER INSERT ON so_lines
    WHEN {WAITING.format(t="NEW")}
    BEGIN
        UPDATE stock_items SET {_ADD.format(units=UNITS.format(t="NEW"))}
            WHERE id = NEW.stock_item_id;
    END
    """,
    f"""
    CREATE TRIGGER trg_so_lines_waiting_update AFTER UPDATE OF
        backorder_reason, qty, qty_shipped, qty_assigned, qty_cancelled, stock_item_id
        ON so_lines
    BEGIN
        UPDATE stock_items SET {_TAKE.format(units=UNITS.format(t="OLD"))}
            WHERE id = OLD.stock_item_id AND {WAITING.format(t="OLD")};
        UPDATE stock_items SET {_ADD.format(units=UNITS.format(t="NEW"))}
            WHERE id = NEW.stock_item_id AND {WAITING.format(t="NEW")};
    END
    """,
    f"""
    CREATE TRIGGER trg_so_lines_waiting_delete AFTER DELETE ON so_lines
    WHEN {WAITING.format(t="OLD")}
    BEGIN
        UPDATE stock_items SET {_TAKE.format(units=UNITS.format(t="OLD"))}
            WHERE id = OLD.stock_item_id;
    END
    """,
]
_BACKFILL = f"""
UPDATE stock_items SET
    waiting_lines = (SELECT count(*) FROM so_lines l
                     WHERE l.stock_item_id = stock_items.id AND {WAITING.format(t="l")}),
    waiting_units = (SELECT coalesce(sum({UNITS.format(t="l")}), 0) FROM so_lines l
                     WHERE l.stock_item_id = stock_items.id AND {WAITING.format(t="l")})
"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for column in ("waiting_lines", "waiting_units"):
        op.add_column(
            "stock_items", sa.Column(column, sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(_BACKFILL)
    for ddl in [_PG_FUNCTION, *_PG_TRIGGERS] if dialect == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(ddl)
    op.create_index(
        "ix_po_lines_open_order",
        "po_lines",
        ["purchase_order_id", "due_date"],
        postgresql_where=sa.text(PO_LINE_OPEN),
        sqlite_where=sa.text(PO_LINE_OPEN),
    )
    op.create_index(
        "ix_audit_log_action_group", "audit_log", [sa.text(ACTION_GROUP[dialect]), "id"]
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_audit_log_action_group", "audit_log")
    op.drop_index("ix_po_lines_open_order", "po_lines")
    for name in ("insert", "update", "delete"):
        on = " ON so_lines" if dialect == "postgresql" else ""
        op.execute(f"DROP TRIGGER IF EXISTS trg_so_lines_waiting_{name}{on}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS bopo_count_waiting()")
    with op.batch_alter_table("stock_items") as batch:
        batch.drop_column("waiting_units")
        batch.drop_column("waiting_lines")
