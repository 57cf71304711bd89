"""Core schema: stock, customers, suppliers, purchase and sales orders, associations,
the email outbox and the audit trail, plus the triggers that keep each PO line's
`qty_associated` equal to the sum of its active associations.

(Long, and kept whole: a migration is the schema as it was released, never edited.)

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bopo.db.base

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_log_entity_entity_id", ["entity", "entity_id"], unique=False
        )

    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("code", name=op.f("uq_customers_code")),
    )
    op.create_table(
        "email_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("created_at", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_email_templates_name")),
    )
    with op.batch_alter_table("email_templates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_templates_type"), ["type"], unique=False)

    op.create_table(
        "stock_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("on_hand", sa.Integer(), server_default="0", nullable=False),
        sa.Column("assigned", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "assigned >= 0 AND assigned <= on_hand",
            name=op.f("ck_stock_items_assigned_within_on_hand"),
        ),
        sa.CheckConstraint("on_hand >= 0", name=op.f("ck_stock_items_on_hand_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_items")),
        sa.UniqueConstraint("sku", name=op.f("uq_stock_items_sku")),
    )
    op.create_table(
        "suppliers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("created_at", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppliers")),
        sa.UniqueConstraint("code", name=op.f("uq_suppliers_code")),
    )
    op.create_table(
        "po_line_statuses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email_template_id", sa.Integer(), nullable=True),
        sa.Column("created_at", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["email_template_id"],
            ["email_templates.id"],
            name=op.f("fk_po_line_statuses_email_template_id_email_templates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_po_line_statuses")),
        sa.UniqueConstraint("code", name=op.f("uq_po_line_statuses_code")),
    )
    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=True),
        sa.Column("created_at", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", bopo.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_purchase_orders_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
        sa.UniqueConstraint("number", name=op.f("uq_purchase_orders_number")),
    )
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purchase_orders_supplier_id"), ["supplier_id"], unique=False
        )

    op.create_table(
        "sales_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("delivery_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("created_at", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_sales_orders_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_orders")),
        sa.UniqueConstraint("number", "source", name=op.f("uq_sales_orders_number_source")),
    )
    with op.batch_alter_table("sales_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sales_orders_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "pending_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sales_order_id", sa.Integer(), nullable=True),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("lease_until", bopo.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", bopo.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", bopo.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'sending', 'sent', 'failed', 'cancelled')",
            name=op.f("ck_pending_emails_state_known"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_pending_emails_attempts_not_negative")),
        sa.ForeignKeyConstraint(
            ["sales_order_id"],
            ["sales_orders.id"],
            name=op.f("fk_pending_emails_sales_order_id_sales_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["email_templates.id"],
            name=op.f("fk_pending_emails_template_id_email_templates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_emails")),
        sa.UniqueConstraint("message_id", name=op.f("uq_pending_emails_message_id")),
    )
    with op.batch_alter_table("pending_emails", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_emails_sales_order_id"), ["sales_order_id"], unique=False
        )
        batch_op.create_index("ix_pending_emails_state_id", ["state", "id"], unique=False)

    op.create_table(
        "po_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purchase_order_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("stock_item_id", sa.Integer(), nullable=False),
        sa.Column("qty_ordered", sa.Integer(), nullable=False),
        sa.Column("qty_delivered", sa.Integer(), server_default="0", nullable=False),
        sa.Column("qty_cancelled", sa.Integer(), server_default="0", nullable=False),
        sa.Column("qty_associated", sa.Integer(), server_default="0", nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("status_id", sa.Integer(), nullable=True),
        sa.Column("created_at", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("line_no > 0", name=op.f("ck_po_lines_line_no_positive")),
        sa.CheckConstraint(
            "qty_associated >= 0 AND (qty_associated = 0 OR qty_associated + qty_delivered + qty_cancelled <= qty_ordered)",
            name=op.f("ck_po_lines_associated_within_outstanding"),
        ),
        sa.CheckConstraint(
            "qty_cancelled >= 0 AND qty_cancelled <= qty_ordered",
            name=op.f("ck_po_lines_qty_cancelled_in_range"),
        ),
        sa.CheckConstraint(
            "qty_delivered >= 0", name=op.f("ck_po_lines_qty_delivered_not_negative")
        ),
        sa.CheckConstraint("qty_ordered > 0", name=op.f("ck_po_lines_qty_ordered_positive")),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_po_lines_purchase_order_id_purchase_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["status_id"],
            ["po_line_statuses.id"],
            name=op.f("fk_po_lines_status_id_po_line_statuses"),
        ),
        sa.ForeignKeyConstraint(
            ["stock_item_id"],
            ["stock_items.id"],
            name=op.f("fk_po_lines_stock_item_id_stock_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_po_lines")),
        sa.UniqueConstraint(
            "purchase_order_id", "line_no", name=op.f("uq_po_lines_purchase_order_id_line_no")
        ),
    )
    with op.batch_alter_table("po_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_po_lines_open_item",
            ["stock_item_id"],
            unique=False,
            postgresql_where=sa.text("qty_delivered + qty_cancelled < qty_ordered"),
            sqlite_where=sa.text("qty_delivered + qty_cancelled < qty_ordered"),
        )

    op.create_table(
        "so_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sales_order_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("stock_item_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("qty_assigned", sa.Integer(), server_default="0", nullable=False),
        sa.Column("qty_shipped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("qty_cancelled", sa.Integer(), server_default="0", nullable=False),
        sa.Column("backorder_reason", sa.String(length=64), nullable=True),
        sa.Column("backorder_since", bopo.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("line_no > 0", name=op.f("ck_so_lines_line_no_positive")),
        sa.CheckConstraint("qty > 0", name=op.f("ck_so_lines_qty_positive")),
        sa.CheckConstraint(
            "qty_assigned >= 0 AND qty_shipped >= 0 AND qty_cancelled >= 0 AND qty_assigned + qty_shipped + qty_cancelled <= qty",
            name=op.f("ck_so_lines_parts_within_qty"),
        ),
        sa.ForeignKeyConstraint(
            ["sales_order_id"],
            ["sales_orders.id"],
            name=op.f("fk_so_lines_sales_order_id_sales_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["stock_item_id"],
            ["stock_items.id"],
            name=op.f("fk_so_lines_stock_item_id_stock_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_so_lines")),
        sa.UniqueConstraint(
            "sales_order_id", "line_no", name=op.f("uq_so_lines_sales_order_id_line_no")
        ),
    )
    with op.batch_alter_table("so_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_so_lines_worklist_item",
            ["stock_item_id"],
            unique=False,
            postgresql_where=sa.text("backorder_reason IS NOT NULL"),
            sqlite_where=sa.text("backorder_reason IS NOT NULL"),
        )

    op.create_table(
        "associations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("so_line_id", sa.Integer(), nullable=False),
        sa.Column("po_line_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("created_at", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("ended_at", bopo.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=64), nullable=True),
        sa.Column("ended_reason", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "state IN ('active', 'fulfilled', 'released')", name=op.f("ck_associations_state_known")
        ),
        sa.CheckConstraint("qty > 0", name=op.f("ck_associations_qty_positive")),
        sa.ForeignKeyConstraint(
            ["po_line_id"], ["po_lines.id"], name=op.f("fk_associations_po_line_id_po_lines")
        ),
        sa.ForeignKeyConstraint(
            ["so_line_id"], ["so_lines.id"], name=op.f("fk_associations_so_line_id_so_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_associations")),
    )
    with op.batch_alter_table("associations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_associations_po_line_id"), ["po_line_id"], unique=False
        )
        batch_op.create_index(
            "uq_associations_active_so_line",
            ["so_line_id"],
            unique=True,
            postgresql_where=sa.text("state = 'active'"),
            sqlite_where=sa.text("state = 'active'"),
        )

    op.create_table(
        "pending_email_associations",
        sa.Column("email_id", sa.Integer(), nullable=False),
        sa.Column("association_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["association_id"],
            ["associations.id"],
            name=op.f("fk_pending_email_associations_association_id_associations"),
        ),
        sa.ForeignKeyConstraint(
            ["email_id"],
            ["pending_emails.id"],
            name=op.f("fk_pending_email_associations_email_id_pending_emails"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "email_id", "association_id", name=op.f("pk_pending_email_associations")
        ),
    )

    _create_association_triggers()


def downgrade() -> None:
    _drop_association_triggers()
    op.drop_table("pending_email_associations")
    with op.batch_alter_table("associations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_associations_active_so_line",
            postgresql_where=sa.text("state = 'active'"),
            sqlite_where=sa.text("state = 'active'"),
        )
        batch_op.drop_index(batch_op.f("ix_associations_po_line_id"))

    op.drop_table("associations")
    with op.batch_alter_table("so_lines", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_so_lines_worklist_item",
            postgresql_where=sa.text("backorder_reason IS NOT NULL"),
            sqlite_where=sa.text("backorder_reason IS NOT NULL"),
        )

    op.drop_table("so_lines")
    with op.batch_alter_table("po_lines", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_po_lines_open_item",
            postgresql_where=sa.text("qty_delivered + qty_cancelled < qty_ordered"),
            sqlite_where=sa.text("qty_delivered + qty_cancelled < qty_ordered"),
        )

    op.drop_table("po_lines")
    with op.batch_alter_table("pending_emails", schema=None) as batch_op:
        batch_op.drop_index("ix_pending_emails_state_id")
        batch_op.drop_index(batch_op.f("ix_pending_emails_sales_order_id"))

    op.drop_table("pending_emails")
    with op.batch_alter_table("sales_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_orders_customer_id"))

    op.drop_table("sales_orders")
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_orders_supplier_id"))

    op.drop_table("purchase_orders")
    op.drop_table("po_line_statuses")
    op.drop_table("suppliers")
    op.drop_table("stock_items")
    with op.batch_alter_table("email_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_templates_type"))

    op.drop_table("email_templates")
    op.drop_table("customers")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_entity_entity_id")

    op.drop_table("audit_log")


# Every change to an association moves its PO line's counter; the CHECK on
# po_lines then refuses any change that would over-associate the line.
# PostgreSQL: statement-level triggers over transition tables, so a bulk insert
# of many associations moves each PO line's counter once, not once per row
# (a row updated again and again in one transaction piles up row versions).
_PG_FUNCTION = """
CREATE FUNCTION bopo_count_associations() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE po_lines p SET qty_associated = p.qty_associated + d.qty
        FROM (SELECT po_line_id, sum(qty) AS qty FROM new_rows
              WHERE state = 'active' GROUP BY po_line_id) d
        WHERE p.id = d.po_line_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE po_lines p SET qty_associated = p.qty_associated - d.qty
        FROM (SELECT po_line_id, sum(qty) AS qty FROM old_rows
              WHERE state = 'active' GROUP BY po_line_id) d
        WHERE p.id = d.po_line_id;
    ELSE
        UPDATE po_lines p SET qty_associated = p.qty_associated + d.qty
        FROM (SELECT po_line_id, sum(qty) AS qty FROM (
                  SELECT po_line_id, qty FROM new_rows WHERE state = 'active'
                  UNION ALL
                  SELECT po_line_id, -qty FROM old_rows WHERE state = 'active') x
              GROUP BY po_line_id HAVING sum(qty) <> 0) d
        WHERE p.id = d.po_line_id;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
