"""Random sequences of everything that moves supply and demand, with the books checked
after every step: stock, links, worklist and audit trail must always agree.
"""

from __future__ import annotations

import contextlib
import shutil
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Connection, func, insert, select, update

from bopo.config import BackorderSettings, DatabaseSettings, Settings
from bopo.db.engine import Database
from bopo.db.models import (
    AllocationDecision,
    Association,
    AuditEvent,
    PoLine,
    PoLineStatus,
    PurchaseOrder,
    Receipt,
    ReceiptLine,
    SalesOrder,
    SoLine,
    StockItem,
)
from bopo.errors import BopoError
from bopo.services.common.inputs import NewStockItem
from bopo.services.context import Context
from bopo.services.orders import demand_changes, despatch, sales
from bopo.services.orders.intake import take_order
from bopo.services.supply import catalog, changes, goods_in, receipt_reversal
from bopo.services.worklist import backorders, manual_links
from tests.clock import Clock
from tests.conftest import _empty_pg
from tests.helpers import day, given_po, given_status, given_stock, order

SKUS = ("A", "B")
PRIORITIES = ("low", "normal", "normal", "high", "urgent")
STATUSES = ("ON ORDER", "DELAYED")
LATE = "late supply"
pick = st.integers(min_value=0, max_value=1_000)


def set_po_line_status(ctx: Context, po_number: str, line_no: int, code: str | None) -> None:
    """Set a PO line's status directly, as a status change would, with its audit row."""
    with ctx.db.write() as conn:
        status_id = (
            conn.scalar(select(PoLineStatus.id).where(PoLineStatus.code == code)) if code else None
        )
        po_line_id = conn.scalar(
            select(PoLine.id)
            .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
            .where(PurchaseOrder.number == po_number, PoLine.line_no == line_no)
        )
        conn.execute(update(PoLine).where(PoLine.id == po_line_id).values(status_id=status_id))
        conn.execute(
            insert(AuditEvent).values(
                at=ctx.clock(),
                actor="test",
                action="po_line.status",
                entity="po_line",
                entity_id=po_line_id,
                before=None,
                after={"status_id": status_id},
            )
        )


