"""bopo's tables. Quantities are whole units; the CHECKs keep them sane.

`po_lines.qty_associated` is the sum of the line's active associations, kept by
database triggers (see the first migration), so the CHECK on it lets the
database itself refuse over-association, whatever the application does.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bopo.db.base import Base, UTCDateTime
from bopo.logs import current_request_id

Code = String(64)
Name = String(200)
Email = String(320)


def search_index(table: str, column: str) -> Index:
    """An index for searching a column by any part of it, in any case.

    PostgreSQL: a trigram GIN index on lower(column), which serves
    `lower(column) LIKE '%part%'` (and prefixes and equality). SQLite has no
    trigrams: the same index there is a b-tree on lower(column), which serves
    exact and prefix lookups; a search by a middle part scans.
    The migration creates the pg_trgm extension these need (0007_office).
    """
    return Index(
        f"ix_{table}_{column}_search",
        func.lower(text(column)).label(column),
        postgresql_using="gin",
        postgresql_ops={column: "gin_trgm_ops"},
    )


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


class EmailTemplate(Base):
    __tablename__ = "email_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Name, unique=True)
    type: Mapped[str] = mapped_column(String(40), index=True)
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


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
        Index(  # expected deliveries, by due date
            "ix_po_lines_open_due",
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
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sales_order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    stock_item_id: Mapped[int] = mapped_column(ForeignKey("stock_items.id"))
    qty: Mapped[int] = mapped_column(Integer)
    qty_assigned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    qty_shipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    qty_cancelled: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    backorder_reason: Mapped[str | None] = mapped_column(String(64))
    backorder_since: Mapped[datetime | None] = mapped_column(UTCDateTime)

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


class PendingEmail(Base):
    """The outbox: a rendered email waiting to be sent (or sent, failed, cancelled)."""

    __tablename__ = "pending_emails"
    __table_args__ = (
        CheckConstraint(
            "state IN ('pending', 'sending', 'sent', 'failed', 'cancelled', 'superseded')",
            name="state_known",
        ),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_pending_emails_state_id", "state", "id"),
        # One email waits per sales order and template: a change supersedes it with one
        # that says what is true (bopo.services.superseding).
        Index(
            "uq_pending_emails_pending_order_template",
            "sales_order_id",
            "template_id",
            unique=True,
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sales_order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_orders.id"), index=True)
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("email_templates.id", ondelete="SET NULL")
    )
    event: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(Email)
    to_name: Mapped[str | None] = mapped_column(Name)
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # after a failure
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Superseded: a link or date it states changed before it was sent. The email that
    # says what is true instead (emails are never deleted, so no foreign key is needed).
    superseded_by_id: Mapped[int | None] = mapped_column(Integer)
    superseded_reason: Mapped[str | None] = mapped_column(Text)


class PendingEmailAssociation(Base):
    """Which associations an email announces, and what it states of each: the quantity,
    the expected date (the PO line's due date when rendered) and whether it said that
    date was past (overdue). The email is true while these still hold."""

    __tablename__ = "pending_email_associations"

    email_id: Mapped[int] = mapped_column(
        ForeignKey("pending_emails.id", ondelete="CASCADE"), primary_key=True
    )
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id"), primary_key=True)
    # Due-date notices: the date the customer had been given for this line before.
    previous_due: Mapped[date | None] = mapped_column(Date)
    qty: Mapped[int | None] = mapped_column(Integer)
    due_date: Mapped[date | None] = mapped_column(Date)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AuditEvent(Base):
    """Who changed what, when, with the values before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The HTTP request the change was made in (its X-Request-ID); none from the CLI.
    request_id: Mapped[str | None] = mapped_column(String(100), default=current_request_id)


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


class User(Base):
    """A person or system that signs in; disabled users keep their history."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'operator', 'viewer')", name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))  # None: tokens only
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A bearer token, stored only as its SHA-256; `prefix` lets people tell them apart."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A web UI session: signed in, not signed out. The cookie carries a random secret,
    the table only its SHA-256 (`id`), so neither alone lets anyone in. Signing out
    ends one; a password change or a disabled user ends all of that user's."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)  # to the minute
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AllocationDecision(Base):
    """Why an SO line got what it got: one compact row per decision (bopo.domain.decisions).

    kind: I intake, W worklist retry, M by hand, R re-allocation, L/B goods in.
    policy: E earliest_due, O oldest_first, B best_fit, with S when splitting was on.
    reason: the skip reason's code when nothing was linked.
    candidates: [po_line_id, due_in, free, taken, ...] (four numbers per PO line, due_in
    in days after the decision's day) as seen at that moment, at most 8 of the
    `considered` open PO lines.

    A log, like audit_log: no foreign key, so intake pays no check per row (SO
    lines are never deleted).
    """

    __tablename__ = "allocation_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    so_line_id: Mapped[int] = mapped_column(Integer, index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(1))
    policy: Mapped[str] = mapped_column(String(2))
    need: Mapped[int] = mapped_column(Integer)
    from_stock: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(1))
    candidates: Mapped[list[int | None]] = mapped_column(JSON)
    considered: Mapped[int] = mapped_column(SmallInteger)


class WebhookDelivery(Base):
    """A shop's webhook call, by the shop's own id for it (Shopify's X-Shopify-Webhook-Id).

    Shops deliver at least once and retry on any doubt: a call whose id is here
    was handled, and answering it again changes nothing. `order_ref` is the
    shop's order id; `outcome` what bopo did (taken, duplicate, rejected, ...).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("source", "delivery_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    delivery_id: Mapped[str] = mapped_column(String(100))
    topic: Mapped[str] = mapped_column(String(64))
    order_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRun(Base):
    """One run of a recurring job (bopo worker) for one tick of its schedule.

    At most one row per job and tick, whichever worker took it: the unique key is
    the proof that a tick ran once. A run still without `finished_at` is running,
    or its worker died during it (the next tick runs as usual).
    """

    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job", "tick"),
        CheckConstraint("result IN ('running', 'ok', 'failed')", name="result_known"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    tick: Mapped[datetime] = mapped_column(UTCDateTime)  # the start of the tick's period
    worker: Mapped[str] = mapped_column(String(100))  # host:pid
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    result: Mapped[str] = mapped_column(String(16))
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class SignInFailure(Base):
    """Failed sign-ins of one user name (case-folded) or one client address, shared by
    every web node (bopo.web.throttle). A row quiet for the longest wait is forgiven and
    deleted at the next sign-in."""

    __tablename__ = "sign_in_failures"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # name | address
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    wait_until: Mapped[datetime] = mapped_column(UTCDateTime)  # no try before this


class RuntimeSetting(Base):
    """A setting an admin changed while bopo runs ([backorders] allocate_existing_pos,
    default_po_line_status, policy): it replaces the INI's value until changed back.
    Every process reads it within a second (Context.backorders)."""

    __tablename__ = "runtime_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # "backorders.policy"
    value: Mapped[Any] = mapped_column(JSON, nullable=True)  # None: the setting is cleared
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(64))
