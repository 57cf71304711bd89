"""Sales-order intake: take orders, assign free stock, link backorders to PO lines.

Intake runs on the change engine, in its fast mode. A batch of orders is taken
in one transaction, in four steps: lock the batch's stock items and read what
else it needs in one round trip, then read (without locks) the open PO lines
of the items it is short of (bopo.db.workset; a small batch on PostgreSQL
reads them, and reserves its ids, in that first round trip); decide every line
in memory with the pure allocation rules, in the batch's order, on that workset
(bopo.domain.intake); reserve ids and queue every row: the orders, lines,
links, audit rows and decision records, and the workset's stock; send the
writes in bulk (a big batch on PostgreSQL decides and writes in parts, a
thread writing one part while the next is decided: _decide_and_write). The
emails that announce the new links are rendered from memory. A single order
costs three round trips on PostgreSQL (read and lock, write, commit); a batch
of 500 about a dozen. Each order is whole or absent:
if a batch fails in the database, its orders are retried one transaction each,
and only the one that fails is rejected.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from bopo.db.audit import insert_audit
from bopo.db.bulk import Writes
from bopo.db.intake import (
    ORDER_COLUMNS,
    BatchRead,
    ensure_customers,
    order_rows,
    read_batch,
    write_with_retries,
)
from bopo.db.links import write_links
from bopo.db.models import (
    AllocationDecision,
    Association,
    PendingEmail,
    SalesOrder,
    SoLine,
)
from bopo.db.queries import stock_positions
from bopo.db.workset import WorksetQuery, load_workset, queue_changes
from bopo.domain.allocation import AllocationRules
from bopo.domain.decisions import DECISION_COLUMNS
from bopo.domain.intake import (
    LINE_COLUMNS,
    AsTaken,
    Intake,
    NewRows,
    TakenOrder,
    customer_changes,
    differences,
    new_orders,
    short_items,
)
from bopo.domain.records import NewLink, PoLineRow
from bopo.domain.templating import EmailEvent
from bopo.domain.workset import Workset
from bopo.errors import FieldError
from bopo.services.common.inputs import NewSalesOrder, NewSalesOrderLine
from bopo.services.common.refusals import refusal
from bopo.services.context import Context
from bopo.services.email.backorder_emails import (
    GATE,
    Announced,
    TemplateRef,
    group_announced,
    templated,
    write_emails,
)
from bopo.services.orders.outcomes import (
    FROM_STOCK,
    LINKED,
    Difference,
    OrderResult,
    OrderStatus,
    decided_outcomes,
    load_line_outcomes,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# Orders per transaction when importing. Each batch locks and loads the open PO
# lines of its short items afresh; bigger batches load them less often, smaller
# ones hold PostgreSQL's row locks (and SQLite's write lock) for less time.
BATCH_SIZE = 5000
# Up to this many lines, a batch on PostgreSQL reads its open PO lines (of all its
# items, not only those it is short of) and reserves ids with its stock lock.
READ_AHEAD_LINES = 200
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
        return write_with_retries(
            ctx.db, lambda conn: _take_batch(conn, ctx, batch, actor, detail), retries=RETRIES
        )
    except (IntegrityError, DataError) as exc:
        if len(batch) == 1:
            order = batch[0]
            log.warning(
                "order %s/%s refused by the database: %s", order.source, order.number, exc.orig
            )
            return [_rejected(order, [FieldError("order", _db_message(exc))])]
        log.info("batch of %d refused (%s); taking its orders one by one", len(batch), exc.orig)
        return [r for order in batch for r in _take_batch_or_each(ctx, [order], actor, detail)]


def _db_message(exc: DBAPIError) -> str:
    """In words: the driver's message names tables and constraints, so it stays in the log."""
    return f"the database refused this order: {refusal(exc).message}"


def _rejected(order: NewSalesOrder, errors: list[FieldError]) -> OrderResult:
    return OrderResult(order.source, order.number, OrderStatus.REJECTED, errors=tuple(errors))


def _key(order: NewSalesOrder) -> tuple[str, str]:
    return (order.source, order.number)


@dataclass
class _Batch(BatchRead):
    """A batch as read (bopo.db.intake.read_batch), its orders, and the PO lines it was
    decided against, as allocation left them (default statuses given)."""

    orders: Sequence[NewSalesOrder] = ()
    po_lines: dict[int, PoLineRow] = field(default_factory=dict)

    @functools.cached_property
    def templates(self) -> dict[int, TemplateRef]:
        """Status id -> the BACK_ORDER template that announces a link under it."""
        return templated(self.gate) if self.po_lines else {}

    def status(self, po_line_id: int) -> int | None:
        return self.po_lines[po_line_id].supply.status_id

    @functools.cached_property
    def status_names(self) -> dict[int, str]:
        return {r[0]: r[1] for r in self.gate}


