"""The same new order sent several times at once: one is taken, every other gets the
duplicate (or changed) answer, never a database error, never counted as rejected."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from bopo.db.models import SalesOrder, SoLine, StockItem
from bopo.services.context import Context
from bopo.services.files.imports import ImportSummary, import_sales_orders
from bopo.services.orders.intake import take_order
from bopo.services.orders.outcomes import OrderStatus
from tests.helpers import given_stock, order

pytestmark = pytest.mark.postgres_only  # SQLite's writers queue on one lock: no race there

SENDERS = 6
T = TypeVar("T")


def _at_once(make_ctx: Callable[..., Context], send: Callable[[Context, int], T]) -> list[T]:
    """Each sender on its own context (its own connections), all let go together."""
    contexts = [make_ctx() for _ in range(SENDERS)]
    for c in contexts:  # connect first, so the race is in the sending, not the connecting
        with c.db.read():
            pass
    start = threading.Barrier(SENDERS)

    def sender(n: int) -> T:
        start.wait()
        return send(contexts[n], n)

    with ThreadPoolExecutor(SENDERS) as pool:
        return list(pool.map(sender, range(SENDERS)))


def _orders(ctx: Context) -> tuple[int, int, int]:
    with ctx.db.read() as conn:
        return (
            conn.scalar(select(func.count()).select_from(SalesOrder)) or 0,
            conn.scalar(select(func.count()).select_from(SoLine)) or 0,
            conn.scalar(select(func.sum(StockItem.assigned))) or 0,
        )


def test_the_same_order_sent_at_once_is_taken_once_and_a_duplicate_for_the_others(
    ctx: Context, make_ctx: Callable[..., Context]
) -> None:
    given_stock(ctx, A=100, B=100)
    results = _at_once(
        make_ctx, lambda c, _: take_order(c, order("SO-1", ("A", 2), ("B", 1)), actor="t")
    )
    assert Counter(r.status for r in results) == {
        OrderStatus.TAKEN: 1,
        OrderStatus.DUPLICATE: SENDERS - 1,
    }, [r.errors for r in results]
    assert len({r.id for r in results}) == 1
    assert all(len(r.lines) == 2 for r in results)
    assert _orders(ctx) == (1, 2, 3)


def test_the_same_number_sent_at_once_with_other_content_is_taken_once_and_changed_for_the_others(
    ctx: Context, make_ctx: Callable[..., Context]
) -> None:
    """Other SKUs: the senders share no stock lock that would queue them."""
    skus = [f"S{n}" for n in range(SENDERS)]
    given_stock(ctx, **dict.fromkeys(skus, 10))
    results = _at_once(make_ctx, lambda c, n: take_order(c, order("SO-1", (skus[n], 1)), actor="t"))
    assert Counter(r.status for r in results) == {
        OrderStatus.TAKEN: 1,
        OrderStatus.CHANGED: SENDERS - 1,
    }, [r.errors for r in results]
    assert all(r.differences for r in results if r.status is OrderStatus.CHANGED)
    assert _orders(ctx) == (1, 1, 1)


def test_the_same_file_imported_at_once_takes_each_order_once(
    ctx: Context, make_ctx: Callable[..., Context], tmp_path: Path
) -> None:
    given_stock(ctx, A=100, B=100)
    path = tmp_path / "orders.csv"
    path.write_text(
        "source,order_number,customer_code,customer_name,customer_email,order_date,"
        "delivery_date,line_no,sku,qty\n"
        + "".join(
            f"web,SO-{n},C{n % 3},Customer,c{n % 3}@example.com,2026-11-25,2026-12-01,1,"
            f"{'AB'[n % 2]},1\n"
            for n in range(12)
        )
    )

    def run(c: Context, _: int) -> ImportSummary:
        return import_sales_orders(c, path, batch_size=4)

    summaries = _at_once(make_ctx, run)
    assert all(s.ok for s in summaries), [s.errors for s in summaries]
    assert sum(s.orders_taken for s in summaries) == 12
    assert sum(s.orders_duplicate for s in summaries) == 12 * (SENDERS - 1)
    assert sum(s.orders_rejected for s in summaries) == 0
    assert _orders(ctx) == (12, 12, 12)
