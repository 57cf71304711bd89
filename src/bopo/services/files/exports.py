"""The lists people take into a spreadsheet: the worklist, open PO lines with what is
linked to them, the sales orders waiting, and the outbox, as CSV or .xlsx.

Each list takes the filters of its page and its API route and has no row limit:
rows are read a page at a time (the lists' own queries, in their own order) and
written as they come, so a large export streams instead of filling memory.

Writing (exports_writing) makes plain text of any cell a spreadsheet would run as a
formula. The open PO lines have their own query (exports_po_lines).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date
from typing import Any

from bopo.errors import FieldError, InvalidInput
from bopo.services.common.pages import MAX_LIMIT, Page
from bopo.services.context import Context
from bopo.services.email import outbox
from bopo.services.files.exports_po_lines import PO_LINE_BATCH, PO_LINE_COLUMNS, po_lines_export
from bopo.services.files.exports_writing import (
    CSV_TYPE,
    XLSX_TYPE,
    Export,
    ExportFormat,
    _iso,
    csv_chunks,
    neutralise,
    write,
    xlsx_bytes,
)
from bopo.services.orders import sales
from bopo.services.worklist import backorders

# Writing (exports_writing) and the PO lines list (exports_po_lines) are beside; re-exported.
__all__ = [
    "CSV_TYPE",
    "LISTS",
    "PO_LINE_BATCH",
    "PO_LINE_COLUMNS",
    "XLSX_TYPE",
    "Export",
    "ExportFormat",
    "build",
    "csv_chunks",
    "emails_export",
    "filter_names",
    "neutralise",
    "po_lines_export",
    "waiting_orders_export",
    "worklist_export",
    "write",
    "xlsx_bytes",
]

LISTS = ("worklist", "po-lines", "waiting-orders", "emails")


def _pages(fetch: Callable[[int, int], Page[Any]]) -> Iterator[Any]:
    offset = 0
    while True:
        page = fetch(MAX_LIMIT, offset)
        yield from page.items
        offset += len(page.items)
        if len(page.items) < MAX_LIMIT or offset >= page.total:
            return


# --- the lists ------------------------------------------------------------------------

WORKLIST_COLUMNS = (
    "source",
    "order_number",
    "line_no",
    "sku",
    "item_name",
    "waiting",
    "reason",
    "since",
    "delivery_date",
    "customer_code",
    "customer_name",
    "po_number",
    "po_line_no",
    "expected",
)


def worklist_export(
    ctx: Context,
    *,
    sku: str | None = None,
    reason: str | None = None,
    customer: str | None = None,
    source: str | None = None,
    delivery_from: date | None = None,
    delivery_to: date | None = None,
) -> Export:
    def rows() -> Iterator[tuple[Any, ...]]:
        for b in _pages(
            lambda limit, offset: backorders.find_backorders(
                ctx,
                sku=sku,
                reason=reason,
                customer=customer,
                source=source,
                delivery_from=delivery_from,
                delivery_to=delivery_to,
                limit=limit,
                offset=offset,
            )
        ):
            yield (
                b.source,
                b.number,
                b.line_no,
                b.sku,
                b.item_name,
                b.waiting,
                b.reason,
                _iso(b.since),
                _iso(b.delivery_date),
                b.customer_code,
                b.customer_name,
                b.po_number,
                b.po_line_no,
                _iso(b.expected),
            )

    return Export("worklist", WORKLIST_COLUMNS, rows())


WAITING_COLUMNS = (
    "source",
    "order_number",
    "status",
    "priority",
    "customer_code",
    "customer_name",
    "order_date",
    "delivery_date",
    "lines",
    "waiting_lines",
)


def waiting_orders_export(
    ctx: Context,
    *,
    source: str | None = None,
    customer: str | None = None,
    sku: str | None = None,
    priority: str | None = None,
    delivery_from: date | None = None,
    delivery_to: date | None = None,
    waiting: bool | None = True,
    status: str | None = None,
    number: str | None = None,
    ordered_from: date | None = None,
    ordered_to: date | None = None,
) -> Export:
    """Sales orders with a line on the worklist (all orders with `waiting` None)."""

    def rows() -> Iterator[tuple[Any, ...]]:
        for o in _pages(
            lambda limit, offset: sales.find_sales_orders(
                ctx,
                source=source,
                customer=customer,
                sku=sku,
                priority=priority,
                delivery_from=delivery_from,
                delivery_to=delivery_to,
                waiting=waiting,
                status=status,
                number=number,
                ordered_from=ordered_from,
                ordered_to=ordered_to,
                limit=limit,
                offset=offset,
            )
        ):
            yield (
                o.source,
                o.number,
                o.status,
                o.priority,
                o.customer_code,
                o.customer_name,
                _iso(o.order_date),
                _iso(o.delivery_date),
                o.lines,
                o.waiting_lines,
            )

    return Export("waiting-orders" if waiting else "sales-orders", WAITING_COLUMNS, rows())


EMAIL_COLUMNS = (
    "id",
    "state",
    "to",
    "subject",
    "sales_order",
    "template",
    "event",
    "attempts",
    "last_error",
    "created_at",
    "sent_at",
    "next_attempt_at",
)


def emails_export(
    ctx: Context,
    *,
    state: str | None = None,
    event: str | None = None,
    sales_order_id: int | None = None,
) -> Export:
    def rows() -> Iterator[tuple[Any, ...]]:
        for e in _pages(
            lambda limit, offset: outbox.find_emails(
                ctx,
                state=state,
                event=event,
                sales_order_id=sales_order_id,
                limit=limit,
                offset=offset,
            )
        ):
            yield (
                e.id,
                e.state,
                e.to_address,
                e.subject,
                e.sales_order,
                e.template,
                e.event,
                e.attempts,
                e.last_error,
                _iso(e.created_at),
                _iso(e.sent_at),
                _iso(e.next_attempt_at),
            )

    # the mailer's own states and events are checked before the first row is asked for
    if state is not None or event is not None:
        outbox.find_emails(ctx, state=state, event=event, limit=1)
    return Export("emails", EMAIL_COLUMNS, rows())


# --- filters given as text (the CLI, the web pages) ------------------------------------

_FILTERS: dict[str, tuple[str, ...]] = {
    "worklist": ("sku", "reason", "customer", "source", "delivery_from", "delivery_to"),
    "po-lines": ("supplier", "sku", "status", "number", "due_before"),
    "waiting-orders": (
        "source",
        "customer",
        "sku",
        "priority",
        "delivery_from",
        "delivery_to",
        "status",
    ),
    "emails": ("state", "event", "sales_order_id"),
}
_DATES = {"delivery_from", "delivery_to", "due_before"}


def build(ctx: Context, name: str, filters: Mapping[str, str | None]) -> Export:
    """A list by name, its filters given as text; unknown or bad ones are refused by name."""
    if name not in LISTS:
        raise InvalidInput([FieldError("list", f"unknown list {name!r}; use {', '.join(LISTS)}")])
    chosen: dict[str, Any] = {}
    problems = []
    for key, value in filters.items():
        if value is None or not str(value).strip():
            continue
        value = str(value).strip()
        if key not in _FILTERS[name]:
            continue  # a page's own parameters (offset, ...) are not filters
        if key in _DATES:
            try:
                chosen[key] = date.fromisoformat(value)
            except ValueError:
                problems.append(FieldError(key, f"must be a date as YYYY-MM-DD, not {value!r}"))
        elif key == "sales_order_id":
            if not value.isdigit():
                problems.append(FieldError(key, "must be a whole number"))
            else:
                chosen[key] = int(value)
        else:
            chosen[key] = value
    if problems:
        raise InvalidInput(problems)
    makers: dict[str, Callable[..., Export]] = {
        "worklist": worklist_export,
        "po-lines": po_lines_export,
        "waiting-orders": waiting_orders_export,
        "emails": emails_export,
    }
    return makers[name](ctx, **chosen)


def filter_names(name: str) -> tuple[str, ...]:
    return _FILTERS[name]
