"""Stock, customers, suppliers, their orders, the BO/PO associations between them, and
goods in.

`po_lines.qty_associated` is the sum of the line's active associations, kept by
database triggers (see the first migration), so the CHECK on it lets the
database itself refuse over-association, whatever the application does.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bopo.db.base import Base, UTCDateTime
from bopo.db.models.columns import Code, Email, Name, search_index

if TYPE_CHECKING:
    from bopo.db.models.emails import EmailTemplate


class StockItem(Base):
    __tablename__ = "stock_items"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("assigned >= 0 AND assigned <= on_hand", name="assigned_within_on_hand"),
        search_index("stock_items", "sku"),
        search_index("stock_items", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(Code, unique=True)
    name: Mapped[str] = mapped_column(Name)
    on_hand: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    assigned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The item's worklist lines waiting for stock or a PO line (not `late supply`) and
    # the units they wait for: kept by triggers on so_lines (migration 0012), so that
    # the items running short are ranked without adding up the worklist.
    waiting_lines: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    waiting_units: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        search_index("customers", "code"),
        search_index("customers", "name"),
        search_index("customers", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(Code, unique=True)
    name: Mapped[str] = mapped_column(Name)
    email: Mapped[str] = mapped_column(Email)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Supplier(Base):
    __tablename__ = "suppliers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(Code, unique=True)
    name: Mapped[str] = mapped_column(Name)
    email: Mapped[str | None] = mapped_column(Email)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PoLineStatus(Base):
    __tablename__ = "po_line_statuses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(Name)
    # A retired status stays where it is used and is given to no PO line any more.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_template_id: Mapped[int | None] = mapped_column(
        ForeignKey("email_templates.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    email_template: Mapped[EmailTemplate | None] = relationship()


class PurchaseOrder(Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (search_index("purchase_orders", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(Code, unique=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    order_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    supplier: Mapped[Supplier] = relationship()
    lines: Mapped[list[PoLine]] = relationship(
        back_populates="purchase_order", order_by="PoLine.line_no"
    )


# Open = something still to come. The same predicate defines the partial index
# the intake's candidate query uses, so keep them together. No column stands
# alone on either side: SQLite turns such a comparison round before matching it
# against a partial index's WHERE, and then no longer recognises it.
PO_LINE_OPEN_SQL = "qty_ordered - qty_delivered - qty_cancelled > 0"


class PoLine(Base):
    __tablename__ = "po_lines"
    __table_args__ = (
        UniqueConstraint("purchase_order_id", "line_no"),
        CheckConstraint("line_no > 0", name="line_no_positive"),
        CheckConstraint("qty_ordered > 0", name="qty_ordered_positive"),
        CheckConstraint("qty_delivered >= 0", name="qty_delivered_not_negative"),
        CheckConstraint(
            "qty_cancelled >= 0 AND qty_cancelled <= qty_ordered", name="qty_cancelled_in_range"
        ),
        CheckConstraint(
            "qty_associated >= 0 AND (qty_associated = 0 OR "
            "qty_associated + qty_delivered + qty_cancelled <= qty_ordered)",
            name="associated_within_outstanding",
        ),
        Index(
            "ix_po_lines_open_item",
            "stock_item_id",
            postgresql_where=text(PO_LINE_OPEN_SQL),
            sqlite_where=text(PO_LINE_OPEN_SQL),
        ),
        Index(  # expected deliveries, by due date; the dashboard's sums from it alone
            "ix_po_lines_open_due",
            "due_date",
            postgresql_where=text(PO_LINE_OPEN_SQL),
            sqlite_where=text(PO_LINE_OPEN_SQL),
            postgresql_include=["id", "qty_ordered", "qty_delivered", "qty_cancelled"],
        ),
        Index(  # the purchase orders with an open line (due by a date), from the index alone
            "ix_po_lines_open_order",
            "purchase_order_id",
            "due_date",
            postgresql_where=text(PO_LINE_OPEN_SQL),
            sqlite_where=text(PO_LINE_OPEN_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_order_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    stock_item_id: Mapped[int] = mapped_column(ForeignKey("stock_items.id"))
    qty_ordered: Mapped[int] = mapped_column(Integer)
    qty_delivered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    qty_cancelled: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    qty_associated: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    due_date: Mapped[date | None] = mapped_column(Date)
    status_id: Mapped[int | None] = mapped_column(ForeignKey("po_line_statuses.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    purchase_order: Mapped[PurchaseOrder] = relationship(back_populates="lines")
    stock_item: Mapped[StockItem] = relationship()
    status: Mapped[PoLineStatus | None] = relationship()

    @property
    def outstanding(self) -> int:
        return max(0, self.qty_ordered - self.qty_delivered - self.qty_cancelled)

    @property
    def free_on_order(self) -> int:
        return max(0, self.outstanding - self.qty_associated)


class SalesOrder(Base):
    __tablename__ = "sales_orders"
    # number first: lookups by number alone (a person typing one) use the same index.
    __table_args__ = (
        UniqueConstraint("number", "source"),
        CheckConstraint("priority BETWEEN 0 AND 3", name="priority_known"),
        search_index("sales_orders", "number"),
        # The worklist's serving order (bopo.services.worklist.backorders.WORKLIST_ORDER),
        # on PostgreSQL, whose planner walks it into the worklist's lines.
        Index("ix_sales_orders_serving", text("priority DESC"), "delivery_date", "id").ddl_if(
            dialect="postgresql"
        ),
        Index("ix_sales_orders_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    number: Mapped[str] = mapped_column(Code)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    order_date: Mapped[date] = mapped_column(Date)
    delivery_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    # The rank of bopo.domain.statuses.Priority: 0 low, 1 normal, 2 high, 3 urgent.
    priority: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")

    customer: Mapped[Customer] = relationship()
    lines: Mapped[list[SoLine]] = relationship(
        back_populates="sales_order", order_by="SoLine.line_no"
    )


class SoLine(Base):
    """A sales-order line: qty = shipped + assigned + cancelled + linked or waiting.

    `backorder_reason` is set while the line is on the worklist, so the
    worklist is one indexed scan: while it waits for stock or a PO line (the
    reason it was skipped or released), or while it is linked to a PO line
    now due after the order's delivery date (`late supply`).
    """

    __tablename__ = "so_lines"
    __table_args__ = (
        UniqueConstraint("sales_order_id", "line_no"),
        CheckConstraint("line_no > 0", name="line_no_positive"),
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint(
            "qty_assigned >= 0 AND qty_shipped >= 0 AND qty_cancelled >= 0 "
            "AND qty_assigned + qty_shipped + qty_cancelled <= qty",
            name="parts_within_qty",
        ),
        Index(
            "ix_so_lines_worklist_item",
            "stock_item_id",
            postgresql_where=text("backorder_reason IS NOT NULL"),
            sqlite_where=text("backorder_reason IS NOT NULL"),
        ),
        # The worklist in serving order (its orders first), by reason, by how long waited.
        *(
            Index(
                f"ix_so_lines_worklist_{name}",
                *columns,
                postgresql_where=text("backorder_reason IS NOT NULL"),
                sqlite_where=text("backorder_reason IS NOT NULL"),
            )
            for name, columns in (
                ("order", ("sales_order_id", "line_no")),
                ("reason", ("backorder_reason", "backorder_since")),
                ("since", ("backorder_since",)),
            )
        ),
        # The worklist in serving order on the lines alone (their copies of the order's
        # fields), all of it and by source, carrying what a page, an offset and a count by
        # reason read (migration 0013); PostgreSQL's, as ix_sales_orders_serving was.
        *(
            Index(
                f"ix_so_lines_worklist_{name}",
                *first,
                text("(-order_priority)"),
                "order_delivery_date",
                "sales_order_id",
                "line_no",
                postgresql_where=text("backorder_reason IS NOT NULL"),
                postgresql_include=["id", "backorder_reason", "order_priority"],
            ).ddl_if(dialect="postgresql")
            for name, first in (("serving", ()), ("source_serving", ("order_source",)))
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sales_order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    stock_item_id: Mapped[int] = mapped_column(ForeignKey("stock_items.id"), index=True)
    qty: Mapped[int] = mapped_column(Integer)
    qty_assigned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    qty_shipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    qty_cancelled: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    backorder_reason: Mapped[str | None] = mapped_column(String(64))
    backorder_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Copies of the order's source, priority and delivery date, so the worklist is served
    # and filtered on the lines alone. The order's are the truth: the database fills
    # these on a line inserted without them and writes them on the lines when the order's
    # change (migration 0013); intake writes them with the line.
    order_source: Mapped[str] = mapped_column(String(40), nullable=True)
    order_priority: Mapped[int] = mapped_column(SmallInteger, nullable=True)
    order_delivery_date: Mapped[date] = mapped_column(Date, nullable=True)

    sales_order: Mapped[SalesOrder] = relationship(back_populates="lines")
    stock_item: Mapped[StockItem] = relationship()

    @property
    def remaining(self) -> int:
        """What is neither shipped, assigned nor cancelled: on order or waiting."""
        return self.qty - self.qty_shipped - self.qty_assigned - self.qty_cancelled


class Association(Base):
    """A BO/PO association: one SO line's backorder quantity on one PO line.

    A line has one active association, or (with `allow_split`) one per PO line
    covering part of it; the index keeps them to one per SO line and PO line.
    """

    __tablename__ = "associations"
    __table_args__ = (
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint("state IN ('active', 'fulfilled', 'released')", name="state_known"),
        Index(
            "uq_associations_active_so_line_po_line",
            "so_line_id",
            "po_line_id",
            unique=True,
            postgresql_where=text("state = 'active'"),
            sqlite_where=text("state = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    so_line_id: Mapped[int] = mapped_column(ForeignKey("so_lines.id"))
    po_line_id: Mapped[int] = mapped_column(ForeignKey("po_lines.id"), index=True)
    qty: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by: Mapped[str | None] = mapped_column(String(64))
    ended_reason: Mapped[str | None] = mapped_column(String(200))

    so_line: Mapped[SoLine] = relationship()
    po_line: Mapped[PoLine] = relationship()


class Receipt(Base):
    """Goods in on a PO line, and how much of it was left as free stock."""

    __tablename__ = "receipts"
    __table_args__ = (
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint("to_stock >= 0 AND to_stock <= qty", name="to_stock_within_qty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    po_line_id: Mapped[int] = mapped_column(ForeignKey("po_lines.id"), index=True)
    qty: Mapped[int] = mapped_column(Integer)
    to_stock: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_by: Mapped[str] = mapped_column(String(64))
    # A receipt booked in error, taken back: every unit out again
    # (bopo.services.supply.receipt_reversal).
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reversed_by: Mapped[str | None] = mapped_column(String(64))


class ReceiptLine(Base):
    """What one SO line got from a receipt: as a linked line, or from the worklist."""

    __tablename__ = "receipt_lines"
    __table_args__ = (
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint("kind IN ('linked', 'backorder')", name="kind_known"),
    )

    receipt_id: Mapped[int] = mapped_column(
        ForeignKey("receipts.id", ondelete="CASCADE"), primary_key=True
    )
    so_line_id: Mapped[int] = mapped_column(ForeignKey("so_lines.id"), primary_key=True)
    qty: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