_PG_TRIGGERS = [
    """
    CREATE TRIGGER trg_associations_insert AFTER INSERT ON associations
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bopo_count_associations()
    """,
    """
    CREATE TRIGGER trg_associations_update AFTER UPDATE ON associations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bopo_count_associations()
    """,
    """
    CREATE TRIGGER trg_associations_delete AFTER DELETE ON associations
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bopo_count_associations()
    """,
]
_SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER trg_associations_insert AFTER INSERT ON associations
    WHEN NEW.state = 'active'
    BEGIN
        UPDATE po_lines SET qty_associated = qty_associated + NEW.qty WHERE id = NEW.po_line_id;
    END
    """,
    """
    CREATE TRIGGER trg_associations_update AFTER UPDATE OF state, qty, po_line_id ON associations
    BEGIN
        UPDATE po_lines SET qty_associated = qty_associated - OLD.qty
            WHERE id = OLD.po_line_id AND OLD.state = 'active';
        UPDATE po_lines SET qty_associated = qty_associated + NEW.qty
            WHERE id = NEW.po_line_id AND NEW.state = 'active';
    END
    """,
    """
    CREATE TRIGGER trg_associations_delete AFTER DELETE ON associations
    WHEN OLD.state = 'active'
    BEGIN
        UPDATE po_lines SET qty_associated = qty_associated - OLD.qty WHERE id = OLD.po_line_id;
    END
    """,
]


def _create_association_triggers() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for ddl in _PG_TRIGGERS:
            op.execute(ddl)
    else:
        for ddl in _SQLITE_TRIGGERS:
            op.execute(ddl)


def _drop_association_triggers() -> None:
    if op.get_context().dialect.name == "postgresql":
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS trg_associations_{name} ON associations")
        op.execute("DROP FUNCTION IF EXISTS bopo_count_associations()")
    else:
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS trg_associations_{name}")
