"""Email templates and the outbox."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bopo.db.base import Base, UTCDateTime
from bopo.db.models.columns import Email, Name


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
        # that says what is true (bopo.services.email.superseding).
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
