"""Searching: any part of a number, SKU, name, code or email, in any case, best first."""

from __future__ import annotations

import pytest

from bopo.services.common import search
from bopo.services.common.search import Kind
from bopo.services.context import Context
from bopo.services.orders.intake import take_order
from tests.helpers import day, given_po, given_stock, order


@pytest.fixture
def shop(ctx: Context) -> Context:
    """Items W-5004 and W-50041 (a longer SKU starting the same), PO-5004, orders SO-5004
    and SO-77 for customers C1 and ACME."""
    given_stock(ctx, **{"W-5004": 3, "W-50041": 0, "BOLT-1": 0})
    given_po(ctx, "PO-5004", ("W-50041", 5, day(5)))
    take_order(ctx, order("SO-5004", ("W-5004", 1)), actor="test")
    take_order(ctx, order("SO-77", ("W-5004", 1), customer="ACME"), actor="test")
    return ctx


def _keys(results: search.Results, kind: Kind) -> list[str]:
    return [h.key for g in results.groups if g.kind is kind for h in g.hits]


def test_a_sku_typed_in_any_case_is_found_exactly_first(shop: Context) -> None:
    found = search.search(shop, "w-5004")
    assert _keys(found, Kind.STOCK_ITEM) == ["W-5004", "W-50041"]
    assert [h.rank for g in found.groups if g.kind is Kind.STOCK_ITEM for h in g.hits] == [0, 1]


def test_a_part_from_the_middle_finds_orders_pos_and_items(shop: Context) -> None:
    found = search.search(shop, "5004")
    assert _keys(found, Kind.STOCK_ITEM) == ["W-5004", "W-50041"]
    assert _keys(found, Kind.PURCHASE_ORDER) == ["PO-5004"]
    assert _keys(found, Kind.SALES_ORDER) == ["SO-5004"]
    assert _keys(found, Kind.CUSTOMER) == []


def test_customers_are_found_by_name_code_or_email(shop: Context) -> None:
    assert _keys(search.search(shop, "customer acme"), Kind.CUSTOMER) == ["ACME"]
    assert _keys(search.search(shop, "ACME@EXAMPLE"), Kind.CUSTOMER) == ["ACME"]
    assert _keys(search.search(shop, "c1"), Kind.CUSTOMER) == ["C1"]
    assert _keys(search.search(shop, "example.com"), Kind.CUSTOMER) == ["C1", "ACME"]


def test_a_short_query_finds_only_what_starts_with_it(shop: Context) -> None:
    found = search.search(shop, "so")
    assert not found.contains
    assert _keys(found, Kind.SALES_ORDER) == ["SO-77", "SO-5004"]  # shorter first
    assert _keys(search.search(shop, "04"), Kind.SALES_ORDER) == []


def test_wildcards_are_searched_for_as_themselves(shop: Context) -> None:
    assert search.search(shop, "%").total == 0
    assert search.search(shop, "w_5").total == 0
    assert search.search(shop, "   ").groups[0].hits == []


def test_each_kind_says_when_there_are_more_than_it_shows(shop: Context) -> None:
    found = search.search(shop, "w-", per_kind=1)
    items = next(g for g in found.groups if g.kind is Kind.STOCK_ITEM)
    assert [h.key for h in items.hits] == ["W-5004"]
    assert items.more
