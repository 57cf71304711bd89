"""Any other CSV or .xlsx, through a mapping profile (`[format:NAME]` in the INI).

Each field of a sales order names its column in the file, or holds a constant
in double quotes. Dates are read with the profile's `date_format` (ISO dates,
and real dates in a workbook, are always understood). Without a delivery-date
column, the order date plus the lead time gives it. Rows of one order follow
each other and repeat the order's fields; lines without a `line_no` column are
numbered in file order.
"""

from __future__ import annotations

from collections.abc import Callable
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
    read_date,
)
from bopo.services.files.formats.reading import Table
from bopo.services.files.parsing import ImportIssue, Parsed, Where

_ORDER_FIELDS = (
    "customer_code",
    "customer_name",
    "customer_email",
    "order_date",
    "delivery_date",
    "priority",
)


def columns(profile: FormatProfile) -> list[str]:
    """The file columns the profile reads."""
    fields = ("order_number", *_ORDER_FIELDS, "line_no", "sku", "qty")
    return [c for f in fields if (c := profile.column(f)) is not None]


def missing(profile: FormatProfile, header: list[str]) -> list[str]:
    have = {h.strip().lower() for h in header}
    return [c for c in columns(profile) if c.lower() not in have]


def parse_mapped(
    table: Table,
    settings: Settings,
    profile: FormatProfile,
    emit: Callable[[NewSalesOrder, Where], object] | None = None,
) -> Parsed[NewSalesOrder]:
    parsed: Parsed[NewSalesOrder] = Parsed()
    by_lower = {c.lower(): c for c in columns(profile)}
    header = [by_lower.get(h.strip().lower(), h.strip()) for h in table.header]
    source = profile.source or profile.name
    lead = settings.lead_days(source)
    names = {
        "number": profile.column("order_number") or "order_number",
        "customer.code": profile.column("customer_code") or profile.column("customer_email") or "",
        "customer.name": profile.column("customer_name") or "customer_name",
        "customer.email": profile.column("customer_email") or "customer_email",
        "order_date": profile.column("order_date") or "order_date",
        "delivery_date": profile.column("delivery_date") or "delivery_date",
        "line_no": profile.column("line_no") or "line_no",
        "sku": profile.column("sku") or "sku",
        "qty": profile.column("qty") or "qty",
        "priority": profile.column("priority") or "priority",
    }
    same = [c for f in _ORDER_FIELDS if (c := profile.column(f)) is not None]
    number_column = profile.column("order_number")
    rows = keyed_rows(header, table.rows, parsed)
    if number_column is None:  # one order per file, numbered by a constant
        constant = profile.constant("order_number") or ""
        rows = ((n, {**row, "\0number": constant}) for n, row in rows)
        number_column = "\0number"
    for group in group_rows(rows, number_column, parsed, same=same):
        order = _order(group, parsed, profile, source, lead, names)
        if order is not None:
            finish(parsed, order, names, emit)
    return parsed


def _value(profile: FormatProfile, fieldname: str, row: dict[str, str]) -> str:
    column = profile.column(fieldname)
    if column is not None:
        return row.get(column, "").strip()
    return profile.constant(fieldname) or ""


def _order(
    group: Group,
    parsed: Parsed[NewSalesOrder],
    profile: FormatProfile,
    source: str,
    lead: int,
    names: dict[str, str],
) -> ShopOrder | None:
    number = group.key
    first_row, head = group.rows[0]
    if group.problems:
        parsed.issues.extend(group.problems)
        parsed.rejected += 1
        return None
    formats = [profile.date_format] if profile.date_format else []
    try:
        ordered: Any = read_date(_value(profile, "order_date", head), formats)
    except ValueError as exc:
        parsed.issues.append(ImportIssue(names["order_date"], str(exc), first_row, number))
        parsed.rejected += 1
        return None
    given = _value(profile, "delivery_date", head)
    try:
        delivery: Any = read_date(given, formats) if given else delivery_by_rule(ordered, lead)
    except ValueError as exc:
        parsed.issues.append(ImportIssue(names["delivery_date"], str(exc), first_row, number))
        parsed.rejected += 1
        return None
    email = _value(profile, "customer_email", head)
    code = _value(profile, "customer_code", head) or email.lower()
    lines = [
        {
            "line_no": _value(profile, "line_no", row) or k,
            "sku": _value(profile, "sku", row),
            "qty": _value(profile, "qty", row),
        }
        for k, (_, row) in enumerate(group.rows, 1)
    ]
    return ShopOrder(
        source=source,
        number=number,
        customer={
            "code": code,
            "name": _value(profile, "customer_name", head) or code,
            "email": email,
        },
        order_date=ordered,
        delivery_date=delivery,
        lines=lines,
        where=Where(row=first_row, lines=tuple(r for r, _ in group.rows)),
        priority=_value(profile, "priority", head) or None,
    )
