"""Amazon Seller Central's order reports: tab-separated, one row per order item.

Every row repeats the order's fields. The order number is `amazon-order-id`
(`order-id` in some reports), the customer `buyer-email` (Amazon's relay
address), the order date `purchase-date` in its own time zone. The delivery date
is the report's `latest-ship-date` (or `promise-date`) when it has one, else the
order date plus the lead time. Cancelled orders and items are left out with a note.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bopo.config import Settings
from bopo.services.common.inputs import NewSalesOrder
from bopo.services.files.formats.common import (
    Group,
    ShopOrder,
    column_of,
    delivery_by_rule,
    finish,
    group_rows,
    keyed_rows,
    read_date,
    warn,
)
from bopo.services.files.formats.reading import Table
from bopo.services.files.parsing import ImportIssue, Parsed, Where

SOURCE = "amazon"
ORDER_ID = ("amazon-order-id", "order-id")
ITEM_ID = "order-item-id"
PURCHASE_DATE = "purchase-date"
BUYER_EMAIL = "buyer-email"
BUYER_NAME = ("buyer-name", "recipient-name")
SKU = "sku"
PRODUCT = "product-name"
QTY = ("quantity-purchased", "quantity")
SHIP_BY = ("latest-ship-date", "promise-date")
STATUS = ("order-status", "item-status")
REQUIRED = ("amazon-order-id", PURCHASE_DATE, BUYER_EMAIL, SKU, "quantity-purchased")
ORDER_COLUMNS = (PURCHASE_DATE, BUYER_EMAIL)


def matches(header: Iterable[str]) -> bool:
    h = list(header)
    return all(column_of(h, *names) for names in (ORDER_ID, (SKU,), QTY, (PURCHASE_DATE,)))


def missing(header: Iterable[str]) -> list[str]:
    h = list(header)
    wanted = (ORDER_ID, (PURCHASE_DATE,), (BUYER_EMAIL,), (SKU,), QTY)
    return [names[0] for names in wanted if column_of(h, *names) is None]


def parse_report(
    table: Table,
    settings: Settings,
    emit: Callable[[NewSalesOrder, Where], object] | None = None,
) -> Parsed[NewSalesOrder]:
    parsed: Parsed[NewSalesOrder] = Parsed()
    header = [h.strip().lower() for h in table.header]
    profile = settings.formats.get(SOURCE)
    source = (profile.source if profile else None) or SOURCE
    order_id = column_of(header, *ORDER_ID) or ORDER_ID[0]
    col: dict[str, Any] = {
        "name": column_of(header, *BUYER_NAME),
        "qty": column_of(header, *QTY) or QTY[0],
        "ship_by": column_of(header, *SHIP_BY),
        "order_status": column_of(header, STATUS[0]),
        "item_status": column_of(header, STATUS[1]),
        "code": (profile.customer_code or "").lower() if profile else "",
    }
    names: dict[str, str] = {
        "number": order_id,
        "customer.email": BUYER_EMAIL,
        "customer.code": col["code"] or BUYER_EMAIL,
        "customer.name": col["name"] or BUYER_EMAIL,
        "order_date": PURCHASE_DATE,
        "delivery_date": col["ship_by"] or PURCHASE_DATE,
        "sku": SKU,
        "qty": col["qty"],
    }
    lead = settings.lead_days(source)
    rows = keyed_rows(header, table.rows, parsed)
    for group in group_rows(rows, order_id, parsed, same=ORDER_COLUMNS):
        order = _order(group, parsed, source, lead, col)
        if order is not None:
            finish(parsed, order, names, emit)
    return parsed


def _order(
    group: Group,
    parsed: Parsed[NewSalesOrder],
    source: str,
    lead: int,
    col: dict[str, Any],
) -> ShopOrder | None:
    number = group.key
    first_row, head = group.rows[0]
    if group.problems:
        parsed.issues.extend(group.problems)
        parsed.rejected += 1
        return None
    if col["order_status"] and head.get(col["order_status"], "").strip().lower() == "cancelled":
        warn(parsed, ImportIssue("order-status", "cancelled; order left out", first_row, number))
        return None
    try:
        ordered: Any = read_date(head.get(PURCHASE_DATE, ""))
    except ValueError as exc:
        parsed.issues.append(ImportIssue(PURCHASE_DATE, str(exc), first_row, number))
        parsed.rejected += 1
        return None
    ship_by = head.get(col["ship_by"], "").strip() if col["ship_by"] else ""
    try:
        delivery: Any = read_date(ship_by) if ship_by else delivery_by_rule(ordered, lead)
    except ValueError as exc:
        parsed.issues.append(ImportIssue(col["ship_by"], str(exc), first_row, number))
        parsed.rejected += 1
        return None
    lines: list[dict[str, Any]] = []
    line_rows: list[int] = []
    for k, (row_no, row) in enumerate(group.rows, 1):
        if col["item_status"] and row.get(col["item_status"], "").strip().lower() == "cancelled":
            warn(parsed, ImportIssue("item-status", "item cancelled; left out", row_no, number))
            continue
        lines.append({"line_no": k, "sku": row.get(SKU, ""), "qty": row.get(col["qty"], "")})
        line_rows.append(row_no)
    if not lines:
        warn(
            parsed, ImportIssue("order", "no item left to take; order left out", first_row, number)
        )
        return None
    email = head.get(BUYER_EMAIL, "").strip()
    code = head.get(col["code"], "").strip() if col["code"] else email.lower()
    name = (head.get(col["name"], "").strip() if col["name"] else "") or email
    return ShopOrder(
        source=source,
        number=number,
        customer={"code": code, "name": name, "email": email},
        order_date=ordered,
        delivery_date=delivery,
        lines=lines,
        where=Where(row=first_row, lines=tuple(line_rows)),
    )