class Lifecycle(RuleBasedStateMachine):
    fresh_database: Callable[[], str]  # set by the test for each backend

    def __init__(self) -> None:
        super().__init__()
        self.url = self.fresh_database()
        self.ctx: Context | None = None
        self.orders: list[str] = []
        self.lines: dict[str, int] = {}  # order number -> line count
        self.pos: list[tuple[str, int]] = []  # (PO number, line count)
        self.split = False

    @property
    def c(self) -> Context:
        assert self.ctx is not None
        return self.ctx

    @initialize(enabled=st.booleans(), default_status=st.booleans(), split=st.booleans())
    def set_the_scene(self, enabled: bool, default_status: bool, split: bool) -> None:
        self.split = split
        settings_ = Settings(
            database=DatabaseSettings(url=self.url),
            backorders=BackorderSettings(
                allocate_existing_pos=enabled,
                default_po_line_status="ON ORDER" if default_status else None,
                allow_split=split,
            ),
        )
        for code in STATUSES:
            given_status(Context(Database(self.url), settings_, clock=Clock(ticking=True)), code)
        self.ctx = Context(Database(self.url), settings_, clock=Clock(ticking=True))
        given_stock(self.c, A=3, B=0)
        given_po(self.c, "PO-1", ("A", 6, day(5), "ON ORDER"), ("B", 4, day(3)))
        given_po(self.c, "PO-2", ("A", 4, day(10), "DELAYED"))
        self.pos = [("PO-1", 2), ("PO-2", 1)]

    def teardown(self) -> None:
        if self.ctx is not None:
            self.ctx.db.dispose()

    def _try(self, action: Callable[[], Any]) -> None:
        """Run a step; a refusal (bopo's own errors) is fine, anything else is a bug."""
        with contextlib.suppress(BopoError):
            action()

    def _po(self, i: int, line: int) -> tuple[str, int]:
        number, count = self.pos[i % len(self.pos)]
        return number, line % count + 1

    def _so(self, i: int, line: int) -> tuple[str, int]:
        number = self.orders[i % len(self.orders)]
        return number, line % self.lines[number] + 1

    # --- demand --------------------------------------------------------------------------

    @rule(
        lines=st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 5)), min_size=1, max_size=2),
        delivery=st.integers(0, 15),
        priority=st.sampled_from(PRIORITIES),
    )
    def take_an_order(self, lines: list[tuple[str, int]], delivery: int, priority: str) -> None:
        number = f"SO-{len(self.orders) + 1}"
        new = order(number, *lines, delivery=day(delivery), priority=priority)
        take_order(self.c, new, actor="import")
        self.orders.append(number)
        self.lines[number] = len(lines)

    # Cancelling is one rule among many, so a run does not end with everything cancelled.
    @precondition(lambda self: self.orders)
    @rule(i=pick, line=pick, whole=st.booleans())
    def a_customer_cancels(self, i: int, line: int, whole: bool) -> None:
        number, n = self._so(i, line)
        if whole:
            self._try(lambda: demand_changes.cancel_sales_order(self.c, number, actor="clerk"))
        else:
            self._try(lambda: demand_changes.cancel_so_line(self.c, number, n, actor="clerk"))

    @precondition(lambda self: self.orders)
    @rule(i=pick, line=pick, less=st.integers(1, 4))
    def reduce_an_order_line(self, i: int, line: int, less: int) -> None:
        number, n = self._so(i, line)
        with self.c.db.read() as conn:
            current = conn.scalar(
                select(SoLine.qty - SoLine.qty_cancelled)
                .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
                .where(SalesOrder.number == number, SoLine.line_no == n)
            )
        qty = max(0, (current or 0) - less)
        self._try(lambda: demand_changes.change_so_line_qty(self.c, number, n, qty, actor="clerk"))

    @precondition(lambda self: self.orders)
    @rule(i=pick, priority=st.sampled_from(PRIORITIES))
    def push_an_order_forward_or_back(self, i: int, priority: str) -> None:
        number, _ = self._so(i, 0)
        sales.set_order_priority(self.c, number, priority, actor="clerk")

    @precondition(lambda self: self.orders)
    @rule(i=pick)
    def ship_an_order(self, i: int) -> None:
        number, _ = self._so(i, 0)
        self._try(lambda: despatch.ship(self.c, number, actor="warehouse"))

    # --- supply --------------------------------------------------------------------------

    @rule(sku=st.sampled_from(SKUS), qty=st.integers(1, 8), due=st.integers(0, 15))
    def order_from_a_supplier(self, sku: str, qty: int, due: int) -> None:
        number = f"PO-{len(self.pos) + 1}"
        given_po(self.c, number, (sku, qty, day(due), "ON ORDER"))
        self.pos.append((number, 1))

    @rule(i=pick, line=pick, qty=st.integers(1, 7))
    def receive_goods(self, i: int, line: int, qty: int) -> None:
        po, n = self._po(i, line)
        self._try(lambda: goods_in.receive(self.c, po, n, qty, actor="warehouse"))

    @rule(i=pick)
    def reverse_a_receipt(self, i: int) -> None:
        receipts = goods_in.list_receipts(self.c, limit=None)
        if receipts:
            chosen = receipts[i % len(receipts)].id
            self._try(lambda: receipt_reversal.reverse_receipt(self.c, chosen, actor="warehouse"))

    @rule(i=pick, line=pick, qty=st.integers(1, 10))
    def change_a_po_line_qty(self, i: int, line: int, qty: int) -> None:
        po, n = self._po(i, line)
        self._try(lambda: changes.change_po_line_qty(self.c, po, n, qty, actor="buyer"))

    @rule(i=pick, line=pick, how=st.sampled_from(("line", "short", "whole")))
    def a_supplier_lets_us_down(self, i: int, line: int, how: str) -> None:
        po, n = self._po(i, line)
        if how == "line":
            self._try(lambda: changes.cancel_po_line(self.c, po, n, actor="buyer"))
        elif how == "short":
            self._try(lambda: changes.close_po_line_short(self.c, po, n, actor="buyer"))
        else:
            self._try(lambda: changes.cancel_purchase_order(self.c, po, actor="buyer"))

    @rule(i=pick, line=pick, due=st.integers(0, 15))
    def move_a_due_date(self, i: int, line: int, due: int) -> None:
        po, n = self._po(i, line)
        self._try(lambda: changes.change_due_date(self.c, po, n, day(due), actor="buyer"))

    @rule(i=pick, line=pick, status=st.sampled_from((None, *STATUSES)))
    def change_a_status(self, i: int, line: int, status: str | None) -> None:
        po, n = self._po(i, line)
        set_po_line_status(self.c, po, n, status)

    @rule(sku=st.sampled_from(SKUS), extra=st.integers(0, 3))
    def count_the_stock(self, sku: str, extra: int) -> None:
        with self.c.db.read() as conn:
            on_hand = conn.scalar(select(StockItem.on_hand).where(StockItem.sku == sku))
        assert on_hand is not None
        item = NewStockItem(sku=sku, name=f"Item {sku}", on_hand=on_hand + extra)
        catalog.upsert_stock_items(self.c, [item], actor="counter")

    # --- people at the worklist ------------------------------------------------------------

    @precondition(lambda self: self.orders)
    @rule(i=pick, line=pick, p=pick, pl=pick, informed=st.booleans())
    def link_by_hand(self, i: int, line: int, p: int, pl: int, informed: bool) -> None:
        """Half the time a person picks from the candidates shown; else anything."""
        number, n = self._so(i, line)
        po, po_n = self._po(p, pl)
        if informed:
            offers = [c for c in manual_links.list_candidates(self.c) if c.candidates]
            if offers:
                chosen = offers[i % len(offers)]
                number, n = chosen.line.number, chosen.line.line_no
                target = chosen.candidates[p % len(chosen.candidates)]
                po, po_n = target.po_number, target.line_no
        self._try(lambda: manual_links.link_line(self.c, number, n, po, po_n, actor="ann"))

    @precondition(lambda self: self.orders)
    @rule(i=pick, line=pick, informed=st.booleans())
    def unlink_by_hand(self, i: int, line: int, informed: bool) -> None:
        number, n = self._so(i, line)
        if informed:
            with self.c.db.read() as conn:
                linked = conn.execute(
                    select(SalesOrder.number, SoLine.line_no)
                    .join(SoLine, SoLine.sales_order_id == SalesOrder.id)
                    .join(Association, Association.so_line_id == SoLine.id)
                    .where(Association.state == "active")
                    .order_by(SoLine.id)
                ).all()
            if linked:
                number, n = linked[i % len(linked)]
        self._try(lambda: manual_links.unlink_line(self.c, number, n, actor="ann"))

    @rule()
    def retry_the_worklist(self) -> None:
        backorders.allocate_worklist(self.c, actor="system")

    # --- the books ---------------------------------------------------------------------------

    @invariant()
    def the_books_agree(self) -> None:
        if self.ctx is None:
            return
        with self.c.db.read() as conn:
            check_books(conn, split=self.split)


