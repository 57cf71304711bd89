"""Sales orders as they stand: header and each line's outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from bopo.db.models import Customer, SalesOrder
from bopo.errors import Conflict, NotFound
from bopo.services.context import Context
from bopo.services.outcomes import LineOutcome, load_line_outcomes


@dataclass(frozen=True, slots=True)
class SalesOrderView:
    id: int
    source: str
    number: str
    status: str
    customer_code: str
    customer_name: str
    customer_email: str
    order_date: date
    delivery_date: date
    created_at: datetime
    created_by: str
    lines: tuple[LineOutcome, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "number": self.number,
            "status": self.status,
            "customer": {
                "code": self.customer_code,
                "name": self.customer_name,
                "email": self.customer_email,
            },
            "order_date": self.order_date.isoformat(),
            "delivery_date": self.delivery_date.isoformat(),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "lines": [line.as_dict() for line in self.lines],
        }


def show_sales_order(ctx: Context, number: str, source: str | None = None) -> SalesOrderView:
    """One order by number (and source, needed when two channels share a number)."""
    stmt = (
        select(
            SalesOrder.id,
            SalesOrder.source,
            SalesOrder.number,
            SalesOrder.status,
            Customer.code,
            Customer.name,
            Customer.email,
            SalesOrder.order_date,
            SalesOrder.delivery_date,
            SalesOrder.created_at,
            SalesOrder.created_by,
        )
        .join(Customer, Customer.id == SalesOrder.customer_id)
        .where(SalesOrder.number == number)
    )
    if source is not None:
        stmt = stmt.where(SalesOrder.source == source)
    with ctx.db.read() as conn:
        rows = conn.execute(stmt).all()
        if not rows:
            raise NotFound("sales order", number if source is None else f"{source}/{number}")
        if len(rows) > 1:
            sources = ", ".join(sorted(r.source for r in rows))
            raise Conflict(
                f"sales order {number!r} exists in several sources ({sources}); "
                "say which with --source"
            )
        head = rows[0]
        lines = load_line_outcomes(conn, [head.id])[head.id]
    return SalesOrderView(*head, lines=tuple(lines))
