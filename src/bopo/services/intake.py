"""Sales-order intake: take orders, assign free stock, link backorders to PO lines.

A batch of orders is taken in one transaction, in four steps: lock what the
batch needs with one query per table, in the fixed order (stock items, then
PO lines); decide every line in memory with the pure allocation rules, in the
batch's order; reserve ids and queue every row (decision records included);
send the writes in bulk.
A single order costs five round trips or so; a batch of 500 about a dozen.
Each order is whole or absent: if a batch fails in the database, its orders
are retried one transaction each, and only the one that fails is rejected.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from bopo.db.audit import insert_audit
from bopo.db.bulk import Writes, fetch_all, in_list
from bopo.db.links import write_links
from bopo.db.models import (
    AllocationDecision,
    Association,
    Customer,
    PendingEmail,
    SalesOrder,
    SoLine,
    StockItem,
)
from bopo.db.queries import (
    StockRow,
    SupplyRow,
    by_code_sql,
    ensure_codes,
    open_supply,
    stock_by_sku_sql,
    stock_positions,
    stock_rows,
)
from bopo.domain.allocation import (
    AllocationRules,
    LineDecision,
    PoLineSupply,
    StockPosition,
    allocate_order,
)
from bopo.domain.changes import is_overdue
from bopo.domain.decisions import DecisionKind, decision_row
from bopo.domain.records import NewLink, audit_row
from bopo.domain.statuses import SkipReason
from bopo.domain.templating import EmailEvent
from bopo.errors import FieldError
from bopo.services.backorder_emails import (
    GATE,
    Announced,
    TemplateRef,
    group_announced,
    templated,
    write_emails,
)
from bopo.services.context import Context
from bopo.services.inputs import NewSalesOrder, NewSalesOrderLine
from bopo.services.outcomes import (
    FROM_STOCK,
    LINKED,
    Difference,
    LineOutcome,
    LinkedPart,
    OrderResult,
    OrderStatus,
    linked_parts,
    load_line_outcomes,
)
from bopo.services.refusals import refusal

log = logging.getLogger(__name__)

# Orders per transaction when importing. Each batch locks and loads the open PO
# lines of its short items afresh; bigger batches load them less often, smaller
# ones hold PostgreSQL's row locks (and SQLite's write lock) for less time.
BATCH_SIZE = 5000
CUSTOMER_FIELDS = ("name", "email")  # kept up to date from the orders
RETRIES = 3  # for deadlocks and serialization failures the database resolves by aborting one


def take_order(ctx: Context, order: NewSalesOrder, *, actor: str) -> OrderResult:
    """Take one sales order: its own transaction, the outcome per line."""
    return take_orders(ctx, [order], actor=actor)[0]


def take_orders(
    ctx: Context,
    orders: Sequence[NewSalesOrder],
    *,
    actor: str,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    detail: bool = True,
) -> list[OrderResult]:
    """Take orders in the order given, each atomically. An order taken before (same
    source + number) changes nothing: with the same content it is a duplicate, with
    other content a changed order carrying its differences.

    Without `detail`, a taken order's result says each line's outcome in one
    word (`kinds`) instead of in full (`lines`): what a bulk import needs.
    """
    results: list[OrderResult] = []
    for start in range(0, len(orders), batch_size):
        batch = orders[start : start + batch_size]
        results.extend(_take_batch_or_each(ctx, batch, actor, detail))
        if progress:
            progress(len(batch))
    return results


def _take_batch_or_each(
    ctx: Context, batch: Sequence[NewSalesOrder], actor: str, detail: bool = True
) -> list[OrderResult]:
    """A batch refused for its data is retried order by order; other errors stop the intake."""
    try:
        return _with_retries(ctx, batch, actor, detail)
    except (IntegrityError, DataError) as exc:
        if len(batch) == 1:
            order = batch[0]
            log.warning(
                "order %s/%s refused by the database: %s", order.source, order.number, exc.orig
            )
            return [_rejected(order, [FieldError("order", _db_message(exc))])]
        log.info("batch of %d refused (%s); taking its orders one by one", len(batch), exc.orig)
        return [r for order in batch for r in _take_batch_or_each(ctx, [order], actor, detail)]


def _with_retries(
    ctx: Context, batch: Sequence[NewSalesOrder], actor: str, detail: bool
) -> list[OrderResult]:
    for attempt in range(1, RETRIES + 1):
        try:
            with ctx.db.write() as conn:
                return _take_batch(conn, ctx, batch, actor, detail)
        except OperationalError as exc:
            if attempt == RETRIES or not _is_transient(exc):
                raise
            log.info("retrying a batch after a transient error: %s", exc.orig)
        except IntegrityError as exc:
            # Another transaction took one of these orders after this one looked for
            # them (the same order sent twice at once). Read again: now it is there,
            # and the order is a duplicate, or changed, like any order taken before.
            if attempt == RETRIES or not _is_order_number_clash(exc):
                raise
            log.info("an order of the batch was taken meanwhile; reading again")
    raise AssertionError("unreachable")


_ORDER_NUMBER_UNIQUE = "uq_sales_orders_number_source"


def _is_order_number_clash(exc: IntegrityError) -> bool:
    """A sales order's source + number, stored by another transaction since it was read."""
    diag = getattr(exc.orig, "diag", None)  # psycopg names the constraint
    if diag is not None:
        return getattr(diag, "constraint_name", None) == _ORDER_NUMBER_UNIQUE
    return "sales_orders.number, sales_orders.source" in str(exc.orig)  # SQLite: the columns


