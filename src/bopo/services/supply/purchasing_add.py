"""Bringing purchase orders in: new ones and new lines created, lines already there left
as they are, each refused line with its reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from bopo.db.audit import event
from bopo.db.bulk import Writes, one_of
from bopo.db.models import AuditEvent, PoLine, PoLineStatus, PurchaseOrder, StockItem, Supplier
from bopo.db.queries import ensure_codes, pairs
from bopo.errors import FieldError, InvalidInput
from bopo.services.common.inputs import NewPurchaseOrder, NewPurchaseOrderLine
from bopo.services.context import Context


@dataclass
class PurchaseOrdersResult:
    orders_created: int = 0
    lines_created: int = 0
    lines_unchanged: int = 0
    # (index of the order in the input, index of the line or None, error)
    errors: list[tuple[int, int | None, FieldError]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Known:
    """What the database has of what the orders name."""

    items: dict[str, int]  # sku -> id
    statuses: dict[str, int]  # code -> id (not retired)
    supplier_ids: dict[str, int]  # code -> id (new suppliers added)
    pos: dict[str, tuple[int, str]]  # number -> (id, supplier code)
    lines: dict[tuple[int, int], tuple[int, int]]  # (po id, line no) -> (item id, qty)


def add_purchase_orders(
    ctx: Context,
    orders: Sequence[NewPurchaseOrder],
    *,
    actor: str,
    all_or_nothing: bool = False,
) -> PurchaseOrdersResult:
    """Create purchase orders and lines; lines that exist already are left as they are.

    A line is refused on its own (unknown SKU or status, another supplier's PO)
    and the rest of its order still comes in; with `all_or_nothing`, any refusal
    raises InvalidInput and nothing comes in.
    """
    now = ctx.clock()
    result = PurchaseOrdersResult()
    with ctx.db.write() as conn:
        known = _known(conn, orders, now)
        new_orders, new_lines = _new_lines(orders, known, result)
        if all_or_nothing and result.errors:  # raising rolls back the suppliers added
            raise InvalidInput(
                [
                    FieldError(err.field if k is None else f"lines[{k}].{err.field}", err.message)
                    for _, k, err in result.errors
                ]
            )
        result.lines_created = _write(conn, known, new_orders, new_lines, now=now, actor=actor)
        result.orders_created = len(new_orders)
    return result


def _known(conn: Connection, orders: Sequence[NewPurchaseOrder], now: datetime) -> _Known:
    """What the database has of the orders' items, statuses, suppliers (those missing are
    added), purchase orders and their lines."""
    skus = {line.sku for o in orders for line in o.lines}
    items = pairs(
        conn.execute(select(StockItem.sku, StockItem.id).where(one_of(conn, StockItem.sku, skus)))
    )
    codes = {line.status for o in orders for line in o.lines if line.status}
    statuses = pairs(
        conn.execute(
            select(PoLineStatus.code, PoLineStatus.id).where(
                one_of(conn, PoLineStatus.code, codes), PoLineStatus.retired_at.is_(None)
            )
        )
    )
    # A file's supplier name only fills in new suppliers; it does not rename.
    names: dict[str, dict[str, Any]] = {}
    for o in orders:
        if o.supplier_code not in names or o.supplier_name:
            names[o.supplier_code] = {
                "name": o.supplier_name or o.supplier_code,
                "email": None,
                "created_at": now,
            }
    supplier_ids = ensure_codes(conn, Supplier, names)
    pos = {
        r.number: (r.id, r.supplier_code)
        for r in conn.execute(
            select(PurchaseOrder.number, PurchaseOrder.id, Supplier.code.label("supplier_code"))
            .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
            .where(one_of(conn, PurchaseOrder.number, {o.number for o in orders}))
        )
    }
    lines = {
        (r.purchase_order_id, r.line_no): (r.stock_item_id, r.qty_ordered)
        for r in conn.execute(
            select(
                PoLine.purchase_order_id, PoLine.line_no, PoLine.stock_item_id, PoLine.qty_ordered
            ).where(one_of(conn, PoLine.purchase_order_id, [v[0] for v in pos.values()]))
        )
    }
    return _Known(items, statuses, supplier_ids, pos, lines)


def _new_lines(
    orders: Sequence[NewPurchaseOrder], known: _Known, result: PurchaseOrdersResult
) -> tuple[dict[str, NewPurchaseOrder], list[tuple[str, NewPurchaseOrderLine]]]:
    """The new purchase orders by number, and the new lines by their PO's number; lines
    there already and refused ones are counted in `result`."""
    pos = known.pos
    new_orders: dict[str, NewPurchaseOrder] = {}
    new_lines: list[tuple[str, NewPurchaseOrderLine]] = []
    for n, o in enumerate(orders):
        if o.number in pos and pos[o.number][1] != o.supplier_code:
            message = f"{o.number} belongs to supplier {pos[o.number][1]}"
            result.errors.append((n, None, FieldError("supplier_code", message)))
            continue
        for k, line in enumerate(o.lines):
            problem = _line_problem(o, line, known)
            if problem == "same":
                result.lines_unchanged += 1
            elif isinstance(problem, FieldError):
                result.errors.append((n, k, problem))
            else:
                new_lines.append((o.number, line))
                if o.number not in pos:
                    new_orders.setdefault(o.number, o)
    return new_orders, new_lines


def _line_problem(
    order: NewPurchaseOrder, line: NewPurchaseOrderLine, known: _Known
) -> FieldError | str | None:
    """Why a line cannot come in, "same" if it is there already, or None if it is new."""
    if line.sku not in known.items:
        return FieldError("sku", f"unknown SKU {line.sku!r}")
    if line.status and line.status not in known.statuses:
        return FieldError("status", f"unknown or retired PO line status {line.status!r}")
    if order.number in known.pos:
        old = known.lines.get((known.pos[order.number][0], line.line_no))
        if old == (known.items[line.sku], line.qty):
            return "same"
        if old is not None:
            return FieldError(
                "line_no",
                f"{order.number} line {line.line_no} exists with other values; "
                "change it with the purchase-order commands",
            )
    return None


def _write(
    conn: Connection,
    known: _Known,
    new_orders: dict[str, NewPurchaseOrder],
    new_lines: list[tuple[str, NewPurchaseOrderLine]],
    *,
    now: datetime,
    actor: str,
) -> int:
    """Insert the new purchase orders and lines, each line audited; how many lines."""
    writes = Writes(conn)
    ids = writes.reserve_ids({PurchaseOrder: len(new_orders), PoLine: len(new_lines)})
    po_ids = {number: po[0] for number, po in known.pos.items()}
    po_ids.update(zip(new_orders, ids[PurchaseOrder], strict=True))
    writes.insert(
        PurchaseOrder,
        [
            {
                "id": po_ids[number],
                "number": number,
                "supplier_id": known.supplier_ids[o.supplier_code],
                "order_date": o.order_date,
                "created_at": now,
                "cancelled_at": None,
            }
            for number, o in new_orders.items()
        ],
    )
    line_rows = [
        {
            "id": line_id,
            "purchase_order_id": po_ids[number],
            "line_no": line.line_no,
            "stock_item_id": known.items[line.sku],
            "qty_ordered": line.qty,
            "qty_delivered": 0,
            "qty_cancelled": 0,
            "qty_associated": 0,
            "due_date": line.due_date,
            "status_id": known.statuses[line.status] if line.status else None,
            "created_at": now,
        }
        for (number, line), line_id in zip(new_lines, ids[PoLine], strict=True)
    ]
    writes.insert(PoLine, line_rows)
    writes.insert(AuditEvent, [_created(r, now, actor) for r in line_rows])
    writes.flush()
    return len(line_rows)


def _created(row: dict[str, Any], now: datetime, actor: str) -> dict[str, Any]:
    """The audit row of a new PO line."""
    return event(
        now,
        actor,
        "po_line.create",
        "po_line",
        row["id"],
        None,
        {
            "qty_ordered": row["qty_ordered"],
            "status_id": row["status_id"],
            "due_date": row["due_date"].isoformat() if row["due_date"] else None,
        },
    )