def check_books(conn: Connection, *, split: bool = False) -> None:
    items = {r.id: r for r in conn.execute(select(StockItem))}
    po_lines = {r.id: r for r in conn.execute(select(PoLine))}
    orders = {r.id: r for r in conn.execute(select(SalesOrder))}
    so_lines = {r.id: r for r in conn.execute(select(SoLine))}
    active: dict[int, list[Any]] = defaultdict(list)  # SO line -> its active links
    for r in conn.execute(select(Association).where(Association.state == "active")):
        active[r.so_line_id].append(r)

    assigned: dict[int, int] = defaultdict(int)
    for s in so_lines.values():
        assigned[s.stock_item_id] += s.qty_assigned
    for item in items.values():
        assert item.on_hand >= 0
        assert 0 <= item.assigned <= item.on_hand
        assert item.assigned == assigned[item.id], f"item {item.sku}: assigned out of step"

    # The items' waiting counters (kept by triggers) against the lines, counted afresh.
    waits: dict[int, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for line in so_lines.values():
        if line.backorder_reason not in (None, LATE):
            lines, units = waits[line.stock_item_id]
            remaining = line.qty - line.qty_shipped - line.qty_assigned - line.qty_cancelled
            waits[line.stock_item_id] = (lines + 1, units + remaining)
    for item in items.values():
        counted = (item.waiting_lines, item.waiting_units)
        assert counted == waits[item.id], f"item {item.sku}: waiting counters out of step"

    associated: dict[int, int] = defaultdict(int)
    for links in active.values():
        assert len({a.po_line_id for a in links}) == len(links), "two links to one PO line"
        for a in links:
            associated[a.po_line_id] += a.qty
    for p in po_lines.values():
        outstanding = max(0, p.qty_ordered - p.qty_delivered - p.qty_cancelled)
        assert p.qty_associated == associated[p.id]
        assert associated[p.id] <= outstanding, f"PO line {p.id} over-associated"

    # Each line's copies of its order's fields (written by intake, kept by triggers), on
    # which the worklist is served, against the order.
    for s in so_lines.values():
        o = orders[s.sales_order_id]
        copies = (s.order_source, s.order_priority, s.order_delivery_date)
        assert copies == (o.source, o.priority, o.delivery_date), f"SO line {s.id}: stale copies"

    for s in so_lines.values():
        links = active.get(s.id, [])
        remaining = s.qty - s.qty_shipped - s.qty_assigned - s.qty_cancelled
        linked = sum(a.qty for a in links)
        waiting = remaining if not links and s.backorder_reason not in (None, LATE) else 0
        where = f"SO line {s.id} ({s.backorder_reason})"
        assert s.qty == s.qty_shipped + s.qty_assigned + s.qty_cancelled + linked + waiting, where
        if len(links) > 1:
            assert split, f"{where}: split over several PO lines with allow_split off"
        if links:
            delivery = orders[s.sales_order_id].delivery_date
            for link in links:
                po = po_lines[link.po_line_id]
                assert po.stock_item_id == s.stock_item_id
                assert po.qty_cancelled == 0, f"{where}: linked to a cancelled PO line"
            assert orders[s.sales_order_id].status == "open", f"{where}: its order is closed"
            assert s.backorder_reason in (None, LATE), where
            if s.backorder_reason == LATE:
                dues = [po_lines[link.po_line_id].due_date for link in links]
                assert any(d is not None and d > delivery for d in dues), where
        elif remaining == 0:
            assert s.backorder_reason is None, where
        if orders[s.sales_order_id].status != "open":
            assert remaining == 0 or orders[s.sales_order_id].status == "open", where

    # Every link was decided somewhere, and the decision was recorded with its PO line.
    chosen = {
        (r.so_line_id, r.candidates[k])
        for r in conn.execute(select(AllocationDecision.so_line_id, AllocationDecision.candidates))
        for k in range(0, len(r.candidates), 4)
        if r.candidates[k + 3] > 0
    }
    for links in active.values():
        for a in links:
            assert (a.so_line_id, a.po_line_id) in chosen, f"association {a.id} has no record"

    received = dict(
        conn.execute(
            select(Receipt.po_line_id, func.sum(Receipt.qty))
            .where(Receipt.reversed_at.is_(None))  # a reversed receipt took its units back
            .group_by(Receipt.po_line_id)
        ).all()
    )
    for p in po_lines.values():
        assert p.qty_delivered == received.get(p.id, 0)
    shared = dict(
        conn.execute(
            select(ReceiptLine.receipt_id, func.sum(ReceiptLine.qty)).group_by(
                ReceiptLine.receipt_id
            )
        ).all()
    )
    for r in conn.execute(select(Receipt.id, Receipt.qty, Receipt.to_stock)):
        assert r.qty == r.to_stock + shared.get(r.id, 0)

    _audit_explains_stock(conn, items)


def _audit_explains_stock(conn: Connection, items: dict[int, Any]) -> None:
    """Replaying the stock items' audit rows, in order, gives today's on-hand and assigned."""
    books: dict[int, dict[str, int]] = defaultdict(lambda: {"on_hand": 0, "assigned": 0})
    for e in conn.execute(
        select(AuditEvent).where(AuditEvent.entity == "stock_item").order_by(AuditEvent.id)
    ):
        state = books[e.entity_id]
        for key in ("on_hand", "assigned"):
            if e.before and key in e.before:
                assert state[key] == e.before[key], f"audit {e.id} ({e.action}): {key} gap"
            if e.after and key in e.after:
                state[key] = e.after[key]
    for item in items.values():
        assert books[item.id] == {"on_hand": item.on_hand, "assigned": item.assigned}


MACHINE_SETTINGS = settings(
    max_examples=25,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.slow
def test_supply_and_demand_keep_the_books_straight(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    made = [0]

    def fresh() -> str:
        made[0] += 1
        if db_url.startswith("sqlite"):
            path = tmp_path / f"machine-{made[0]}.db"
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
            return f"sqlite:///{path}"
        _empty_pg(db_url)
        return db_url

    machine = type("LifecycleOn", (Lifecycle,), {"fresh_database": staticmethod(fresh)})
    run_state_machine_as_test(machine, settings=MACHINE_SETTINGS)


def test_the_books_check_notices_a_stock_gap(ctx: Context) -> None:
    """The checker itself can fail: a hand-made gap in the stock books is caught."""
    given_stock(ctx, A=2)
    with ctx.db.write() as conn:
        conn.execute(update(StockItem).values(assigned=1))
    with ctx.db.read() as conn, pytest.raises(AssertionError, match="assigned out of step"):
        check_books(conn)


def test_the_books_check_notices_an_unexplained_stock_movement(ctx: Context) -> None:
    given_stock(ctx, A=2)
    with ctx.db.write() as conn:
        conn.execute(update(StockItem).values(on_hand=5))
    with ctx.db.read() as conn, pytest.raises(AssertionError):
        check_books(conn)


def test_the_books_check_notices_a_line_out_of_step_with_its_order(ctx: Context) -> None:
    given_stock(ctx, A=0)
    take_order(ctx, order("SO-1", ("A", 2)), actor="web")
    with ctx.db.write() as conn:
        conn.execute(update(SoLine).values(order_priority=3))
    with ctx.db.read() as conn, pytest.raises(AssertionError, match="stale copies"):
        check_books(conn)
