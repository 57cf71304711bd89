"""Intake at scale: bulk import with allocation, and single orders through the service layer,
each next to the yardstick (bench.limit): the least work a correct intake does, same data.
The bulk import is also timed on the same orders as Shopify's orders export, next to bopo's
own format."""

from __future__ import annotations

import os
import random
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench import limit
from bench.common import WORK, Gate, Scale, Timer, context, database, run_workers
from bench.generate import STATUSES, generate
from bopo.services.common.inputs import NewCustomer, NewSalesOrder, NewSalesOrderLine
from bopo.services.files import formats, imports
from bopo.services.orders.intake import take_order
from bopo.services.supply import catalog

SINGLE_ORDERS = 2_000  # per run, split over the workers
# BOPO_BENCH_INTAKE=bulk: only the bulk import of bopo's own file and its yardstick
# (no Shopify file, no single orders); =single: only the single orders and their
# yardstick, on the database the bulk import loads (its own figures and yardstick
# left out); `make bench` runs everything.
INTAKE = os.environ.get("BOPO_BENCH_INTAKE", "")
BULK_ONLY, SINGLE_ONLY = INTAKE == "bulk", INTAKE == "single"
# BOPO_BENCH_DATABASES=sqlite: only SQLite's figures and yardsticks (or =postgresql).
DATABASES = [d for d in os.environ.get("BOPO_BENCH_DATABASES", "sqlite,postgresql").split(",") if d]
TODAY = date(2026, 11, 25)


