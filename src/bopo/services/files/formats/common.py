"""What every shop format shares: rows grouped into orders, dates read, orders validated.

An adapter reads a shop's table into `ShopOrder`s, each row keeping its number
in the shop's file; `finish` validates an order as bopo's own sales order and
hands it on with its place, so that intake reports every problem against the
shop's file and takes each order whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any

from pydantic import ValidationError

from bopo.services.common.inputs import NewSalesOrder
from bopo.services.files.parsing import ImportIssue, Parsed, Where, validation_issues

Row = dict[str, str]


def keyed_rows(
    header: Sequence[str],
    rows: Iterable[tuple[int, list[str]]],
    parsed: Parsed[Any],
    keep: Collection[str] | None = None,
) -> Iterable[tuple[int, Row]]:
    """Rows as {column: value}; a row of the wrong width is reported and left out.

    With `keep`, a row holds only those of its columns (a shop's export has dozens
    an adapter never reads); the columns are picked once, not on every row.
    """
    width = len(header)
    names: Sequence[str] = header
    pick: Callable[[list[str]], Sequence[str]] = _as_is
    if keep is not None:
        at = [i for i, h in enumerate(header) if h in keep]
        names = [header[i] for i in at]
        pick = _picker(at)
    for row_no, values in rows:
        if len(values) < width and all(not v.strip() for v in values[width:]):
            values = values + [""] * (width - len(values))
        elif len(values) > width and all(not v.strip() for v in values[width:]):
            values = values[:width]
        if len(values) != width:
            parsed.issues.append(
                ImportIssue("row", f"has {len(values)} fields; the header has {width}", row_no)
            )
            parsed.rejected += 1
            continue
        yield row_no, dict(zip(names, pick(values), strict=True))


def _as_is(values: list[str]) -> list[str]:
    return values


def _picker(at: list[int]) -> Callable[[list[str]], Sequence[str]]:
    """The values at these places of a row, as a sequence (itemgetter's, or a small one)."""
    if len(at) > 1:
        return itemgetter(*at)
    if at:
        i = at[0]
        return lambda values: (values[i],)
    return lambda values: ()


@dataclass
class Group:
    """The rows of one order, in file order."""

    key: str
    rows: list[tuple[int, Row]] = field(default_factory=list)
    problems: list[ImportIssue] = field(default_factory=list)

    @property
    def first_row(self) -> int:
        return self.rows[0][0]


def group_rows(
    rows: Iterable[tuple[int, Row]],
    key_column: str,
    parsed: Parsed[Any],
    *,
    same: Sequence[str] = (),
) -> list[Group]:
    """Rows grouped by order number, in the order the orders first appear.

    An order's rows must follow each other: rows that come back after another
    order reject the whole order (it may be two orders under one number). A later
    row may leave the order's fields (`same`) empty, as Shopify does, but not
    give them other values.
    """
    groups: dict[str, Group] = {}
    last: str | None = None
    for row_no, row in rows:
        key = row.get(key_column, "").strip()
        if not key:
            parsed.issues.append(ImportIssue(key_column, "is required", row_no))
            parsed.rejected += 1
            last = None
            continue
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(key)
        elif last != key:
            group.problems.append(
                ImportIssue(
                    key_column,
                    f"rows of this order are apart (first at row {group.first_row}); "
                    "an order's rows must follow each other",
                    row_no,
                    key,
                )
            )
        elif same:
            head = group.rows[0][1]
            group.problems.extend(
                ImportIssue(
                    col, f"differs from row {group.first_row} of the same order", row_no, key
                )
                for col in same
                if row.get(col, "").strip()
                and row.get(col, "").strip() != head.get(col, "").strip()
            )
        group.rows.append((row_no, row))
        last = key
    return list(groups.values())


def warn(parsed: Parsed[Any], issue: ImportIssue) -> None:
    parsed.warnings.append(str(issue))


def read_date(value: str, formats: Sequence[str] = ()) -> date:
    """A date from an ISO date or timestamp (in its own time zone), or the formats given."""
    text = value.strip()
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        pass
    shown = " or ".join([*formats, "YYYY-MM-DD"])
    raise ValueError(f"must be a date as {shown}, not {value!r}")


def delivery_by_rule(order_date: date, lead_days: int) -> date:
    """The documented rule for files without a delivery date: order date + lead days."""
    return order_date + timedelta(days=lead_days)


@dataclass
class ShopOrder:
    """An order as a shop's file gives it, ready to become bopo's NewSalesOrder."""

    source: str
    number: str
    customer: dict[str, Any]
    order_date: Any
    delivery_date: Any
    lines: list[dict[str, Any]]
    where: Where
    priority: Any = None


def finish(
    parsed: Parsed[NewSalesOrder],
    order: ShopOrder,
    names: dict[str, str],
    emit: Callable[[NewSalesOrder, Where], object] | None = None,
) -> None:
    """Validate an order as bopo's own; bad values are named by the shop's columns."""
    raw = {
        "source": order.source,
        "number": order.number,
        "customer": order.customer,
        "order_date": order.order_date,
        "delivery_date": order.delivery_date,
        "lines": order.lines,
        "priority": order.priority,
    }
    try:
        validated = NewSalesOrder.model_validate(raw)
    except ValidationError as exc:
        # one column may fill two fields (the email is also the customer code): say it once
        issues = validation_issues(exc, order.where, order.number, names)
        parsed.issues.extend(dict.fromkeys(issues))
        parsed.rejected += 1
        return
    if emit is None:
        parsed.items.append((validated, order.where))
    else:
        emit(validated, order.where)


def column_of(header: Sequence[str], *names: str) -> str | None:
    """The header's spelling of the first of these column names found (any case)."""
    lowered = {h.strip().lower(): h for h in header}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None
