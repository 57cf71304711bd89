"""System data and master data: stock items, PO line statuses, suppliers."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, computed_field
from sqlalchemy import Connection, String, func, insert, select, update

from bopo.db.audit import event
from bopo.db.bulk import Writes, one_of
from bopo.db.models import (
    Association,
    AuditEvent,
    PendingEmail,
    PendingEmailAssociation,
    PoLine,
    PoLineStatus,
    StockItem,
)
from bopo.db.queries import IS_OPEN, OUTSTANDING, StockRow, lock_stock_by_sku, record_audit
from bopo.errors import Conflict, FieldError, InvalidInput, NotFound
from bopo.services.admin import statuses
from bopo.services.common.inputs import NewStockItem
from bopo.services.common.pages import AnySelect, Page, fetch_page
from bopo.services.context import Context
from bopo.services.email.superseding import refresh_emails


@dataclass(frozen=True, slots=True)
class StockItemsResult:
    created: int
    updated: int
    unchanged: int
    errors: tuple[tuple[int, FieldError], ...]  # (index in the input, error)


def upsert_stock_items(
    ctx: Context, items: Sequence[NewStockItem], *, actor: str
) -> StockItemsResult:
    """Create items or set name and on-hand of existing ones (a stock count).

    On-hand may not drop below what is already assigned to sales orders.
    """
    now = ctx.clock()
    with ctx.db.write() as conn:
        current = lock_stock_by_sku(conn, {i.sku for i in items})
        count = _count(items, current, now=now, actor=actor)
        _write_count(conn, count, now=now, actor=actor)
    return StockItemsResult(
        len(count.new_rows), len(count.changes), count.unchanged, tuple(count.errors)
    )


@dataclass
class _StockCount:
    """What a stock count does: items to create, items to change (audited), refusals."""

    new_rows: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    errors: list[tuple[int, FieldError]] = field(default_factory=list)
    unchanged: int = 0


def _count(
    items: Sequence[NewStockItem], current: Mapping[str, StockRow], *, now: datetime, actor: str
) -> _StockCount:
    """Each item against the stock item of its SKU (locked in `current`), if any."""
    count = _StockCount()
    last = {item.sku: n for n, item in enumerate(items)}  # the last row for a SKU wins
    for n, item in enumerate(items):
        if last[item.sku] != n:
            continue
        row = current.get(item.sku)
        if row is None:
            count.new_rows.append(
                {
                    "sku": item.sku,
                    "name": item.name,
                    "on_hand": item.on_hand,
                    "assigned": 0,
                    "created_at": now,
                }
            )
        elif item.on_hand < row.assigned:
            message = f"{item.on_hand} is below the {row.assigned} already assigned"
            count.errors.append((n, FieldError("on_hand", message)))
        elif item.on_hand == row.on_hand and item.name == row.name:
            count.unchanged += 1
        else:
            count.changes.append({"id": row.id, "name": item.name, "on_hand": item.on_hand})
            if item.on_hand != row.on_hand:
                count.audit.append(
                    event(
                        now,
                        actor,
                        "stock.count",
                        "stock_item",
                        row.id,
                        {"on_hand": row.on_hand},
                        {"on_hand": item.on_hand},
                    )
                )
    return count


def _write_count(conn: Connection, count: _StockCount, *, now: datetime, actor: str) -> None:
    """Insert the new items (each one with stock audited) and update the changed ones."""
    writes = Writes(conn)
    new_ids = writes.reserve_ids({StockItem: len(count.new_rows)})[StockItem]
    for new, item_id in zip(count.new_rows, new_ids, strict=True):
        new["id"] = item_id
        if new["on_hand"]:
            count.audit.append(
                event(
                    now,
                    actor,
                    "stock.create",
                    "stock_item",
                    item_id,
                    None,
                    {"on_hand": new["on_hand"]},
                )
            )
    writes.insert(StockItem, count.new_rows)
    writes.update_by_id(StockItem, count.changes)
    writes.insert(AuditEvent, count.audit)
    writes.flush()


@dataclass(frozen=True, slots=True)
class StatusView:
    id: int
    code: str
    name: str
    template: Annotated[str | None, Field(description="The email template's name, if any")]
    po_lines: Annotated[int, Field(description="PO lines with this status")]
    retired_at: Annotated[
        datetime | None,
        Field(description="When it was retired: kept where used, given to no new line"),
    ] = None


def list_statuses(ctx: Context) -> list[StatusView]:
    from bopo.db.models import EmailTemplate, PoLine

    with ctx.db.read() as conn:
        used = (
            select(PoLine.status_id, func.count().label("n")).group_by(PoLine.status_id).subquery()
        )
        rows = conn.execute(
            select(
                PoLineStatus.id,
                PoLineStatus.code,
                PoLineStatus.name,
                EmailTemplate.name.label("template"),
                func.coalesce(used.c.n, 0).label("po_lines"),
                PoLineStatus.retired_at,
            )
            .outerjoin(EmailTemplate, EmailTemplate.id == PoLineStatus.email_template_id)
            .outerjoin(used, used.c.status_id == PoLineStatus.id)
            .order_by(PoLineStatus.code)
        )
        return [StatusView(**r._mapping) for r in rows]


def add_status(ctx: Context, code: str, name: str, *, actor: str) -> StatusView:
    """Add a PO line status; codes are upper-cased and unique."""
    problems = []
    for check, value in ((statuses.checked_code, code), (statuses.checked_name, name)):
        try:
            check(value)
        except InvalidInput as exc:
            problems += exc.errors
    if problems:
        raise InvalidInput(problems)
    code, name = statuses.checked_code(code), statuses.checked_name(name)
    now = ctx.clock()
    with ctx.db.write() as conn:
        if _status_id(conn, code) is not None:
            raise Conflict(f"PO line status {code!r} exists already")
        status_id = conn.scalar(
            insert(PoLineStatus)
            .values(code=code, name=name, created_at=now)
            .returning(PoLineStatus.id)
        )
        assert status_id is not None
        record_audit(
            conn,
            [
                {
                    "at": now,
                    "actor": actor,
                    "action": "status.create",
                    "entity": "po_line_status",
                    "entity_id": status_id,
                    "before": None,
                    "after": {"code": code, "name": name},
                }
            ],
        )
    return StatusView(id=status_id, code=code, name=name, template=None, po_lines=0)


def _status_id(conn: Connection, code: str) -> int | None:
    return conn.scalar(select(PoLineStatus.id).where(PoLineStatus.code == code))


# --- stock items, one at a time and as lists -------------------------------------------


@dataclass(frozen=True, slots=True)
class StockItemView:
    id: int
    sku: str
    name: str
    on_hand: int
    assigned: int
    on_order: Annotated[int, Field(description="Outstanding on open PO lines")]
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def free(self) -> int:
        return max(0, self.on_hand - self.assigned)


def _stock_query() -> AnySelect:
    on_order = (
        select(func.coalesce(func.sum(OUTSTANDING), 0))
        .where(PoLine.stock_item_id == StockItem.id, IS_OPEN)
        .scalar_subquery()
    )
    return select(
        StockItem.id,
        StockItem.sku,
        StockItem.name,
        StockItem.on_hand,
        StockItem.assigned,
        on_order.label("on_order"),
        StockItem.created_at,
    )


def find_stock_items(
    ctx: Context,
    *,
    sku: str | None = None,
    q: str | None = None,
    short: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[StockItemView]:
    """Stock items by SKU; `sku` is a prefix, `q` a part of the SKU or name,
    `short` those with no free stock (or, false, those with some)."""
    stmt = _stock_query().order_by(StockItem.sku)
    if sku:
        stmt = stmt.where(StockItem.sku.startswith(sku, autoescape=True))
    if q:
        stmt = stmt.where(
            StockItem.sku.contains(q, autoescape=True) | StockItem.name.contains(q, autoescape=True)
        )
    if short is not None:
        no_free = StockItem.on_hand <= StockItem.assigned
        stmt = stmt.where(no_free if short else ~no_free)
    with ctx.db.read() as conn:
        return fetch_page(conn, stmt, StockItemView, limit=limit, offset=offset)


def get_stock_item(ctx: Context, sku: str) -> StockItemView:
    with ctx.db.read() as conn:
        row = conn.execute(_stock_query().where(StockItem.sku == sku)).first()
    if row is None:
        raise NotFound("stock item", sku)
    return StockItemView(**row._mapping)


def create_stock_item(ctx: Context, item: NewStockItem, *, actor: str) -> StockItemView:
    """A new stock item; its SKU must not exist yet."""
    with ctx.db.read() as conn:
        if conn.scalar(select(StockItem.id).where(StockItem.sku == item.sku)) is not None:
            raise Conflict(f"stock item {item.sku!r} exists already")
    upsert_stock_items(ctx, [item], actor=actor)
    return get_stock_item(ctx, item.sku)


def update_stock_item(
    ctx: Context, sku: str, *, name: str | None = None, on_hand: int | None = None, actor: str
) -> StockItemView:
    """Rename an item or count its stock; on-hand may not drop below what is assigned."""
    current = get_stock_item(ctx, sku)
    changed = NewStockItem(
        sku=sku,
        name=current.name if name is None else name,
        on_hand=current.on_hand if on_hand is None else on_hand,
    )
    result = upsert_stock_items(ctx, [changed], actor=actor)
    if result.errors:
        raise InvalidInput([err for _, err in result.errors])
    return get_stock_item(ctx, sku)


def set_status_template(ctx: Context, code: str, template: str | None, *, actor: str) -> StatusView:
    """Attach an email template to a PO line status, or detach it (None).

    From then on, linking a sales-order line to a PO line with this status, or
    giving a PO line this status, queues the template's email (BACK_ORDER type).
    """
    from bopo.db.models import EmailTemplate

    code = code.strip().upper()
    now = ctx.clock()
    with ctx.db.write() as conn:
        status = conn.execute(
            select(PoLineStatus.id, PoLineStatus.email_template_id)
            .where(PoLineStatus.code == code)
            .with_for_update(key_share=True)
        ).first()
        if status is None:
            raise NotFound("PO line status", code)
        template_id = None
        if template is not None:
            template_id = conn.scalar(
                select(EmailTemplate.id).where(EmailTemplate.name == template.strip())
            )
            if template_id is None:
                raise NotFound("email template", template)
        if template_id != status.email_template_id:
            conn.execute(
                update(PoLineStatus)
                .where(PoLineStatus.id == status.id)
                .values(email_template_id=template_id)
            )
            record_audit(
                conn,
                [
                    {
                        "at": now,
                        "actor": actor,
                        "action": "status.template",
                        "entity": "po_line_status",
                        "entity_id": status.id,
                        "before": {"email_template_id": status.email_template_id},
                        "after": {"email_template_id": template_id},
                    }
                ],
            )
            _supersede_under_status(conn, ctx, status.id, now=now, actor=actor)
    return next(s for s in list_statuses(ctx) if s.code == code)


def _supersede_under_status(
    conn: Connection, ctx: Context, status_id: int, *, now: datetime, actor: str
) -> None:
    """Unsent emails that state links on PO lines of this status were written with its
    old template: superseded, their links announced with the new one (or not at all)."""
    orders = conn.scalars(
        select(PendingEmail.sales_order_id)
        .join(PendingEmailAssociation, PendingEmailAssociation.email_id == PendingEmail.id)
        .join(Association, Association.id == PendingEmailAssociation.association_id)
        .join(PoLine, PoLine.id == Association.po_line_id)
        .where(PendingEmail.state == "pending", PoLine.status_id == status_id)
        .distinct()
    ).all()
    refresh_emails(conn, ctx, orders={o for o in orders if o is not None}, now=now, actor=actor)


def skus_as_stored(ctx: Context, typed: Collection[str]) -> dict[str, str]:
    """Each SKU typed in a form, as stored (`pan-28` is PAN-28); one that matches no item,
    or several in different cases, stays as typed (and is refused as unknown later)."""
    wanted = {s.strip().lower() for s in typed if s.strip()}
    if not wanted:
        return {}
    with ctx.db.read() as conn:
        stored = conn.scalars(
            select(StockItem.sku).where(
                one_of(conn, func.lower(StockItem.sku, type_=String), sorted(wanted))
            )
        ).all()
    by_lower: dict[str, list[str]] = {}
    for sku in stored:
        by_lower.setdefault(sku.lower(), []).append(sku)
    out = {}
    for s in typed:
        matches = by_lower.get(s.strip().lower(), [])
        exact = s.strip() in matches
        out[s] = s.strip() if exact or len(matches) != 1 else matches[0]
    return out
