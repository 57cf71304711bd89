"""Lists as people know them: sortable columns (only the keys a list names), 25, 50 or 100
rows a page, and the filters kept in the URL."""

from __future__ import annotations

import re

from bopo.domain.roles import Role
from bopo.services.orders.intake import take_order
from tests.e2e.conftest import Web
from tests.helpers import day, given_po, given_stock, order


def _numbers(page: str, prefix: str) -> list[str]:
    return re.findall(rf">({prefix}-\d+)</a>", page)


def _shop(web: Web) -> None:
    given_stock(web.ctx, A=0)
    for n, delivery in ((3, 9), (1, 5), (2, 7)):
        take_order(web.ctx, order(f"SO-{n}", ("A", 1), delivery=day(delivery)), actor="test")
    given_po(web.ctx, "PO-2", ("A", 1, day(9)))
    given_po(web.ctx, "PO-1", ("A", 1, day(3)))


def test_sales_orders_sort_by_a_column_either_way_and_keep_the_filters(web: Web) -> None:
    _shop(web)
    web.sign_in(Role.VIEWER)
    get = web.client.get
    assert _numbers(get("/sales-orders").text, "SO") == ["SO-2", "SO-1", "SO-3"]  # newest
    assert _numbers(get("/sales-orders?sort=number").text, "SO") == ["SO-1", "SO-2", "SO-3"]
    page = get("/sales-orders?sort=-delivery&q=so").text
    assert _numbers(page, "SO") == ["SO-3", "SO-2", "SO-1"]
    assert 'aria-sort="descending"' in page
    assert 'href="/sales-orders?sort=delivery&amp;q=so"' in page  # again: the other way
    assert '<input type="hidden" name="sort" value="-delivery">' in page
    # a key the list does not name is ignored, never a column from the URL
    assert _numbers(get("/sales-orders?sort=id;drop").text, "SO") == ["SO-2", "SO-1", "SO-3"]


def test_purchase_orders_sort_by_next_due(web: Web) -> None:
    _shop(web)
    web.sign_in(Role.VIEWER)
    page = web.client.get("/purchase-orders?sort=next_due").text
    assert _numbers(page, "PO") == ["PO-1", "PO-2"]
    page = web.client.get("/purchase-orders?sort=-next_due").text
    assert _numbers(page, "PO") == ["PO-2", "PO-1"]


def test_a_list_shows_25_50_or_100_rows(web: Web) -> None:
    given_stock(web.ctx, A=0)
    for n in range(30):
        take_order(web.ctx, order(f"SO-{n}", ("A", 1)), actor="test")
    web.sign_in(Role.VIEWER)
    page = web.client.get("/sales-orders?size=25").text
    assert len(_numbers(page, "SO")) == 25
    assert "1&ndash;25 of 30" in page
    assert '<strong aria-current="true">25</strong>' in page
    assert len(_numbers(web.client.get("/sales-orders?size=7").text, "SO")) == 30  # 50
    worklist = web.client.get("/worklist?size=25").text
    assert worklist.count("line 1</span>") == 25
    assert web.client.get("/sales-orders?size=500").status_code == 422
