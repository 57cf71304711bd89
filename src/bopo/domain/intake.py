"""Intake's pure side: new orders decided on the batch's workset, the rows they leave to
write once their ids are reserved, and how an order given again differs from the
order as it was taken.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bopo.domain.allocation import (
    AllocationRules,
    LineDecision,
    PoLineSupply,
    StockPosition,
    allocate_order,
)
from bopo.domain.decisions import DecisionKind, decision_values, policy_code
from bopo.domain.records import NewLink, audit_row
from bopo.domain.statuses import SkipReason
from bopo.domain.workset import Workset
from bopo.errors import FieldError


def new_orders(
    orders: Sequence[Any], taken_before: Collection[tuple[str, str]], skus: Collection[str]
) -> tuple[list[int], dict[int, list[FieldError]]]:
    """Of a batch's orders (with source, number and lines), the indexes of those to
    take (the first of each number not taken before) and the errors of those refused
    for an unknown SKU. The others are given again: see `differences`."""
    valid = []
    rejected = {}
    seen: set[tuple[str, str]] = set()
    for i, order in enumerate(orders):
        key = (order.source, order.number)
        if key in taken_before or key in seen:
            continue
        seen.add(key)
        unknown = [
            FieldError(f"lines[{n}].sku", f"unknown SKU {line.sku!r}", f"line {line.line_no}")
            for n, line in enumerate(order.lines)
            if line.sku not in skus
        ]
        if unknown:
            rejected[i] = unknown
        else:
            valid.append(i)
    return valid, rejected


def short_items(demand: Iterable[tuple[int, int]], stock: Mapping[int, StockPosition]) -> set[int]:
    """The items whose (item id, qty) demand is more than their free stock: only their
    open PO lines are needed."""
    total: Counter[int] = Counter()
    for item, qty in demand:
        total[item] += qty
    return {item for item, qty in total.items() if qty > stock[item].free}


@dataclass
class TakenOrder:
    """An order decided in memory, waiting to be written: `index` in its batch."""

    index: int
    lines: list[tuple[int, int, int]]  # (line_no, item id, qty)
    decisions: list[LineDecision]
    stock_before: dict[int, int]  # item id -> assigned before this order
    stock_after: dict[int, int]


class Intake:
    """A batch's new orders, each allocated in turn on the workset's stock and PO lines."""

    def __init__(self, workset: Workset, rules: AllocationRules) -> None:
        self.workset = workset
        self.rules = rules
        # Built once for the batch: allocation changes these PoLineSupply rows in place.
        self.supply: dict[int, list[PoLineSupply]] = workset.supply()
        self.taken: list[TakenOrder] = []

    def take(self, index: int, lines: Sequence[tuple[int, int, int]]) -> TakenOrder:
        """Allocate an order's (line_no, item id, qty) lines in line order: free stock
        first, then (switch on) PO lines; the rest waits with its reason."""
        stock = self.workset.stock
        items = [item for _, item, _ in lines]
        before = {item: stock[item].assigned for item in items}
        decisions = allocate_order(
            [(item, qty) for _, item, qty in lines], stock, self.supply, self.rules
        )
        after = {item: stock[item].assigned for item in items}
        taken = TakenOrder(index, list(lines), decisions, before, after)
        self.taken.append(taken)
        return taken


# The so_lines columns of NewRows.lines, in order.
LINE_COLUMNS = (
    "id",
    "sales_order_id",
    "line_no",
    "stock_item_id",
    "qty",
    "qty_assigned",
    "qty_shipped",
    "qty_cancelled",
    "backorder_reason",
    "backorder_since",
    "order_source",
    "order_priority",
    "order_delivery_date",
)


@dataclass
class NewRows:
    """The rows of taken orders, with their reserved ids: SO lines (as LINE_COLUMNS'
    values), new links, audit rows (stock moved by each order) and decision records
    (as DECISION_COLUMNS' values). Tuples, not dicts: a bulk import makes one of each
    per line."""

    now: datetime
    actor: str
    rules: AllocationRules
    lines: list[tuple[Any, ...]] = field(default_factory=list)
    links: list[NewLink] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[tuple[Any, ...]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._kind = DecisionKind.INTAKE.value
        self._code = policy_code(self.rules.policy, self.rules.allow_split)
        self._day = self.now.toordinal()

    def add(
        self,
        t: TakenOrder,
        order_id: int,
        line_ids: Sequence[int],
        copied: tuple[str, int, date],
    ) -> None:
        """Rows of an order taken as `order_id`, its lines with `line_ids`; `copied`:
        the order's source, priority rank and delivery date, which its lines carry."""
        now, lines, links, decisions = self.now, self.lines, self.links, self.decisions
        kind, code, day, policy = self._kind, self._code, self._day, self.rules.policy
        for (line_no, item, qty), d, line_id in zip(t.lines, t.decisions, line_ids, strict=True):
            skip = d.skip
            lines.append(
                (
                    line_id,
                    order_id,
                    line_no,
                    item,
                    qty,
                    d.from_stock,
                    0,
                    0,
                    skip.value if skip else None,
                    now if skip else None,
                    *copied,
                )
            )
            for link in d.links:
                links.append(NewLink(line_id, order_id, link))
            if d.considered or (skip and skip is not SkipReason.FEATURE_OFF):
                decisions.append(decision_values(line_id, now, kind, code, d, policy, day))
        before, after = t.stock_before, t.stock_after
        for item in dict.fromkeys(item for _, item, _ in t.lines):
            if after[item] != before[item]:
                self.audit.append(
                    audit_row(
                        now,
                        self.actor,
                        "stock.assign",
                        "stock_item",
                        item,
                        {"assigned": before[item]},
                        {"assigned": after[item], "sales_order_id": order_id},
                    )
                )


@dataclass(frozen=True, slots=True)
class AsTaken:
    """What an order given again is compared with: the order as it was taken."""

    customer: str
    order_date: date
    delivery_date: date
    lines: dict[int, tuple[str, int]]  # line_no -> (sku, qty as ordered)


Difference = tuple[str, str | None, str | None]  # (field, as taken, as given)


def differences(taken: AsTaken, given: AsTaken) -> list[Difference]:
    """How `given` differs from the order as taken, field by field, line by line.

    The customer is compared by code: its name and email belong to the customer,
    kept up to date by new orders. Priority and status are the operators' to
    change after intake, so they are not compared either.
    """
    out: list[Difference] = []
    if given.customer != taken.customer:
        out.append(("customer", taken.customer, given.customer))
    for name, was, now in (
        ("order_date", taken.order_date, given.order_date),
        ("delivery_date", taken.delivery_date, given.delivery_date),
    ):
        if was != now:
            out.append((name, was.isoformat(), now.isoformat()))
    for no in sorted(taken.lines.keys() | given.lines.keys()):
        was_line, now_line = taken.lines.get(no), given.lines.get(no)
        if was_line is None or now_line is None:
            out.append(
                (
                    f"line {no}",
                    f"{was_line[1]} x {was_line[0]}" if was_line else None,
                    f"{now_line[1]} x {now_line[0]}" if now_line else None,
                )
            )
            continue
        if was_line[0] != now_line[0]:
            out.append((f"line {no} sku", was_line[0], now_line[0]))
        if was_line[1] != now_line[1]:
            out.append((f"line {no} qty", str(was_line[1]), str(now_line[1])))
    return out


def customer_changes(
    known: Sequence[Any], given: Mapping[str, tuple[str, str | None]]
) -> dict[str, str]:
    """What taking orders changes about customers stored already (`known` rows with
    code, name and email), by code, in words (`customer C1: email a@x → b@x`);
    `given`: code -> (name, email) as the batch's last order for it says."""
    said = {}
    for row in known:
        new = given.get(row.code)
        if new is None:
            continue
        parts = [
            f"{name} {old} → {value}"
            for name, old, value in (("name", row.name, new[0]), ("email", row.email, new[1]))
            if old != value
        ]
        if parts:
            said[row.code] = f"customer {row.code}: {', '.join(parts)}"
    return said