def _load(url: str, files: dict[str, Path], *, shopify: bool = False) -> dict[str, Any]:
    """Stock, statuses and POs, then the sales orders timed: bopo's file, or Shopify's."""
    ctx = context(url)
    for code in STATUSES:
        catalog.add_status(ctx, code, code.title(), actor="bench")
    imports.import_stock_items(ctx, files["stock"])
    imports.import_purchase_orders(ctx, files["po"])
    cpu = time.process_time()
    with Timer() as t:
        if shopify:
            summary = formats.import_orders(ctx, files["shopify"], format="shopify")
        else:
            summary = imports.import_sales_orders(ctx, files["so"])
    cpu = time.process_time() - cpu
    lines = summary.lines_from_stock + summary.lines_linked + sum(summary.lines_skipped.values())
    ctx.db.dispose()
    assert summary.ok, summary.errors[:5]
    assert not summary.warnings, summary.warnings[:5]
    return {
        "orders": summary.orders_taken,
        "lines": lines,
        "seconds": round(t.seconds, 2),
        "lines_per_s": round(lines / t.seconds),
        "client_cpu_seconds": round(cpu, 2),  # this process's own: less noisy on a busy machine
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


def single_worker(url: str, worker: int, count: int, items: int, gate: Gate) -> None:
    ctx = context(url)
    orders = _orders(worker, count, items)
    take_order(ctx, orders[0], actor="bench")  # warm the connection and statement cache
    gate.ready()
    cpu, started = time.process_time(), time.perf_counter()
    for order in orders[1:]:
        take_order(ctx, order, actor="bench")
    gate.report(len(orders) - 1, time.perf_counter() - started, time.process_time() - cpu)
    ctx.db.dispose()


def _single(url: str, workers: int, items: int) -> dict[str, Any]:
    return run_workers(
        url,
        single_worker,
        [(url, w + 10 * workers, SINGLE_ORDERS // workers, items) for w in range(workers)],
    )


def _floor_database(kind: str, files: dict[str, Path]) -> dict[str, Any]:
    """The bulk yardstick, in a database holding what bopo's import started from."""
    with database(kind) as url:
        ctx = context(url)
        for code in STATUSES:
            catalog.add_status(ctx, code, code.title(), actor="bench")
        imports.import_stock_items(ctx, files["stock"])
        imports.import_purchase_orders(ctx, files["po"])
        ctx.db.refresh_statistics("stock_items", "po_lines")
        ctx.db.dispose()
        if kind == "postgresql":
            return limit.pg_bulk(url, files["so"])
        return limit.sqlite_bulk(url, files["so"])


def _shopify(kind: str, files: dict[str, Path], bopo: dict[str, Any]) -> dict[str, Any]:
    """The same orders as Shopify's export, into a database loaded as bopo's run was.

    It runs after bopo's own import in the same process, so what that run warmed
    (statements compiled, modules first imported) is in its favour: about a tenth
    at BOPO_BENCH_SCALE=0.05, nothing to speak of at full scale.
    """
    with database(kind) as url:
        shop = _load(url, files, shopify=True)
    same = ("orders", "lines")
    assert all(shop[k] == bopo[k] for k in same), f"Shopify's import did other work: {shop}"
    return {
        f"{kind}_shopify_bulk_lines_per_s": shop["lines_per_s"],
        f"{kind}_shopify_vs_bopo_ratio": limit.ratio(shop["lines_per_s"], bopo["lines_per_s"]),
        # Shopify's format within 1.5x of bopo's own
        f"{kind}_shopify_vs_bopo_ratio_target": {"min": 0.67},
        f"{kind}_shopify_bulk_detail": shop,
    }


def run(scale: Scale) -> dict[str, Any]:
    """bopo's figures, each next to the yardstick's (bench.limit) on the same data."""
    files = generate(
        WORK / "intake",
        items=scale.items,
        po_lines=scale.po_lines,
        orders=scale.orders,
        shopify=True,
    )
    figures: dict[str, Any] = {}
    for kind in DATABASES:
        with database(kind) as url:
            bulk = _load(url, files)
            if not SINGLE_ONLY:
                figures[f"{kind}_bulk_lines_per_s"] = bulk["lines_per_s"]
                figures[f"{kind}_bulk_lines_per_s_target"] = {
                    "min": 50_000 if kind == "sqlite" else 30_000
                }
                figures[f"{kind}_bulk_detail"] = bulk
            if not INTAKE:
                figures.update(_shopify(kind, files, bulk))
            # bopo's run, then the yardstick's on the same database: 1 worker, then 4.
            for workers in () if BULK_ONLY else (1, 4):
                single = _single(url, workers, scale.items)
                figures[f"{kind}_single_{workers}w_orders_per_s"] = single["orders_per_s"]
                if kind == "postgresql" and workers == 4:
                    figures[f"{kind}_single_{workers}w_orders_per_s_target"] = {"min": 500}
                figures[f"{kind}_single_{workers}w_detail"] = single
                if kind == "postgresql":
                    floor = limit.pg_single(url, workers, scale.items)
                elif workers == 1:
                    floor = limit.sqlite_single(url, scale.items)
                else:
                    continue
                figures[f"{kind}_limit_single_{workers}w_orders_per_s"] = floor["orders_per_s"]
                figures[f"{kind}_limit_single_{workers}w_detail"] = floor
        if SINGLE_ONLY:
            continue
        floor = _floor_database(kind, files)
        figures[f"{kind}_limit_bulk_lines_per_s"] = floor["lines_per_s"]
        figures[f"{kind}_limit_bulk_detail"] = floor
        if kind == "sqlite":  # in-process: all its work is this process's CPU
            bopo_cpu = figures["sqlite_bulk_detail"]["client_cpu_seconds"]
            figures["sqlite_bulk_lines_per_cpu_s"] = round(bulk["lines"] / bopo_cpu)
            figures["sqlite_limit_bulk_lines_per_cpu_s"] = floor["lines_per_cpu_s"]
    figures.update(_against_the_limit(figures))
    return figures


def _against_the_limit(f: dict[str, Any]) -> dict[str, Any]:
    """Each bopo figure over the yardstick's (`*_ratio`), and the rows of run.py's table.

    Rates are bopo / limit; CPU per order is limit / bopo: 1 is the limit either way.
    Scaling (4 workers over 1) is bopo's own, shown next to the yardstick's.
    """
    rows: list[dict[str, Any]] = []
    out: dict[str, Any] = {}

    def row(label: str, key: str, unit: str, bopo: float, floor: float, **how: Any) -> None:
        value = how.get("ratio", limit.ratio(bopo, floor))
        target = how.get("target")
        out[f"{key}_ratio"] = value
        if target is not None:
            out[f"{key}_ratio_target"] = {"min": target}
        rows.append(
            {"figure": label, "key": f"{key}_ratio", "unit": unit, "bopo": bopo}
            | {"limit": floor, "ratio": value, "target": target}
            | {k: v for k, v in how.items() if k == "bopo_target"}
        )

    def rate(label: str, kind: str, what: str, unit: str, **how: Any) -> None:
        bopo, floor = f[f"{kind}_{what}"], f[f"{kind}_limit_{what}"]
        row(label, f"{kind}_{what.rsplit('_', 3)[0]}", unit, bopo, floor, **how)

    def cpu(label: str, kind: str, run: str) -> None:
        bopo = f[f"{kind}_{run}_detail"]["cpu_ms_per_order"]
        floor = f[f"{kind}_limit_{run}_detail"]["cpu_ms_per_order"]
        row(label, f"{kind}_{run}_cpu", "CPU ms", bopo, floor, ratio=limit.ratio(floor, bopo))

    # Rows for what ran: not the bulk import with BOPO_BENCH_INTAKE=single, nor single
    # orders with =bulk, nor a database left out of BOPO_BENCH_DATABASES.
    if "postgresql_bulk_lines_per_s" in f:
        rate("PG bulk", "postgresql", "bulk_lines_per_s", "lines/s", target=0.7)
    if "sqlite_bulk_lines_per_s" in f:
        rate("SQLite bulk", "sqlite", "bulk_lines_per_s", "lines/s", bopo_target=50_000)
        # The same on CPU time: steadier than wall time on a busy machine.
        cpu_rate = (f["sqlite_bulk_lines_per_cpu_s"], f["sqlite_limit_bulk_lines_per_cpu_s"])
        row("SQLite bulk, CPU", "sqlite_bulk_cpu", "lines/CPU s", *cpu_rate)
    if "postgresql_single_1w_orders_per_s" in f or "sqlite_single_1w_orders_per_s" in f:
        _single_rows(f, rate, row, cpu)
    out["vs_limit"] = rows
    return out


def _single_rows(f: dict[str, Any], rate: Any, row: Any, cpu: Any) -> None:
    """The single-order rows of the table, of the databases that ran."""
    pg, lite = "postgresql_single_1w_orders_per_s" in f, "sqlite_single_1w_orders_per_s" in f
    if pg:
        _pg_single_rows(f, rate, row)
    if lite:
        rate("SQLite single", "sqlite", "single_1w_orders_per_s", "orders/s", target=0.3)
    if pg:
        cpu("PG CPU/order, 1w", "postgresql", "single_1w")
        cpu("PG CPU/order, 4w", "postgresql", "single_4w")
    if lite:
        cpu("SQLite CPU/order", "sqlite", "single_1w")


def _pg_single_rows(f: dict[str, Any], rate: Any, row: Any) -> None:
    rate(
        "PG single, 1w",
        "postgresql",
        "single_1w_orders_per_s",
        "orders/s",
        target=0.5,
    )
    rate("PG single, 4w", "postgresql", "single_4w_orders_per_s", "orders/s")
    scaling = limit.ratio(
        f["postgresql_single_4w_orders_per_s"], f["postgresql_single_1w_orders_per_s"]
    )
    row(
        "PG 4w over 1w",
        "postgresql_single_4w_per_1w",
        "x",
        scaling,
        limit.ratio(
            f["postgresql_limit_single_4w_orders_per_s"],
            f["postgresql_limit_single_1w_orders_per_s"],
        ),
        ratio=scaling,
        target=1.7,
    )