def _take_batch(
    conn: Connection, ctx: Context, batch: Sequence[NewSalesOrder], actor: str, detail: bool
) -> list[OrderResult]:
    """Read and lock, decide every new order on the batch's workset, write them."""
    now = ctx.clock()
    rules = ctx.rules(conn)
    # A small batch on PostgreSQL reads its supply and reserves its ids with its
    # stock lock: three round trips fewer to a single order.
    ahead = (
        conn.dialect.name == "postgresql"
        and rules.enabled
        and sum(len(o.lines) for o in batch) <= READ_AHEAD_LINES
    )
    r = read_batch(conn, batch, GATE, ahead=ahead)
    read = _Batch(r.stock, r.existing, r.customers, r.gate, r.supply, r.reserved, orders=batch)
    results: list[OrderResult | None] = [None] * len(batch)
    valid, rejected = new_orders(batch, read.existing, read.stock)
    for i, errors in rejected.items():
        results[i] = _rejected(batch[i], errors)
    intake = Intake(_load(conn, rules, read, valid, now, actor), rules)
    read.po_lines = intake.workset.po_lines
    order_ids = _decide_and_write(conn, ctx, read, intake, valid, actor, now)
    if intake.taken:
        said = customer_changes(read.customers, _given_customers(intake.taken, batch))
        for t, order_id in zip(intake.taken, order_ids, strict=True):
            change = said.pop(batch[t.index].customer.code, None)  # told once, with its first
            results[t.index] = _taken(read, t, order_id, change, now.date(), detail)
    if any(r is None for r in results):
        _fill_duplicates(conn, batch, results, read.existing, now.date())
    return [r for r in results if r is not None]


def _load(
    conn: Connection,
    rules: AllocationRules,
    read: _Batch,
    valid: list[int],
    now: datetime,
    actor: str,
) -> Workset:
    """The batch's workset: its stock items, locked already, and (switch on) the open PO
    lines, read without locks, of only those items the batch cannot serve from stock."""
    positions = stock_positions(read.stock.values())
    demand = [(read.stock[line.sku].id, line.qty) for i in valid for line in read.orders[i].lines]
    short = short_items(demand, positions) if rules.enabled else set()
    query = WorksetQuery.of(positions, open_supply=True, supply_items=short, lock_supply=False)
    return load_workset(conn, query, now=now, actor=actor, locked=positions, supply=read.supply)


def _given_customers(
    taken: Sequence[TakenOrder], batch: Sequence[NewSalesOrder]
) -> dict[str, tuple[str, str | None]]:
    """Code -> (name, email) as the last order taken for it gives them: it wins."""
    return {(c := batch[t.index].customer).code: (c.name, c.email) for t in taken}


def _taken(
    read: _Batch, t: TakenOrder, order_id: int, change: str | None, today: date, detail: bool
) -> OrderResult:
    order = read.orders[t.index]
    kinds = tuple(
        LINKED if d.links else d.skip.value if d.skip else FROM_STOCK for d in t.decisions
    )
    return OrderResult(
        order.source,
        order.number,
        OrderStatus.TAKEN,
        order_id,
        tuple(decided_outcomes(order.lines, t.decisions, read.po_lines, today)) if detail else (),
        kinds=kinds,
        warnings=(change,) if change else (),
    )


def _write(
    conn: Connection, ctx: Context, read: _Batch, intake: Intake, actor: str, now: datetime
) -> list[int]:
    """Queue every row of the decided orders, then send them in bulk; return the order
    ids. The workset's writer writes the stock, the links, the audit and the decisions."""
    taken = intake.taken
    writes = Writes(conn)
    made = _make(writes, read, [read.orders[t.index] for t in taken], now, actor)
    order_values, rows = _rows(intake.rules, taken, made)
    _queue_orders(writes, order_values, rows)
    _queue_links(writes, ctx, read, taken, rows.links, made, rows.audit)
    writes.insert_values(AllocationDecision, DECISION_COLUMNS, rows.decisions)
    _queue_stock(writes, intake)
    writes.flush()
    return list(made.order_ids)


# A big batch on PostgreSQL is decided and written this many orders at a time, in
# its one transaction: the next part is decided while the server writes the last.
PIPELINE_ORDERS = 1250


