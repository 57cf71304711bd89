"""Counts that stop: a list counts its matches no further than COUNT_CAP rows past the
page, says when its total is only a floor, and still knows whether a next page exists."""

from __future__ import annotations

import pytest

from bopo.services.admin import audit
from bopo.services.common import pages
from bopo.services.context import Context
from bopo.services.email import outbox
from bopo.services.orders import sales
from bopo.services.orders.intake import take_order
from bopo.services.worklist import backorders
from tests.helpers import day, given_po, given_status, given_stock, given_template, order


@pytest.fixture
def ten_orders(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Context:
    """SO-0..SO-9, each waiting on the worklist with an email queued; the cap is 3."""
    monkeypatch.setattr(pages, "COUNT_CAP", 3)
    given_stock(ctx, A=0, B=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, "Back order", statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("A", 5, day(5), "ON ORDER"))
    for n in range(10):
        take_order(ctx, order(f"SO-{n}", ("A", 1), ("B", 1), customer=f"C{n}"), actor="t")
    return ctx


def test_a_first_page_counts_only_up_to_the_cap_past_it(ten_orders: Context) -> None:
    page = sales.find_sales_orders(ten_orders, limit=2)

    assert (page.total, page.total_capped, page.has_next) == (5, True, True)
    assert [s.number for s in page.items] == ["SO-9", "SO-8"]


def test_a_deep_page_counts_past_itself_and_the_last_pages_are_exact(ten_orders: Context) -> None:
    deep = sales.find_sales_orders(ten_orders, limit=2, offset=4)
    near_end = sales.find_sales_orders(ten_orders, limit=2, offset=6)
    last = sales.find_sales_orders(ten_orders, limit=2, offset=8)
    past = sales.find_sales_orders(ten_orders, limit=2, offset=10)

    assert (deep.total, deep.total_capped, deep.has_next) == (9, True, True)
    assert (near_end.total, near_end.total_capped, near_end.has_next) == (10, False, True)
    assert [s.number for s in last.items] == ["SO-1", "SO-0"]
    assert (last.total, last.total_capped, last.has_next) == (10, False, False)
    assert (past.items, past.total, past.has_next) == ([], 10, False)


def test_the_cap_is_exact_at_its_boundary(ten_orders: Context) -> None:
    """Exactly offset + limit + cap matches: the count is the total, not a floor."""
    page = sales.find_sales_orders(ten_orders, limit=3, offset=4)
    assert (page.total, page.total_capped, page.has_next) == (10, False, True)
    page = sales.find_sales_orders(ten_orders, limit=2, offset=4)
    assert (page.total, page.total_capped) == (9, True)


def test_filters_are_counted_with_the_same_cap(ten_orders: Context) -> None:
    waiting = sales.find_sales_orders(ten_orders, waiting=True, limit=1)
    one = sales.find_sales_orders(ten_orders, customer="C4", limit=1)

    assert (waiting.total, waiting.total_capped) == (4, True)
    assert (one.total, one.total_capped, one.has_next) == (1, False, False)


def test_the_worklist_outbox_and_audit_trail_cap_their_counts(ten_orders: Context) -> None:
    worklist = backorders.find_backorders(ten_orders, limit=2)
    worklist_end = backorders.find_backorders(ten_orders, limit=5, offset=10)
    emails = outbox.find_emails(ten_orders, limit=1)
    emails_end = outbox.find_emails(ten_orders, limit=1, offset=4)
    trail = audit.find_audit(ten_orders, limit=2)

    assert (worklist.total, worklist.total_capped) == (5, True)
    assert (worklist_end.total, worklist_end.total_capped) == (15, False)  # 10 B + 5 A lines
    assert len(worklist_end.items) == 5
    assert not worklist_end.has_next
    assert (emails.total, emails.total_capped) == (4, True)
    assert (emails_end.total, emails_end.total_capped, emails_end.has_next) == (5, False, False)
    assert (trail.total, trail.total_capped, trail.has_next) == (5, True, True)
