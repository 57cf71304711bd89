"""Intake at scale: bulk import with allocation, and single orders through the service layer."""

from __future__ import annotations

import multiprocessing as mp
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import WORK, Scale, Timer, context, database
from bench.generate import STATUSES, generate
from bopo.services import catalog, imports
from bopo.services.inputs import NewCustomer, NewSalesOrder, NewSalesOrderLine
from bopo.services.intake import take_order

SINGLE_ORDERS = 2_000  # per run, split over the workers
TODAY = date(2026, 11, 25)


def _load(url: str, files: dict[str, Path]) -> dict[str, Any]:
    ctx = context(url)
    for code in STATUSES:
        catalog.add_status(ctx, code, code.title(), actor="bench")
    imports.import_stock_items(ctx, files["stock"])
    imports.import_purchase_orders(ctx, files["po"])
    with Timer() as t:
        summary = imports.import_sales_orders(ctx, files["so"])
    lines = summary.lines_from_stock + summary.lines_linked + sum(summary.lines_skipped.values())
    ctx.db.dispose()
    assert summary.ok, summary.errors[:5]
    return {
        "orders": summary.orders_taken,
        "lines": lines,
        "seconds": round(t.seconds, 2),
        "lines_per_s": round(lines / t.seconds),
    }


def _orders(worker: int, count: int, items: int) -> list[NewSalesOrder]:
    rng = random.Random(worker)
    out = []
    for n in range(count):
        skus = rng.sample(range(items), rng.randint(1, 5))
        out.append(
            NewSalesOrder(
                source="bench",
                number=f"B{worker}-{n}",
                customer=NewCustomer(code=f"B{worker}", name="Bench", email="bench@example.com"),
                order_date=TODAY,
                delivery_date=TODAY + timedelta(days=rng.randint(1, 30)),
                lines=[
                    NewSalesOrderLine(line_no=i, sku=f"SKU-{s:05d}", qty=rng.randint(1, 3))
                    for i, s in enumerate(skus, 1)
                ],
            )
        )
    return out


def _worker(url: str, worker: int, count: int, items: int, start: Any, done: Any) -> None:
    ctx = context(url)
    orders = _orders(worker, count, items)
    take_order(ctx, orders[0], actor="bench")  # warm the connection and statement cache
    start.wait()
    with Timer() as t:
        for order in orders[1:]:
            take_order(ctx, order, actor="bench")
    done.put((len(orders) - 1, t.seconds))
    ctx.db.dispose()


def _single(url: str, workers: int, items: int) -> dict[str, Any]:
    mp_ctx = mp.get_context("spawn")
    start = mp_ctx.Barrier(workers + 1)
    done = mp_ctx.Queue()
    procs = [
        mp_ctx.Process(
            target=_worker,
            args=(url, w + 10 * workers, SINGLE_ORDERS // workers, items, start, done),
        )
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    start.wait()
    with Timer() as t:
        results = [done.get() for _ in procs]
    for p in procs:
        p.join()
    orders = sum(n for n, _ in results)
    return {
        "orders": orders,
        "seconds": round(t.seconds, 2),
        "orders_per_s": round(orders / t.seconds),
        "ms_per_order_per_worker": round(1000 * sum(s for _, s in results) / orders, 2),
    }


def run(scale: Scale) -> dict[str, Any]:
    files = generate(
        WORK / "intake", items=scale.items, po_lines=scale.po_lines, orders=scale.orders
    )
    figures: dict[str, Any] = {}
    for kind in ("sqlite", "postgresql"):
        with database(kind) as url:
            bulk = _load(url, files)
            figures[f"{kind}_bulk_lines_per_s"] = bulk["lines_per_s"]
            figures[f"{kind}_bulk_lines_per_s_target"] = {"min": 30_000}
            figures[f"{kind}_bulk_detail"] = bulk
            for workers in (1, 4):
                single = _single(url, workers, scale.items)
                figures[f"{kind}_single_{workers}w_orders_per_s"] = single["orders_per_s"]
                if kind == "postgresql" and workers == 4:
                    figures[f"{kind}_single_{workers}w_orders_per_s_target"] = {"min": 500}
                figures[f"{kind}_single_{workers}w_detail"] = single
    return figures
