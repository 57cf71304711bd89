"""What happened: the audit log, allocation decisions, webhook deliveries and job runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from bopo.db.base import Base, UTCDateTime
from bopo.logs import current_request_id


class action_group(FunctionElement[str]):  # lower case, as SQL functions are
    """An action's group, the part before its first dot (`email` of `email.retry`),
    written as the index ix_audit_log_action_group is, so that both databases use it."""

    type = String()
    inherit_cache = True
    name = "action_group"


@compiles(action_group)
def _action_group(element: action_group, compiler: SQLCompiler, **kw: Any) -> str:
    action = compiler.process(element.clauses, **kw)
    return f"substr({action}, 1, instr({action} || '.', '.') - 1)"


@compiles(action_group, "postgresql")
def _action_group_postgresql(element: action_group, compiler: SQLCompiler, **kw: Any) -> str:
    return f"split_part({compiler.process(element.clauses, **kw)}, '.', 1)"


class AuditEvent(Base):
    """Who changed what, when, with the values before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),
        # The trail by an action's group, newest first (bopo.services.admin.audit).
        Index("ix_audit_log_action_group", action_group(text("action")), "id"),
    )

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