def _decide_and_write(
    conn: Connection,
    ctx: Context,
    read: _Batch,
    intake: Intake,
    valid: Sequence[int],
    actor: str,
    now: datetime,
) -> list[int]:
    """Decide the batch's new orders and write them; return their ids.

    A batch of more than PIPELINE_ORDERS orders on PostgreSQL goes in parts, in
    its one transaction, under the locks it took: while a thread sends one part's
    orders, lines, decision records and stock audit (COPY: the server inserting,
    checking keys, running the triggers), this one decides the next part and makes
    its rows, in memory, without the connection. The links go last, all at once
    (each statement of links updates their PO lines' counts: once a batch, not once
    a part). Every order is decided on the workset as the ones before it left it,
    exactly as if the batch went at once, and the batch is still whole or absent:
    an error in either thread waits for the writer to let go of the connection and
    rolls the transaction back.
    """
    stock = read.stock

    def take(i: int) -> TakenOrder:
        lines = read.orders[i].lines
        return intake.take(i, [(line.line_no, stock[line.sku].id, line.qty) for line in lines])

    if conn.dialect.name != "postgresql" or len(valid) <= PIPELINE_ORDERS:
        for i in valid:
            take(i)
        return _write(conn, ctx, read, intake, actor, now) if intake.taken else []
    writes = Writes(conn)
    links: list[NewLink] = []
    with ThreadPoolExecutor(1, thread_name_prefix="bopo-intake-write") as writer:

        def send(work: Callable[..., T], *args: Any) -> Future[T]:
            # In the caller's context: its audit rows carry its request (bopo.logs).
            return writer.submit(contextvars.copy_context().run, work, *args)

        # The customers stored and ids reserved while the first part is decided.
        making = send(_make, writes, read, [read.orders[i] for i in valid], now, actor)
        sent: Future[None] | None = None
        for start in range(0, len(valid), PIPELINE_ORDERS):
            where = slice(start, start + PIPELINE_ORDERS)
            part = [take(i) for i in valid[where]]
            made = making.result()
            order_values, rows = _rows(intake.rules, part, made[where])
            links += rows.links
            if sent is not None:
                sent.result()  # the last part written (or its error, raised here)
            sent = send(_write_part, writes, order_values, rows)
        assert sent is not None
        sent.result()
    _queue_links(writes, ctx, read, intake.taken, links, made, [])
    _queue_stock(writes, intake)
    writes.flush()
    return list(made.order_ids)


@dataclass(frozen=True)
class _Made:
    """What the rows of taken orders are made with, in their order: the orders, their
    ids and their lines' ids, the customers as stored and their ids, the time and the
    actor."""

    orders: Sequence[NewSalesOrder]
    order_ids: Sequence[int]
    line_ids: Sequence[Sequence[int]]
    customers: dict[str, dict[str, Any]]
    customer_ids: dict[str, int]
    now: datetime
    actor: str

    def __getitem__(self, part: slice) -> _Made:
        return replace(
            self,
            orders=self.orders[part],
            order_ids=self.order_ids[part],
            line_ids=self.line_ids[part],
        )


def _make(
    writes: Writes, read: _Batch, orders: Sequence[NewSalesOrder], now: datetime, actor: str
) -> _Made:
    """The customers of the orders to take stored, and ids for the orders and lines."""
    customers, customer_ids = ensure_customers(writes.conn, orders, read.customers, now)
    counts = [len(o.lines) for o in orders]
    ids = writes.reserve_ids({SalesOrder: len(orders), SoLine: sum(counts)}, read.reserved)
    line_ids = iter(ids[SoLine])
    lines = [[next(line_ids) for _ in range(n)] for n in counts]
    return _Made(orders, ids[SalesOrder], lines, customers, customer_ids, now, actor)


def _write_part(writes: Writes, order_values: list[tuple[Any, ...]], rows: NewRows) -> None:
    """Send a part of a batch (the writer thread's): its orders and lines, their stock
    audit rows and decision records; not its links (_queue_links)."""
    _queue_orders(writes, order_values, rows)
    insert_audit(writes, rows.audit)
    writes.insert_values(AllocationDecision, DECISION_COLUMNS, rows.decisions)
    writes.flush()


def _rows(
    rules: AllocationRules, taken: Sequence[TakenOrder], made: _Made
) -> tuple[list[tuple[Any, ...]], NewRows]:
    """The rows of decided orders: the orders' (ORDER_COLUMNS' values), and their lines,
    links, decision records and audit rows (the stock each order moved)."""
    now, actor = made.now, made.actor
    rows = NewRows(now, actor, rules)
    for t, o, order_id, line_ids in zip(
        taken, made.orders, made.order_ids, made.line_ids, strict=True
    ):
        rows.add(t, order_id, line_ids, (o.source, o.priority.rank, o.delivery_date))
    return order_rows(made.orders, made.order_ids, made.customer_ids, now, actor), rows