def _is_transient(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    return code in {"40001", "40P01"}  # serialization failure, deadlock detected


def _db_message(exc: DBAPIError) -> str:
    """In words: the driver's message names tables and constraints, so it stays in the log."""
    return f"the database refused this order: {refusal(exc).message}"


def _rejected(order: NewSalesOrder, errors: list[FieldError]) -> OrderResult:
    return OrderResult(order.source, order.number, OrderStatus.REJECTED, errors=tuple(errors))


def _key(order: NewSalesOrder) -> tuple[str, str]:
    return (order.source, order.number)


@functools.cache
def _reads(dialect: str) -> tuple[Any, Any, Any]:
    """The reads every batch starts with, built once: orders that exist already
    (with what a re-sent order is compared on), the stock items (locked, in id
    order), the customers as stored."""
    existing = (
        select(
            SalesOrder.source,
            SalesOrder.number,
            SalesOrder.id,
            Customer.code.label("customer"),
            SalesOrder.order_date,
            SalesOrder.delivery_date,
        )
        .join(Customer, Customer.id == SalesOrder.customer_id)
        .where(in_list(dialect, SalesOrder.number, "numbers"))
    )
    customers = by_code_sql(dialect, Customer, CUSTOMER_FIELDS)
    return existing, stock_by_sku_sql(dialect), customers


@dataclass
class _Taken:
    """An order decided in memory, waiting to be written."""

    index: int
    order: NewSalesOrder
    item_ids: list[int]
    decisions: list[LineDecision]
    stock_before: dict[int, int]  # item id -> assigned before this order
    stock_after: dict[int, int]


def _take_batch(
    conn: Connection, ctx: Context, batch: Sequence[NewSalesOrder], actor: str, detail: bool
) -> list[OrderResult]:
    now = ctx.clock()
    rules = ctx.rules(conn)
    results: list[OrderResult | None] = [None] * len(batch)

    # One round trip for the reads that do not depend on each other: the stock
    # items (locked), orders that exist already, the customers as stored, the
    # statuses that announce a backorder by email. The lock comes first: a
    # transaction taking the same order holds it until it commits, and the
    # orders are read once it has, so they include that one.
    keys = {_key(o) for o in batch}
    existing_sql, stock_sql, customers_sql = _reads(conn.dialect.name)
    stock_found, existing_rows, known_customers, gate = fetch_all(
        conn,
        [
            (stock_sql, {"skus": sorted({line.sku for order in batch for line in order.lines})}),
            (existing_sql, {"numbers": sorted({number for _, number in keys})}),
            (customers_sql, {"codes": sorted({o.customer.code for o in batch})}),
            (GATE, {}),
        ],
    )
    existing = {(r.source, r.number): r for r in existing_rows if (r.source, r.number) in keys}
    fresh: list[int] = []
    seen: set[tuple[str, str]] = set()
    for i, order in enumerate(batch):
        if _key(order) not in existing and _key(order) not in seen:
            fresh.append(i)
        seen.add(_key(order))

    stock = stock_rows(stock_found)
    valid = []
    for i in fresh:
        unknown = [
            FieldError(f"lines[{n}].sku", f"unknown SKU {line.sku!r}", f"line {line.line_no}")
            for n, line in enumerate(batch[i].lines)
            if line.sku not in stock
        ]
        if unknown:
            results[i] = _rejected(batch[i], unknown)
        else:
            valid.append(i)

    positions = stock_positions(stock.values())
    original = {item: p.assigned for item, p in positions.items()}
    supply, labels = _load_supply(conn, rules, batch, valid, stock, positions)

    taken: list[_Taken] = []
    for i in valid:
        order = batch[i]
        item_ids = [stock[line.sku].id for line in order.lines]
        before = {item: positions[item].assigned for item in item_ids}
        decisions = allocate_order(
            [(item, line.qty) for item, line in zip(item_ids, order.lines, strict=True)],
            positions,
            supply,
            rules,
        )
        after = {item: positions[item].assigned for item in item_ids}
        taken.append(_Taken(i, order, item_ids, decisions, before, after))

    if taken:
        order_ids = _write(
            conn,
            ctx,
            rules,
            taken,
            _Supply(stock, labels, supply, gate),
            positions,
            original,
            known_customers,
            actor,
            now,
        )
        said = customer_changes(known_customers, [t.order for t in taken])
        for t, order_id in zip(taken, order_ids, strict=True):
            kinds = tuple(
                LINKED if d.links else d.skip.value if d.skip else FROM_STOCK for d in t.decisions
            )
            lines = tuple(_outcomes(t, labels, now.date())) if detail else ()
            change = said.pop(t.order.customer.code, None)  # told once, with its first order
            results[t.index] = OrderResult(
                t.order.source,
                t.order.number,
                OrderStatus.TAKEN,
                order_id,
                lines,
                kinds=kinds,
                warnings=(change,) if change else (),
            )

    if any(r is None for r in results):
        _fill_duplicates(conn, batch, results, existing, now.date())
    return [r for r in results if r is not None]


@dataclass
class _Supply:
    """What the batch was decided against, as its emails show it."""

    stock: dict[str, StockRow]
    labels: dict[int, SupplyRow]
    lines: dict[int, list[PoLineSupply]]  # as allocation left them: default statuses given
    gate: Sequence[Any]  # rows of backorder_emails.GATE

    @functools.cached_property
    def templates(self) -> dict[int, TemplateRef]:
        """Status id -> the BACK_ORDER template that announces a link under it."""
        return templated(self.gate) if self.lines else {}

    @functools.cached_property
    def status(self) -> dict[int, int | None]:
        """Each PO line's status as allocation left it (default statuses given)."""
        return {s.po_line_id: s.status_id for ss in self.lines.values() for s in ss}

    @functools.cached_property
    def status_names(self) -> dict[int, str]:
        return {r[0]: r[1] for r in self.gate}


def _load_supply(
    conn: Connection,
    rules: AllocationRules,
    batch: Sequence[NewSalesOrder],
    valid: list[int],
    stock: dict[str, StockRow],
    positions: dict[int, StockPosition],
) -> tuple[dict[int, list[PoLineSupply]], dict[int, SupplyRow]]:
    """Lock the open PO lines of only those items the batch cannot serve from stock."""
    if not rules.enabled:
        return {}, {}
    demand: Counter[int] = Counter()
    for i in valid:
        for line in batch[i].lines:
            demand[stock[line.sku].id] += line.qty
    short = {item for item, qty in demand.items() if qty > positions[item].free}
    supply: dict[int, list[PoLineSupply]] = defaultdict(list)
    labels: dict[int, SupplyRow] = {}
    for row in open_supply(conn, short):
        supply[row.stock_item_id].append(row.supply())
        labels[row.id] = row
    return supply, labels


def customer_changes(known: Sequence[Any], orders: Sequence[NewSalesOrder]) -> dict[str, str]:
    """What taking the orders changes about customers stored already, by code, in words
    (`customer C1: email a@x → b@x`): orders keep a customer's name and email up to
    date, and say so. The last order given for a customer wins, as when written."""
    given = {o.customer.code: o.customer for o in orders}
    said = {}
    for row in known:
        new = given.get(row.code)
        if new is None:
            continue
        parts = [
            f"{name} {old} → {value}"
            for name, old, value in (("name", row.name, new.name), ("email", row.email, new.email))
            if old != value
        ]
        if parts:
            said[row.code] = f"customer {row.code}: {', '.join(parts)}"
    return said


def _write(
    conn: Connection,
    ctx: Context,
    rules: AllocationRules,
    taken: list[_Taken],
    against: _Supply,
    positions: dict[int, StockPosition],
    original: dict[int, int],
    known_customers: Sequence[Any],
    actor: str,
    now: datetime,
) -> list[int]:
    """Queue every row of the decided orders, then send them in bulk; return the order ids."""
    writes = Writes(conn)
    customers = {  # the last one given wins
        t.order.customer.code: {
            "name": t.order.customer.name,
            "email": t.order.customer.email,
            "created_at": now,
        }
        for t in taken
    }
    customer_ids = ensure_codes(
        conn, Customer, customers, update=CUSTOMER_FIELDS, known=known_customers
    )
    status, by_status = against.status, against.templates
    emails = {  # (order, template): one email each, counted here to reserve their ids
        (t.index, by_status[s].id)
        for t in taken
        for d in t.decisions
        for x in d.links
        if (s := status[x.po_line_id]) in by_status
    }
    ids = writes.reserve_ids(
        {
            SalesOrder: len(taken),
            SoLine: sum(len(t.decisions) for t in taken),
            Association: sum(len(d.links) for t in taken for d in t.decisions),
            PendingEmail: len(emails),
        }
    )

    order_ids = ids[SalesOrder]
    writes.insert(
        SalesOrder,
        [
            {
                "id": order_id,
                "source": t.order.source,
                "number": t.order.number,
                "customer_id": customer_ids[t.order.customer.code],
                "order_date": t.order.order_date,
                "delivery_date": t.order.delivery_date,
                "status": "open",
                "created_at": now,
                "created_by": actor,
                "priority": t.order.priority.rank,
            }
            for t, order_id in zip(taken, order_ids, strict=True)
        ],
    )

    line_rows: list[dict[str, Any]] = []
    links: list[NewLink] = []
    linked: list[tuple[NewSalesOrder, NewSalesOrderLine]] = []  # each link's order and line
    audit: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    line_ids = iter(ids[SoLine])
    for t, order_id in zip(taken, order_ids, strict=True):
        for line, item, d in zip(t.order.lines, t.item_ids, t.decisions, strict=True):
            line_id = next(line_ids)
            line_rows.append(
                {
                    "id": line_id,
                    "sales_order_id": order_id,
                    "line_no": line.line_no,
                    "stock_item_id": item,
                    "qty": line.qty,
                    "qty_assigned": d.from_stock,
                    "qty_shipped": 0,
                    "qty_cancelled": 0,
                    "backorder_reason": d.skip.value if d.skip else None,
                    "backorder_since": now if d.skip else None,
                }
            )
            for link in d.links:
                links.append(NewLink(line_id, order_id, link))
                linked.append((t.order, line))
            if d.considered or (d.skip and d.skip is not SkipReason.FEATURE_OFF):
                records.append(
                    decision_row(
                        so_line_id=line_id,
                        at=now,
                        kind=DecisionKind.INTAKE,
                        policy=rules.policy,
                        allow_split=rules.allow_split,
                        decision=d,
                    )
                )
        for item in dict.fromkeys(t.item_ids):
            if t.stock_after[item] != t.stock_before[item]:
                audit.append(
                    audit_row(
                        now,
                        actor,
                        "stock.assign",
                        "stock_item",
                        item,
                        {"assigned": t.stock_before[item]},
                        {"assigned": t.stock_after[item], "sales_order_id": order_id},
                    )
                )
    writes.insert(SoLine, line_rows)
    writes.update_by_id(
        StockItem,
        [
            {"id": item, "assigned": p.assigned}
            for item, p in sorted(positions.items())
            if p.assigned != original[item]
        ],
    )
    write_links(
        writes,
        links,
        ids[Association],
        actor=actor,
        now=now,
        audit=audit,
    )
    if emails:
        rows = _announced(links, ids[Association], linked, against, customers)
        groups = group_announced(rows, by_status)
        write_emails(
            writes, ctx, groups, by_status, ids[PendingEmail], event=EmailEvent.INTAKE, now=now
        )
    insert_audit(writes, audit)
    writes.insert(AllocationDecision, records)
    writes.flush()
    return order_ids


def _announced(
    links: list[NewLink],
    association_ids: Sequence[int],
    linked: list[tuple[NewSalesOrder, NewSalesOrderLine]],
    against: _Supply,
    customers: dict[str, dict[str, Any]],
) -> list[Announced]:
    """The links an email announces, as templates show them, from what intake holds:
    no query. In the order `announced` reads them back: order, line, link."""
    rows = []
    for n, association_id, (order, line) in zip(links, association_ids, linked, strict=True):
        status_id = against.status[n.link.po_line_id]
        if status_id not in against.templates:
            continue
        po_line = against.labels[n.link.po_line_id]
        customer = customers[order.customer.code]  # as stored: the batch's last word
        rows.append(
            Announced(
                association_id,
                n.link.qty,
                n.sales_order_id,
                order.number,
                order.source,
                order.order_date,
                order.delivery_date,
                order.customer.code,
                customer["name"],
                customer["email"],
                line.line_no,
                line.sku,
                against.stock[line.sku].name,
                n.link.due_date,
                po_line.po_number,
                po_line.line_no,
                status_id,
                against.status_names.get(status_id),
            )
        )
    rows.sort(key=lambda r: (r.order_id, r.line_no, r.association_id))
    return rows


def _outcomes(t: _Taken, labels: dict[int, SupplyRow], today: date) -> list[LineOutcome]:
    out = []
    for line, d in zip(t.order.lines, t.decisions, strict=True):
        if len(d.links) == 1:
            x = d.links[0]
            row = labels[x.po_line_id]
            out.append(
                LineOutcome(
                    line.line_no,
                    line.sku,
                    line.qty,
                    d.from_stock,
                    x.qty,
                    row.po_number,
                    row.line_no,
                    x.due_date,
                    overdue=is_overdue(x.due_date, today),
                )
            )
        elif d.links:
            parts = [
                LinkedPart(
                    labels[x.po_line_id].po_number,
                    labels[x.po_line_id].line_no,
                    x.qty,
                    x.due_date,
                    is_overdue(x.due_date, today),
                )
                for x in d.links
            ]
            out.append(
                LineOutcome(line.line_no, line.sku, line.qty, d.from_stock, **linked_parts(parts))
            )
        else:
            out.append(
                LineOutcome(
                    line.line_no,
                    line.sku,
                    line.qty,
                    d.from_stock,
                    skipped=d.skip.value if d.skip else None,
                )
            )
    return out


@dataclass(frozen=True, slots=True)
class _AsTaken:
    """What an order given again is compared with: the order as it was taken."""

    customer: str
    order_date: date
    delivery_date: date
    lines: dict[int, tuple[str, int]]  # line_no -> (sku, qty as ordered)

    @classmethod
    def of(cls, order: NewSalesOrder) -> _AsTaken:
        return cls(
            order.customer.code,
            order.order_date,
            order.delivery_date,
            {line.line_no: (line.sku, line.qty) for line in order.lines},
        )


def _differences(taken: _AsTaken, given: NewSalesOrder) -> list[Difference]:
    """How `given` differs from the order as taken, field by field, line by line.

    The customer is compared by code: its name and email belong to the customer,
    kept up to date by new orders. Priority and status are the operators' to
    change after intake, so they are not compared either.
    """
    out = []
    if given.customer.code != taken.customer:
        out.append(Difference("customer", taken.customer, given.customer.code))
    for name, was, now in (
        ("order_date", taken.order_date, given.order_date),
        ("delivery_date", taken.delivery_date, given.delivery_date),
    ):
        if was != now:
            out.append(Difference(name, was.isoformat(), now.isoformat()))
    lines = {line.line_no: (line.sku, line.qty) for line in given.lines}
    for no in sorted(taken.lines.keys() | lines.keys()):
        was_line, now_line = taken.lines.get(no), lines.get(no)
        if was_line is None or now_line is None:
            out.append(
                Difference(
                    f"line {no}",
                    f"{was_line[1]} x {was_line[0]}" if was_line else None,
                    f"{now_line[1]} x {now_line[0]}" if now_line else None,
                )
            )
            continue
        if was_line[0] != now_line[0]:
            out.append(Difference(f"line {no} sku", was_line[0], now_line[0]))
        if was_line[1] != now_line[1]:
            out.append(Difference(f"line {no} qty", str(was_line[1]), str(now_line[1])))
    return out


def _fill_duplicates(
    conn: Connection,
    batch: Sequence[NewSalesOrder],
    results: list[OrderResult | None],
    existing: dict[tuple[str, str], Any],
    today: date,
) -> None:
    """Orders given again report the order as it already stands; nothing of theirs is
    written. The same content again is a duplicate; other content is a changed order,
    with its differences."""
    ids = {k: r.id for k, r in existing.items()}
    as_taken: dict[tuple[str, str], _AsTaken] = {}
    for i, r in enumerate(results):
        if r is not None and r.status is OrderStatus.TAKEN and r.id is not None:
            ids[(r.source, r.number)] = r.id  # taken once per call: the first time given
            as_taken[(r.source, r.number)] = _AsTaken.of(batch[i])
    missing = [i for i, r in enumerate(results) if r is None]
    outcomes = load_line_outcomes(
        conn, {ids[k] for i in missing if (k := _key(batch[i])) in ids}, today
    )
    for i in missing:
        key = _key(batch[i])
        order_id = ids.get(key)
        if order_id is None:  # given twice in one call, and the first was rejected
            results[i] = _rejected(
                batch[i], [FieldError("number", "given twice; the first was rejected")]
            )
            continue
        lines = tuple(outcomes.get(order_id, ()))
        taken = as_taken.get(key)
        if taken is None:
            row = existing[key]
            taken = _AsTaken(
                row.customer,
                row.order_date,
                row.delivery_date,
                {line.line_no: (line.sku, line.qty) for line in lines},
            )
        diff = _differences(taken, batch[i])
        results[i] = OrderResult(
            batch[i].source,
            batch[i].number,
            OrderStatus.CHANGED if diff else OrderStatus.DUPLICATE,
            order_id,
            lines,
            differences=tuple(diff),
        )
