"""Reading the audit trail: every change, who made it and when, with what it was before
and after; filtered for the audit page, the API and the CLI, and the history of one
sales order or purchase order (with its lines) for their pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import or_, select, union_all

from bopo.db.models import AuditEvent, PoLine, SoLine
from bopo.db.models.history import action_group
from bopo.services.common.pages import Page, fetch_page, fetch_page_by_id
from bopo.services.common.search import matches, normal
from bopo.services.context import Context

# What a page's history takes in besides the thing itself: its lines.
PARTS: dict[str, tuple[str, Any, Any]] = {
    "sales_order": ("so_line", select(SoLine.id), SoLine.sales_order_id),
    "purchase_order": ("po_line", select(PoLine.id), PoLine.purchase_order_id),
}
ENTITIES = (
    "sales_order",
    "so_line",
    "association",
    "purchase_order",
    "po_line",
    "po_line_status",
    "stock_item",
    "pending_email",
    "customer",
    "user",
    "api_token",
)


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One change: who made it, when, to what, and what it was before and after."""

    id: int
    at: datetime
    actor: Annotated[str, Field(description="web:NAME, api:NAME, or the CLI user")]
    action: Annotated[str, Field(description="e.g. customer.update, email.retry, status.retire")]
    entity: str
    entity_id: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def _rows() -> Any:
    return select(
        AuditEvent.id,
        AuditEvent.at,
        AuditEvent.actor,
        AuditEvent.action,
        AuditEvent.entity,
        AuditEvent.entity_id,
        AuditEvent.before,
        AuditEvent.after,
    ).order_by(AuditEvent.id.desc())


def _start(d: date) -> datetime:
    return datetime.combine(d, time(), tzinfo=UTC)


def find_audit(
    ctx: Context,
    *,
    actor: str | None = None,
    action: str | None = None,
    entity: str | None = None,
    entity_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 50,
    offset: int = 0,
    after: int | None = None,
) -> Page[AuditRow]:
    """The audit trail, newest first. `actor` is part of who did it (`ines` finds
    `web:ines`), `action` an action or its group (`email` finds `email.retry`),
    `entity` a kind of thing (and `entity_id` one of them); dates are UTC days,
    inclusive. `after`: the page after this row (bopo.services.common.pages)."""
    stmt = _rows()
    if actor and normal(actor):
        stmt = stmt.where(matches([AuditEvent.actor], actor))
    if action:
        # Sought on the (group, id) index in the trail's order; a whole action (with its
        # dot) is then picked out of its group's rows.
        action = action.strip()
        stmt = stmt.where(action_group(AuditEvent.action) == action.split(".", 1)[0])
        if "." in action:
            stmt = stmt.where(
                or_(AuditEvent.action == action, AuditEvent.action.startswith(action + "."))
            )
    if entity:
        stmt = stmt.where(AuditEvent.entity == entity.strip())
    if entity_id is not None:
        stmt = stmt.where(AuditEvent.entity_id == entity_id)
    if since:
        stmt = stmt.where(AuditEvent.at >= _start(since))
    if until:
        stmt = stmt.where(AuditEvent.at < _start(until + timedelta(days=1)))
    with ctx.db.read() as conn:  # ids paged on the primary key; the page's rows read whole
        return fetch_page_by_id(
            conn,
            stmt.with_only_columns(AuditEvent.id),
            _rows(),
            AuditRow,
            key=AuditEvent.id,
            limit=limit,
            offset=offset,
            newest_first=True,
            after=after,
        )


def history(
    ctx: Context, entity: str, entity_id: int, *, limit: int = 20, offset: int = 0
) -> Page[AuditRow]:
    """What happened to one sales order or purchase order and its lines, newest first
    (any other kind: the rows about it alone). Served by the (entity, entity_id) index."""
    about: Any = (AuditEvent.entity == entity) & (AuditEvent.entity_id == entity_id)
    if entity in PARTS:
        # Two lookups of the (entity, entity_id) index, united by id: one condition
        # with OR between them would have the trail read whole.
        part, ids, parent = PARTS[entity]
        lines = ids.where(parent == entity_id)
        found = union_all(
            select(AuditEvent.id).where(about),
            select(AuditEvent.id).where(AuditEvent.entity == part, AuditEvent.entity_id.in_(lines)),
        )
        about = AuditEvent.id.in_(select(found.subquery().c.id))
    with ctx.db.read() as conn:
        return fetch_page(conn, _rows().where(about), AuditRow, limit=limit, offset=offset)
