"""System data and master data: stock items, PO line statuses, suppliers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from bopo.db.models import PoLineStatus, StockItem
from bopo.db.queries import lock_stock_by_sku, pairs, record_audit, update_by_id
from bopo.errors import Conflict, FieldError, InvalidInput, NotFound
from bopo.services.context import Context
from bopo.services.inputs import NewStockItem


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
    created = updated = unchanged = 0
    errors: list[tuple[int, FieldError]] = []
    with ctx.db.write() as conn:
        current = lock_stock_by_sku(conn, {i.sku for i in items})
        names = pairs(
            conn.execute(
                select(StockItem.id, StockItem.name).where(
                    StockItem.id.in_([r.id for r in current.values()])
                )
            )
        )
        last = {item.sku: n for n, item in enumerate(items)}  # the last row for a SKU wins
        new_rows: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        audit: list[dict[str, Any]] = []
        for n, item in enumerate(items):
            if last[item.sku] != n:
                continue
            row = current.get(item.sku)
            if row is None:
                new_rows.append(
                    {
                        "sku": item.sku,
                        "name": item.name,
                        "on_hand": item.on_hand,
                        "assigned": 0,
                        "created_at": now,
                    }
                )
                continue
            if item.on_hand < row.assigned:
                errors.append(
                    (
                        n,
                        FieldError(
                            "on_hand",
                            f"{item.on_hand} is below the {row.assigned} already assigned",
                        ),
                    )
                )
                continue
            if item.on_hand == row.on_hand and item.name == names[row.id]:
                unchanged += 1
                continue
            changes.append({"id": row.id, "name": item.name, "on_hand": item.on_hand})
            if item.on_hand != row.on_hand:
                audit.append(
                    _event(
                        now,
                        actor,
                        "stock.count",
                        row.id,
                        {"on_hand": row.on_hand},
                        {"on_hand": item.on_hand},
                    )
                )
            updated += 1
        if new_rows:
            ids = conn.scalars(
                insert(StockItem).returning(StockItem.id, sort_by_parameter_order=True), new_rows
            ).all()
            created = len(ids)
            audit.extend(
                _event(now, actor, "stock.create", i, None, {"on_hand": r["on_hand"]})
                for i, r in zip(ids, new_rows, strict=True)
                if r["on_hand"]
            )
        update_by_id(conn, StockItem, changes)
        record_audit(conn, audit)
    return StockItemsResult(created, updated, unchanged, tuple(errors))


def _event(
    at: Any, actor: str, action: str, item_id: int, before: Any, after: Any
) -> dict[str, Any]:
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "entity": "stock_item",
        "entity_id": item_id,
        "before": before,
        "after": after,
    }


@dataclass(frozen=True, slots=True)
class StatusView:
    id: int
    code: str
    name: str
    template: str | None
    po_lines: int


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
                EmailTemplate.name,
                func.coalesce(used.c.n, 0),
            )
            .outerjoin(EmailTemplate, EmailTemplate.id == PoLineStatus.email_template_id)
            .outerjoin(used, used.c.status_id == PoLineStatus.id)
            .order_by(PoLineStatus.code)
        )
        return [StatusView(*r) for r in rows]


def add_status(ctx: Context, code: str, name: str, *, actor: str) -> StatusView:
    """Add a PO line status; codes are upper-cased and unique."""
    code = code.strip().upper()
    name = name.strip()
    problems = []
    if not code or len(code) > 40:
        problems.append(FieldError("code", "must be 1 to 40 characters"))
    if not name or len(name) > 200:
        problems.append(FieldError("name", "must be 1 to 200 characters"))
    if problems:
        raise InvalidInput(problems)
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
    return StatusView(status_id, code, name, None, 0)


def _status_id(conn: Connection, code: str) -> int | None:
    return conn.scalar(select(PoLineStatus.id).where(PoLineStatus.code == code))


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
            .with_for_update()
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
    return next(s for s in list_statuses(ctx) if s.code == code)
