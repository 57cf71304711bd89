"""Goods in and supply changes at scale: one receipt that fulfils 1,000 linked orders,
and one PO cancel that re-allocates 1,000 orders to another PO.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from bench.common import Scale, Timer, context, database
from bopo.services.common.inputs import (
    NewCustomer,
    NewPurchaseOrder,
    NewPurchaseOrderLine,
    NewSalesOrder,
    NewSalesOrderLine,
    NewStockItem,
)
from bopo.services.context import Context
from bopo.services.orders.intake import take_orders
from bopo.services.supply import catalog, purchasing
from bopo.services.supply.changes import cancel_purchase_order
from bopo.services.supply.goods_in import receive

LINKED = 1_000  # orders on the PO line under test
TODAY = date(2026, 11, 25)


def _po(number: str, sku: str, qty: int, due_in: int) -> NewPurchaseOrder:
    return NewPurchaseOrder(
        number=number,
        supplier_code="SUP",
        lines=[
            NewPurchaseOrderLine(
                line_no=1,
                sku=sku,
                qty=qty,
                due_date=TODAY + timedelta(days=due_in),
                status="ON ORDER",
            )
        ],
    )


def _orders(prefix: str, skus: list[str], count: int, rng: random.Random) -> list[NewSalesOrder]:
    return [
        NewSalesOrder(
            source="bench",
            number=f"{prefix}-{n}",
            customer=NewCustomer(code=f"C{n % 500}", name="Bench", email="bench@example.com"),
            order_date=TODAY,
            delivery_date=TODAY + timedelta(days=rng.randint(1, 30)),
            lines=[NewSalesOrderLine(line_no=1, sku=rng.choice(skus), qty=rng.randint(1, 2))],
        )
        for n in range(count)
    ]


def _scene(ctx: Context, noise: int) -> None:
    """The two items under test, plus other items, POs and orders around them."""
    rng = random.Random(11)
    catalog.add_status(ctx, "ON ORDER", "On order", actor="bench")
    others = [f"N-{i:04d}" for i in range(200)]
    catalog.upsert_stock_items(
        ctx,
        [NewStockItem(sku=s, name=s) for s in ["RECV", "CANC", *others]],
        actor="bench",
    )
    purchasing.add_purchase_orders(
        ctx,
        [
            _po("PO-RECV", "RECV", 2 * LINKED + 100, 10),
            _po("PO-CANC", "CANC", 2 * LINKED + 100, 5),
            _po("PO-SPARE", "CANC", 2 * LINKED + 100, 20),
            *(_po(f"PO-N{i}", s, 400, rng.randint(3, 60)) for i, s in enumerate(others)),
        ],
        actor="bench",
    )
    take_orders(ctx, _orders("NOISE", others, noise, rng), actor="bench")
    take_orders(ctx, _orders("RECV", ["RECV"], LINKED, rng), actor="bench")
    take_orders(ctx, _orders("CANC", ["CANC"], LINKED, rng), actor="bench")


def run(scale: Scale) -> dict[str, Any]:
    noise = max(1_000, scale.orders // 10)
    figures: dict[str, Any] = {}
    for kind in ("sqlite", "postgresql"):
        with database(kind) as url:
            ctx = context(url)
            _scene(ctx, noise)
            with Timer() as t:
                receipt = receive(ctx, "PO-RECV", 1, 2 * LINKED + 100, actor="bench")
            served = len(receipt.lines)
            assert served == LINKED, served
            with Timer() as c:
                result = cancel_purchase_order(ctx, "PO-CANC", actor="bench")
            moved = sum(1 for o in result.log.offered if o.po_number == "PO-SPARE")
            assert moved == LINKED, moved
            ctx.db.dispose()
        figures[f"{kind}_receive_{LINKED}_linked_s"] = round(t.seconds, 3)
        figures[f"{kind}_cancel_po_reallocating_{LINKED}_s"] = round(c.seconds, 3)
        if kind == "postgresql":
            figures[f"{kind}_receive_{LINKED}_linked_s_target"] = {"max": 1.0}
            figures[f"{kind}_cancel_po_reallocating_{LINKED}_s_target"] = {"max": 1.0}
        figures[f"{kind}_detail"] = {"noise_orders": noise, "linked_orders": LINKED}
    return figures
