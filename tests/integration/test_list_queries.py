"""Lists read in parts at scale: purchase orders counted and sliced on their own table
with the page's line totals added after, the open PO lines a page at a time, the audit
trail by an action's group, and the sales-order search by customer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from bopo.db.models import AuditEvent
from bopo.services.admin import audit
from bopo.services.context import Context
from bopo.services.files import exports
from bopo.services.orders import sales
from bopo.services.orders.intake import take_order
from bopo.services.supply import purchasing
from bopo.services.supply.goods_in import receive
from tests.helpers import day, given_po, given_status, given_stock, order


def _supply(ctx: Context) -> None:
    """PO-1 (supplier ZED): an open line due in 3 days and one delivered; PO-2 (ACME): one
    open line due in 20 days; PO-3 (ZED): delivered in full. Four orders linked to PO-1."""
    given_stock(ctx, A=0, B=0)
    given_status(ctx, "ON ORDER")
    given_po(
        ctx, "PO-1", ("A", 10, day(3), "ON ORDER"), ("B", 2, day(1), "ON ORDER"), supplier="ZED"
    )
    given_po(ctx, "PO-2", ("A", 7, day(20), "ON ORDER"), supplier="ACME")
    given_po(ctx, "PO-3", ("B", 1, day(2), "ON ORDER"), supplier="ZED")
    receive(ctx, "PO-1", 2, 2, actor="t")
    receive(ctx, "PO-3", 1, 1, actor="t")
    for n in range(4):
        take_order(ctx, order(f"SO-{n}", ("A", 2), customer=f"C{n}"), actor="t")


def test_purchase_orders_are_filtered_and_sorted_with_each_pages_line_totals(
    ctx: Context,
) -> None:
    _supply(ctx)

    due = purchasing.find_purchase_orders(ctx, open_only=True, due_before=day(10))
    assert [(p.number, p.lines, p.open_lines, p.outstanding, p.next_due) for p in due.items] == [
        ("PO-1", 2, 1, 10, day(3))
    ]
    assert due.total == 1
    every = purchasing.find_purchase_orders(ctx)
    assert [p.number for p in every.items] == ["PO-3", "PO-2", "PO-1"]
    assert {p.number: p.outstanding for p in every.items} == {"PO-1": 10, "PO-2": 7, "PO-3": 0}
    assert [p.number for p in purchasing.find_purchase_orders(ctx, open_only=False).items] == [
        "PO-3"
    ]
    by_due = purchasing.find_purchase_orders(ctx, sort="next_due")
    assert [p.number for p in by_due.items] == ["PO-1", "PO-2", "PO-3"]  # none due last
    most = purchasing.find_purchase_orders(ctx, sort="-outstanding", limit=2)
    assert ([p.number for p in most.items], most.total) == (["PO-1", "PO-2"], 3)
    by_supplier = purchasing.find_purchase_orders(ctx, sort="supplier", supplier="ZED")
    assert [p.number for p in by_supplier.items] == ["PO-1", "PO-3"]
    found = purchasing.find_purchase_orders(ctx, q="acm", offset=0)
    assert [(p.number, p.supplier_name) for p in found.items] == [("PO-2", "ACME")]


@pytest.mark.parametrize(("offset", "limit"), [(0, 1), (0, 2), (1, 2), (2, 3), (4, 10)])
def test_a_page_of_open_po_lines_is_the_same_slice_of_the_whole_list(
    ctx: Context, offset: int, limit: int
) -> None:
    _supply(ctx)
    whole = list(exports.po_lines_export(ctx).rows)
    assert len(whole) == 5  # PO-1 line 1 with its four orders, PO-2 line 1 with none

    page = exports.po_lines_export(ctx, rows=offset + limit).rows
    assert list(page)[offset : offset + limit] == whole[offset : offset + limit]


def _audited(ctx: Context, *actions: str) -> None:
    at = datetime(2026, 11, 25, tzinfo=UTC)
    with ctx.db.write() as conn:
        conn.execute(
            insert(AuditEvent),
            [
                {"at": at, "actor": "t", "action": a, "entity": "user", "entity_id": 1}
                for a in actions
            ],
        )


def test_the_audit_trail_by_an_action_group_or_a_whole_action(ctx: Context) -> None:
    _audited(ctx, "email.retry", "emails.retry", "email", "email.retry.now", "email.sent")

    def actions(action: str) -> list[str]:
        return [r.action for r in audit.find_audit(ctx, action=action).items]

    assert actions("email") == ["email.sent", "email.retry.now", "email", "email.retry"]
    assert actions(" email.retry ") == ["email.retry.now", "email.retry"]
    assert actions("emails") == ["emails.retry"]
    assert actions("emai") == []
    assert actions("email.re") == []


@pytest.mark.parametrize("listed", [100, 1])
def test_the_sales_order_search_finds_the_orders_of_each_customer_found(
    ctx: Context, monkeypatch: pytest.MonkeyPatch, listed: int
) -> None:
    # Up to CUSTOMERS_LISTED customers are looked up by id; more, by a subquery.
    monkeypatch.setattr(sales, "CUSTOMERS_LISTED", listed)
    given_stock(ctx, A=5)
    for n, who in enumerate(["C12", "C123", "C9", "C12"]):
        take_order(ctx, order(f"SO-{n}", ("A", 1), customer=who), actor="t")
    take_order(ctx, order("X-C12", ("A", 1), customer="C7"), actor="t")

    page = sales.find_sales_orders(ctx, q="customer c12")
    assert [o.number for o in page.items] == ["SO-3", "SO-1", "SO-0"]
    assert page.total == 3
    assert [o.number for o in sales.find_sales_orders(ctx, q="c12").items] == [
        "X-C12",
        "SO-3",
        "SO-1",
        "SO-0",
    ]