def _queue_orders(writes: Writes, order_values: list[tuple[Any, ...]], rows: NewRows) -> None:
    writes.insert_values(SalesOrder, ORDER_COLUMNS, order_values)
    writes.insert_values(SoLine, LINE_COLUMNS, rows.lines)


def _queue_links(
    writes: Writes,
    ctx: Context,
    read: _Batch,
    taken: Sequence[TakenOrder],
    links: list[NewLink],
    made: _Made,
    audit: list[dict[str, Any]],
) -> None:
    """Queue the links of the taken orders (`links`, as NewRows made them) with their
    PO lines' default statuses, their audit rows after `audit`, and the emails
    announcing them (ids reserved here for the links and emails)."""
    linked = [  # each link's order and line, in the order NewRows makes the links
        (read.orders[t.index], line)
        for t in taken
        for line, d in zip(read.orders[t.index].lines, t.decisions, strict=True)
        for _ in d.links
    ]
    emails = {  # (order, template): one email each, counted here to reserve their ids
        (t.index, read.templates[s].id)
        for t in taken
        for d in t.decisions
        for x in d.links
        if (s := read.status(x.po_line_id)) in read.templates
    }
    ids = writes.reserve_ids({Association: len(links), PendingEmail: len(emails)}, read.reserved)
    audit = list(audit)
    write_links(writes, links, ids[Association], actor=made.actor, now=made.now, audit=audit)
    insert_audit(writes, audit)
    if emails:
        announced = _announced(links, ids[Association], linked, read, made.customers)
        groups = group_announced(announced, read.templates)
        write_emails(
            writes,
            ctx,
            groups,
            read.templates,
            ids[PendingEmail],
            event=EmailEvent.INTAKE,
            now=made.now,
        )


def _queue_stock(writes: Writes, intake: Intake) -> None:
    """Queue what the batch changed on its workset besides the rows of its orders: the
    stock assigned (audited per order: NewRows)."""
    changes = intake.workset.changes(stock_action=None, details={})
    changes.new_links, changes.audit = [], []
    queue_changes(writes, changes, [])


def _announced(
    links: list[NewLink],
    association_ids: Sequence[int],
    linked: list[tuple[NewSalesOrder, NewSalesOrderLine]],
    read: _Batch,
    customers: dict[str, dict[str, Any]],
) -> list[Announced]:
    """The links an email announces, as templates show them, from what intake holds:
    no query. In the order `announced` reads them back: order, line, link."""
    rows = []
    for n, association_id, (order, line) in zip(links, association_ids, linked, strict=True):
        status_id = read.status(n.link.po_line_id)
        if status_id not in read.templates:
            continue
        po_line = read.po_lines[n.link.po_line_id]
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
                read.stock[line.sku].name,
                n.link.due_date,
                po_line.po_number,
                po_line.line_no,
                status_id,
                read.status_names.get(status_id),
            )
        )
    rows.sort(key=lambda r: (r.order_id, r.line_no, r.association_id))
    return rows


def _as_taken(order: NewSalesOrder) -> AsTaken:
    return AsTaken(
        order.customer.code,
        order.order_date,
        order.delivery_date,
        {line.line_no: (line.sku, line.qty) for line in order.lines},
    )


def _fill_duplicates(
    conn: Connection,
    batch: Sequence[NewSalesOrder],
    results: list[OrderResult | None],
    existing: dict[tuple[str, str], Any],
    today: date,
) -> None:
    """Orders given again report the order as it already stands; nothing of theirs is
    written. The same content again is a duplicate; other content is a changed order,
    with its differences (bopo.domain.intake.differences)."""
    ids = {k: r.id for k, r in existing.items()}
    as_taken: dict[tuple[str, str], AsTaken] = {}
    for i, r in enumerate(results):
        if r is not None and r.status is OrderStatus.TAKEN and r.id is not None:
            ids[(r.source, r.number)] = r.id  # taken once per call: the first time given
            as_taken[(r.source, r.number)] = _as_taken(batch[i])
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
            taken = AsTaken(
                row.customer,
                row.order_date,
                row.delivery_date,
                {line.line_no: (line.sku, line.qty) for line in lines},
            )
        diff = tuple(Difference(*d) for d in differences(taken, _as_taken(batch[i])))
        results[i] = OrderResult(
            batch[i].source,
            batch[i].number,
            OrderStatus.CHANGED if diff else OrderStatus.DUPLICATE,
            order_id,
            lines,
            differences=diff,
        )
