"""Shopify: the orders export (CSV, one row per line item) and the orders webhook's JSON.

The export puts an order's own fields (Email, Created at, Billing Name, Cancelled
at, ...) only on its first row; later rows of the same `Name` leave them empty
and they are carried down. What bopo cannot or need not take is reported with
its place and left out, not refused: a line the shop has fulfilled, a line
without a SKU (a gift card, a tip), a line that needs no shipping; a cancelled
order is left out whole, with a note. The order number is Shopify's `Name`
(`#1001`) as it is; the source is `shopify`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import suppress
from datetime import date, datetime
from typing import Any

from bopo.config import FormatProfile, Settings
from bopo.services.common.inputs import NewSalesOrder
from bopo.services.files.formats.common import (
    Group,
    ShopOrder,
    delivery_by_rule,
    finish,
    group_rows,
    keyed_rows,
    warn,
)
from bopo.services.files.formats.reading import Table
from bopo.services.files.parsing import ImportIssue, Parsed, Where

SOURCE = "shopify"
# Shopify's column names, as its orders export writes them.
NAME = "Name"
EMAIL = "Email"
CREATED_AT = "Created at"
CANCELLED_AT = "Cancelled at"
FINANCIAL_STATUS = "Financial Status"
FULFILLMENT_STATUS = "Fulfillment Status"
QTY = "Lineitem quantity"
ITEM_NAME = "Lineitem name"
SKU = "Lineitem sku"
REQUIRES_SHIPPING = "Lineitem requires shipping"
LINE_FULFILLMENT = "Lineitem fulfillment status"
BILLING_NAME = "Billing Name"
SHIPPING_NAME = "Shipping Name"
ID = "Id"
# A header with these is Shopify's orders export.
REQUIRED = (NAME, EMAIL, CREATED_AT, QTY, SKU)
SIGNATURE = (NAME, QTY, SKU, "Lineitem name")
# The order's fields: on the first row only; a later row may not give other values.
ORDER_COLUMNS = (EMAIL, CREATED_AT, CANCELLED_AT, BILLING_NAME, SHIPPING_NAME, ID)
LINE_COLUMNS = (ITEM_NAME, REQUIRES_SHIPPING, LINE_FULFILLMENT)
CREATED_AT_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M %z", "%Y-%m-%d %H:%M:%S")


def created_date(value: str) -> date:
    """`2026-12-01 09:13:58 +0100` (or ISO 8601) as the date in its own time zone."""
    text = value.strip()
    if len(text) == 25 and text[10] == text[19] == " " and text[20] in "+-":
        # Shopify's own form, read by the C parser (strptime costs more than the rest
        # of an order's reading): `2026-12-01 09:13:58 +0100` as `...09:13:58+01:00`
        with suppress(ValueError):
            return datetime.fromisoformat(f"{text[:19]}{text[20:23]}:{text[23:]}").date()
    for fmt in CREATED_AT_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        raise ValueError(
            f"must be a time as Shopify writes it (2026-12-01 09:13:58 +0100), not {value!r}"
        ) from None


def _false(value: str) -> bool:
    return value.strip().lower() in {"false", "no", "0"}


def parse_export(
    table: Table,
    settings: Settings,
    emit: Callable[[NewSalesOrder, Where], object] | None = None,
) -> Parsed[NewSalesOrder]:
    """Shopify's orders export into bopo's orders, each with the rows it came from."""
    parsed: Parsed[NewSalesOrder] = Parsed()
    profile = settings.formats.get(SOURCE)
    header = [h.strip() for h in table.header]
    columns = {h.lower(): h for h in header}
    canon = {c.lower(): c for c in (*REQUIRED, *ORDER_COLUMNS, *LINE_COLUMNS)}
    # Shopify's spelling whatever the case in the file, so that code reads one name
    header = [canon.get(h.lower(), h) for h in header]
    code_column = _customer_column(profile, columns)
    read = {NAME, QTY, SKU, *ORDER_COLUMNS, *LINE_COLUMNS, *([code_column] if code_column else [])}
    rows = keyed_rows(header, table.rows, parsed, keep=read)
    source = (profile.source if profile else None) or SOURCE
    lead = settings.lead_days(source)
    names = {
        "number": NAME,
        "customer.email": EMAIL,
        "customer.code": code_column or EMAIL,
        "customer.name": BILLING_NAME,
        "order_date": CREATED_AT,
        "delivery_date": CREATED_AT,
        "sku": SKU,
        "qty": QTY,
    }
    for group in group_rows(rows, NAME, parsed, same=ORDER_COLUMNS):
        order = _order(group, parsed, source, lead, code_column)
        if order is not None:
            finish(parsed, order, names, emit)
    return parsed


def _customer_column(profile: FormatProfile | None, columns: dict[str, str]) -> str | None:
    if profile is None or profile.customer_code is None:
        return None
    return columns.get(profile.customer_code.lower(), profile.customer_code)


def _order(
    group: Group, parsed: Parsed[NewSalesOrder], source: str, lead: int, code_column: str | None
) -> ShopOrder | None:
    number = group.key
    first_row, head = group.rows[0]
    if group.problems:
        parsed.issues.extend(group.problems)
        parsed.rejected += 1
        return None
    cancelled = head.get(CANCELLED_AT, "").strip()
    if cancelled:
        warn(
            parsed,
            ImportIssue(
                CANCELLED_AT,
                f"cancelled in the shop ({cancelled}); order left out",
                first_row,
                number,
            ),
        )
        return None
    try:
        ordered = created_date(head.get(CREATED_AT, ""))
    except ValueError as exc:
        parsed.issues.append(ImportIssue(CREATED_AT, str(exc), first_row, number))
        parsed.rejected += 1
        return None
    lines: list[dict[str, Any]] = []
    line_rows: list[int] = []
    for k, (row_no, row) in enumerate(group.rows, 1):
        why = _left_out(row)
        if why is not None:
            column, message = why
            warn(parsed, ImportIssue(column, message, row_no, number))
            continue
        lines.append({"line_no": k, "sku": row.get(SKU, ""), "qty": row.get(QTY, "")})
        line_rows.append(row_no)
    if not lines:
        warn(
            parsed, ImportIssue("order", "no line left to take; order left out", first_row, number)
        )
        return None
    email = head.get(EMAIL, "").strip()
    code = head.get(code_column, "").strip() if code_column else email
    name = head.get(BILLING_NAME, "").strip() or head.get(SHIPPING_NAME, "").strip() or email
    return ShopOrder(
        source=source,
        number=number,
        customer={"code": code.lower() if code == email else code, "name": name, "email": email},
        order_date=ordered,
        delivery_date=delivery_by_rule(ordered, lead),
        lines=lines,
        where=Where(row=first_row, lines=tuple(line_rows)),
    )


def _left_out(row: dict[str, str]) -> tuple[str, str] | None:
    """Why a line item is not for bopo (column, message), or None to take it."""
    status = row.get(LINE_FULFILLMENT, "").strip().lower()
    item = row.get(ITEM_NAME, "").strip()
    what = f"{item!r} " if item else ""
    if status == "fulfilled":
        return LINE_FULFILLMENT, f"line {what}already fulfilled by the shop; left out"
    if not row.get(SKU, "").strip():
        return SKU, f"line {what}has no SKU; left out"
    if _false(row.get(REQUIRES_SHIPPING, "")):
        return REQUIRES_SHIPPING, f"line {what}needs no shipping; left out"
    return None


# --- the orders/create webhook -----------------------------------------------------


def webhook_order(
    payload: dict[str, Any], settings: Settings
) -> tuple[ShopOrder | None, list[str]]:
    """The order in an `orders/create` payload, and notes on what was left out.

    None when nothing is to be taken: a cancelled order, or no line to take.
    The line items follow the same rules as the export's rows.
    """
    notes: list[str] = []
    number = str(payload.get("name") or "").strip()
    profile = settings.formats.get(SOURCE)
    source = (profile.source if profile else None) or SOURCE
    if payload.get("cancelled_at"):
        return None, [f"{number}: cancelled in the shop ({payload['cancelled_at']}); left out"]
    name, email = _webhook_customer(payload)
    created = str(payload.get("created_at") or "")
    try:
        ordered: Any = created_date(created)
        delivery: Any = delivery_by_rule(ordered, settings.lead_days(source))
    except ValueError:
        ordered = delivery = created  # validation names it
    lines: list[dict[str, Any]] = []
    items = payload.get("line_items")
    for k, item in enumerate(items if isinstance(items, list) else [], 1):
        if not isinstance(item, dict):
            continue
        row = {
            LINE_FULFILLMENT: str(item.get("fulfillment_status") or ""),
            SKU: str(item.get("sku") or ""),
            ITEM_NAME: str(item.get("name") or item.get("title") or ""),
            REQUIRES_SHIPPING: "false" if item.get("requires_shipping") is False else "true",
        }
        why = _left_out(row)
        if why is not None:
            notes.append(f"{number} line {k}: {why[1]}")
            continue
        lines.append({"line_no": k, "sku": row[SKU], "qty": item.get("quantity")})
    if not lines:
        return None, [*notes, f"{number}: no line left to take; left out"]
    order = ShopOrder(
        source=source,
        number=number,
        customer={"code": email.lower(), "name": name, "email": email},
        order_date=ordered,
        delivery_date=delivery,
        lines=lines,
        where=Where(path="order"),
    )
    return order, notes


def _webhook_customer(payload: dict[str, Any]) -> tuple[str, str]:
    """The customer's name (billing, then shipping address, then the customer record)
    and email address in an `orders/create` payload."""
    found = payload.get("customer")
    customer: dict[str, Any] = found if isinstance(found, dict) else {}
    email = str(payload.get("email") or payload.get("contact_email") or customer.get("email") or "")
    name = next(
        (
            str(a["name"]).strip()
            for a in (payload.get("billing_address"), payload.get("shipping_address"))
            if isinstance(a, dict) and str(a.get("name") or "").strip()
        ),
        " ".join(str(customer.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
        or email,
    )
    return name, email


def matches(header: Iterable[str]) -> bool:
    lowered = {h.strip().lower() for h in header}
    return all(c.lower() in lowered for c in SIGNATURE)
