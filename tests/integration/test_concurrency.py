"""Many orders at the same moment never over-associate a PO line, lose an order or a unit."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from bopo.db.models import (
    Association,
    PendingEmailAssociation,
    PoLine,
    SalesOrder,
    SoLine,
    StockItem,
)
from bopo.db.queries import lock_stock_by_sku
from bopo.services.context import Context
from bopo.services.orders.intake import take_order
from bopo.services.orders.outcomes import OrderStatus
from bopo.services.supply.status_change import set_po_line_status
from tests.helpers import day, given_po, given_status, given_stock, given_template, order

SKUS = ["A", "B", "C"]


def _scene(ctx: Context) -> None:
    given_stock(ctx, A=20, B=0, C=5)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 60, day(9), "ON ORDER"), ("B", 40, day(3), "ON ORDER"))
    given_po(ctx, "PO-2", ("A", 30, day(4), "ON ORDER"), ("C", 50, day(6), "ON ORDER"))
    given_po(ctx, "PO-3", ("B", 80, day(12), "ON ORDER"), ("C", 10, day(2)))


def _run(ctx: Context, threads: int, per_thread: int) -> list[OrderStatus]:
    def worker(w: int) -> list[OrderStatus]:
        rng = random.Random(w)
        statuses = []
        for n in range(per_thread):
            skus = rng.sample(SKUS, rng.randint(1, 3))
            o = order(
                f"T{w}-{n}",
                *[(s, rng.randint(1, 3)) for s in skus],
                delivery=day(rng.randint(1, 20)),
                customer=f"C{rng.randint(1, 5)}",
            )
            statuses.append(take_order(ctx, o, actor=f"thread-{w}").status)
        return statuses

    with ThreadPoolExecutor(threads) as pool:
        return [s for chunk in pool.map(worker, range(threads)) for s in chunk]


def _check_books(ctx: Context, expected_orders: int) -> None:
    with ctx.db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(SalesOrder)) == expected_orders
        active = (
            select(Association.po_line_id, func.sum(Association.qty).label("qty"))
            .where(Association.state == "active")
            .group_by(Association.po_line_id)
            .subquery()
        )
        for line in conn.execute(
            select(
                PoLine.id,
                PoLine.qty_ordered,
                PoLine.qty_delivered,
                PoLine.qty_cancelled,
                PoLine.qty_associated,
                func.coalesce(active.c.qty, 0),
            ).outerjoin(active, active.c.po_line_id == PoLine.id)
        ):
            outstanding = line.qty_ordered - line.qty_delivered - line.qty_cancelled
            assert line.qty_associated == line[5], "counter differs from the associations"
            assert line.qty_associated <= outstanding, "over-associated"
        linked = (
            select(Association.so_line_id, Association.qty)
            .where(Association.state == "active")
            .subquery()
        )
        for so_line in conn.execute(
            select(
                SoLine.qty,
                SoLine.qty_assigned,
                SoLine.backorder_reason,
                func.coalesce(linked.c.qty, 0),
            ).outerjoin(linked, linked.c.so_line_id == SoLine.id)
        ):
            waiting = so_line.qty - so_line.qty_assigned - so_line[3]
            assert waiting >= 0
            assert (waiting > 0) == (so_line.backorder_reason is not None)
            assert not (so_line[3] and waiting), "a linked line carries its whole backorder"
        for item in conn.execute(select(StockItem.id, StockItem.on_hand, StockItem.assigned)):
            total = conn.scalar(
                select(func.coalesce(func.sum(SoLine.qty_assigned), 0)).where(
                    SoLine.stock_item_id == item.id
                )
            )
            assert item.assigned == total <= item.on_hand


@pytest.mark.postgres_only
@pytest.mark.slow
def test_eight_threads_taking_two_thousand_orders_keep_the_books_straight(
    make_ctx,  # type: ignore[no-untyped-def]
) -> None:
    ctx = make_ctx(default_po_line_status="ON ORDER")
    _scene(ctx)
    statuses = _run(ctx, threads=8, per_thread=250)
    assert statuses.count(OrderStatus.TAKEN) == 2000
    _check_books(ctx, 2000)
    with ctx.db.read() as conn:  # the contended lines really were contended and filled
        full = conn.scalar(
            select(func.count())
            .select_from(PoLine)
            .where(PoLine.qty_associated >= PoLine.qty_ordered - 3)
        )
    assert (full or 0) >= 4


def test_concurrent_writers_on_either_database_are_serialised_safely(make_ctx) -> None:  # type: ignore[no-untyped-def]
    ctx = make_ctx(default_po_line_status="ON ORDER")
    _scene(ctx)
    statuses = _run(ctx, threads=4, per_thread=60)
    assert statuses.count(OrderStatus.TAKEN) == 240
    _check_books(ctx, 240)


@pytest.mark.postgres_only
def test_a_status_change_waits_for_an_intake_holding_the_stock_item(make_ctx) -> None:  # type: ignore[no-untyped-def]
    """Intake emails by the status it read under the stock item's lock; a change to a
    templated status emails the links it sees. The change must wait for the intake,
    or a link made under the old status would never be announced."""
    ctx = make_ctx()
    given_stock(ctx, A=0)
    given_status(ctx, "QUIET")
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("A", 50, day(9), "QUIET"))

    with ThreadPoolExecutor(1) as pool, ctx.db.write() as conn:
        lock_stock_by_sku(conn, {"A"})  # as intake holds it while it decides and writes
        change = pool.submit(set_po_line_status, ctx, "PO-1", 1, "ON ORDER", actor="test")
        time.sleep(0.5)
        assert not change.done()
    assert change.result().changed

    take_order(ctx, order("SO-1", ("A", 1)), actor="test")  # linked under the new status
    with ctx.db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(PendingEmailAssociation)) == 1
