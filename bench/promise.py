"""Decision records, explain and what-if: what they cost.

- intake CPU on SQLite (time.process_time, so a busy shared machine matters less):
  bulk import per line, single orders per order;
- the storage decision records take, per decision and per order, on PostgreSQL
  (pg_total_relation_size: table, TOAST and index) and SQLite (dbstat), and
  what that comes to at 1M orders;
- how long `explain` and a what-if take on the loaded database.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, func, select, text

from bench.common import WORK, Scale, Timer, context, database
from bench.generate import STATUSES, generate
from bench.intake import _orders
from bopo.db.models import AllocationDecision, SalesOrder
from bopo.services.context import Context
from bopo.services.files import imports
from bopo.services.orders.intake import take_order
from bopo.services.promise import explain, what_if
from bopo.services.supply import catalog

SINGLE = 1_000
PO = "PO-000007"  # ten lines, each with orders linked to it (bench/generate.py)


def _load(ctx: Context, files: dict[str, Any]) -> dict[str, Any]:
    for code in STATUSES:
        catalog.add_status(ctx, code, code.title(), actor="bench")
    imports.import_stock_items(ctx, files["stock"])
    imports.import_purchase_orders(ctx, files["po"])
    cpu = time.process_time()
    summary = imports.import_sales_orders(ctx, files["so"])
    cpu = time.process_time() - cpu
    assert summary.ok, summary.errors[:5]
    lines = summary.lines_from_stock + summary.lines_linked + sum(summary.lines_skipped.values())
    return {"orders": summary.orders_taken, "lines": lines, "cpu_s": cpu}


def _storage(conn: Connection, kind: str) -> int:
    if kind == "postgresql":
        return int(conn.scalar(text("SELECT pg_total_relation_size('allocation_decisions')")) or 0)
    return int(
        conn.scalar(
            text(
                "SELECT sum(pgsize) FROM dbstat WHERE name IN "
                "('allocation_decisions', 'ix_allocation_decisions_so_line_id')"
            )
        )
        or 0
    )


def _measure_storage(ctx: Context, kind: str) -> dict[str, Any]:
    if kind == "postgresql":  # statistics, as autovacuum would have gathered by now
        with ctx.db.write() as conn:
            conn.execute(text("ANALYZE"))
    with ctx.db.read() as conn:
        decisions = conn.scalar(select(func.count()).select_from(AllocationDecision)) or 0
        orders = conn.scalar(select(func.count()).select_from(SalesOrder)) or 0
        size = _storage(conn, kind)
        cast = "candidates::text" if kind == "postgresql" else "candidates"
        json_bytes = conn.scalar(text(f"SELECT avg(length({cast})) FROM allocation_decisions"))
        others = {}
        if kind == "postgresql":  # for scale: what an order takes in the other tables
            for table in ("sales_orders", "so_lines", "associations", "audit_log"):
                others[table] = conn.scalar(text(f"SELECT pg_total_relation_size('{table}')"))
    per_decision = size / decisions if decisions else 0
    per_order = size / orders if orders else 0
    return {
        "decisions": decisions,
        "orders": orders,
        "bytes": size,
        "bytes_per_decision": round(per_decision, 1),
        "bytes_per_order": round(per_order, 1),
        "candidates_json_bytes": round(float(json_bytes or 0), 1),
        "mb_at_1m_orders": round(per_order * 1_000_000 / 1e6),
        "other_tables_bytes_per_order": {
            t: round(int(b or 0) / orders, 1) for t, b in others.items() if orders
        },
    }


def _timed(call: Any, repeat: int = 20) -> float:
    with Timer() as t:
        for _ in range(repeat):
            call()
    return round(1000 * t.seconds / repeat, 2)


def run(scale: Scale) -> dict[str, Any]:
    files = generate(
        WORK / "promise", items=scale.items, po_lines=scale.po_lines, orders=scale.orders
    )
    figures: dict[str, Any] = {}
    for kind in ("sqlite", "postgresql"):
        with database(kind) as url:
            ctx = context(url)
            bulk = _load(ctx, files)
            if kind == "sqlite":
                figures["sqlite_bulk_cpu_us_per_line"] = round(
                    1e6 * bulk["cpu_s"] / bulk["lines"], 1
                )
                orders = _orders(7, SINGLE + 1, scale.items)
                take_order(ctx, orders[0], actor="bench")
                cpu = time.process_time()
                for o in orders[1:]:
                    take_order(ctx, o, actor="bench")
                cpu = time.process_time() - cpu
                figures["sqlite_single_cpu_ms_per_order"] = round(1000 * cpu / SINGLE, 3)
            storage = _measure_storage(ctx, kind)
            figures[f"{kind}_decision_bytes"] = storage["bytes_per_decision"]
            figures[f"{kind}_decisions_mb_at_1m_orders"] = storage["mb_at_1m_orders"]
            figures[f"{kind}_storage_detail"] = storage
            figures[f"{kind}_explain_ms"] = _timed(
                lambda ctx=ctx: explain.explain_order(ctx, "SO-0000042")
            )
            figures[f"{kind}_what_if_cancel_ms"] = _timed(
                lambda ctx=ctx: what_if.what_if_cancel(ctx, PO)
            )
            figures[f"{kind}_what_if_due_ms"] = _timed(
                lambda ctx=ctx: what_if.what_if_due_date(ctx, PO, 1, None)
            )
            ctx.db.dispose()
    return figures
