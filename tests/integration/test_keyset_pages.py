"""Paging by key: a list in id order gives each page the `after` of the next one, and
walking the list by it gives the same pages as walking it by offset, filters kept."""

from __future__ import annotations

from typing import Any

from bopo.services.admin import audit
from bopo.services.context import Context
from bopo.services.email import outbox
from bopo.services.orders import sales
from bopo.services.orders.intake import take_order
from bopo.services.worklist import associations, backorders
from tests.helpers import day, given_po, given_status, given_stock, given_template, order


def _shop(ctx: Context) -> None:
    """SO-0..SO-9: each links one A to PO-1 and queues an email; the odd ones wait for B."""
    given_stock(ctx, A=0, B=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, "Back order", statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("A", 20, day(5), "ON ORDER"))
    for n in range(10):
        lines = [("A", 1), ("B", 1)] if n % 2 else [("A", 1)]
        take_order(ctx, order(f"SO-{n}", *lines, customer=f"C{n}"), actor="t")


def _walk(find: Any, limit: int, **filters: Any) -> list[Any]:
    """Every page, each found by the `after` and offset of the page before."""
    pages = [find(limit=limit, **filters)]
    while pages[-1].next_after is not None:
        last = pages[-1]
        pages.append(
            find(limit=limit, offset=last.offset + limit, after=last.next_after, **filters)
        )
    return pages


def _by_offset(find: Any, limit: int, total: int, **filters: Any) -> list[list[Any]]:
    return [find(limit=limit, offset=o, **filters).items for o in range(0, total, limit)]


def test_sales_orders_by_key_are_the_pages_by_offset(ctx: Context) -> None:
    _shop(ctx)

    find = lambda **kw: sales.find_sales_orders(ctx, **kw)  # noqa: E731
    pages = _walk(find, 3)

    assert [[s.number for s in p.items] for p in pages] == [
        ["SO-9", "SO-8", "SO-7"],
        ["SO-6", "SO-5", "SO-4"],
        ["SO-3", "SO-2", "SO-1"],
        ["SO-0"],
    ]
    assert [p.items for p in pages] == _by_offset(find, 3, 10)
    assert [(p.offset, p.total, p.has_next) for p in pages][-1] == (9, 10, False)
    assert pages[-1].next_after is None


def test_a_filter_is_kept_and_the_last_full_page_has_no_next(ctx: Context) -> None:
    _shop(ctx)

    pages = _walk(lambda **kw: sales.find_sales_orders(ctx, **kw), 5, waiting=True)

    assert [[s.number for s in p.items] for p in pages] == [
        ["SO-9", "SO-7", "SO-5", "SO-3", "SO-1"]
    ]
    assert (pages[0].total, pages[0].has_next, pages[0].next_after) == (5, False, None)


def test_past_the_last_order_is_an_empty_page(ctx: Context) -> None:
    _shop(ctx)
    first = sales.find_sales_orders(ctx, limit=10)
    oldest = first.items[-1].id

    past = sales.find_sales_orders(ctx, limit=10, offset=10, after=oldest)

    assert (past.items, past.total, past.has_next, past.next_after) == ([], 10, False, None)


def test_another_sort_pages_by_offset_and_breaks_ties_by_id(ctx: Context) -> None:
    """Every order is delivered the same day: the sort's ties go by id, page after page."""
    _shop(ctx)

    first = sales.find_sales_orders(ctx, sort="delivery", limit=4)
    second = sales.find_sales_orders(ctx, sort="delivery", limit=4, offset=4, after=1)

    assert first.next_after is None  # not in id order: no key to seek by
    assert [s.number for s in first.items + second.items] == [f"SO-{n}" for n in range(8)]


def test_the_audit_trail_outbox_and_associations_page_by_key(ctx: Context) -> None:
    _shop(ctx)
    lists: list[tuple[Any, dict[str, Any]]] = [
        (lambda **kw: audit.find_audit(ctx, **kw), {"entity": "association"}),
        (lambda **kw: outbox.find_emails(ctx, **kw), {"state": "pending"}),
        (lambda **kw: associations.find_associations(ctx, **kw), {"state": "active"}),
    ]
    for find, filters in lists:
        pages = _walk(find, 4, **filters)
        assert [p.items for p in pages] == _by_offset(find, 4, 10, **filters)
        assert [len(p.items) for p in pages] == [4, 4, 2]
        assert [p.total for p in pages] == [10, 10, 10]


def test_the_worklist_by_key_keeps_its_serving_order_through_equal_keys(ctx: Context) -> None:
    """Urgent first, then by delivery day; orders due the same day by order, and an
    order's lines by line number, across page boundaries."""
    given_stock(ctx, A=0, B=0)
    for n, delivery, priority in (
        (1, 5, "normal"),
        (2, 3, "normal"),
        (3, 5, "normal"),
        (4, 9, "urgent"),
        (5, 5, "low"),
        (6, 3, "normal"),
    ):
        lines = [("A", 1), ("B", 1), ("A", 2)] if n in (3, 6) else [("A", 1)]
        take_order(
            ctx, order(f"SO-{n}", *lines, delivery=day(delivery), priority=priority), actor="t"
        )
    find = lambda **kw: backorders.find_backorders(ctx, **kw)  # noqa: E731

    pages = _walk(find, 2)
    walked = [(b.number, b.line_no) for p in pages for b in p.items]

    assert walked == [
        ("SO-4", 1),
        ("SO-2", 1),
        ("SO-6", 1),
        ("SO-6", 2),
        ("SO-6", 3),
        ("SO-1", 1),
        ("SO-3", 1),
        ("SO-3", 2),
        ("SO-3", 3),
        ("SO-5", 1),
    ]
    assert [p.items for p in pages] == _by_offset(find, 2, 10)
    assert [p.next_after is None for p in pages] == [False] * 4 + [True]
    kept = _walk(find, 2, sku="B")
    assert [[(b.number, b.line_no) for b in p.items] for p in kept] == [[("SO-6", 2), ("SO-3", 2)]]
