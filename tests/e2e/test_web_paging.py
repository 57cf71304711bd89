"""Paging as a client meets it: a list whose count stopped at the cap says "more than" and
still offers the next page; a list in id order links its next page by key."""

from __future__ import annotations

import html
import re

import pytest

from bopo.domain.roles import Role
from bopo.services.common import pages
from bopo.services.orders.intake import take_order
from tests.e2e.conftest import Api, Web
from tests.helpers import given_stock, order


@pytest.fixture(autouse=True)
def cap_of_three(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "COUNT_CAP", 3)


def test_the_api_says_the_total_is_a_floor_and_gives_the_next_offset(api: Api) -> None:
    given_stock(api.ctx, A=5)
    for n in range(8):
        take_order(api.ctx, order(f"SO-{n}", ("A", 1)), actor="t")

    first = api.get("/api/sales-orders?limit=2").json()
    last = api.get("/api/sales-orders?limit=2&offset=6").json()

    assert (first["total"], first["total_capped"], first["next_offset"]) == (5, True, 2)
    assert (last["total"], last["total_capped"], last["next_offset"]) == (8, False, None)


def test_the_pager_says_more_than_and_links_the_next_page(web: Web) -> None:
    given_stock(web.ctx, A=0)
    for n in range(30):
        take_order(web.ctx, order(f"SO-{n}", ("A", 1)), actor="t")
    web.sign_in(Role.VIEWER)

    first = web.client.get("/sales-orders?size=25").text
    last = web.client.get("/sales-orders?size=25&offset=25").text

    assert "1&ndash;25 of more than 28" in first
    assert 'rel="next"' in first
    assert "26&ndash;30 of 30" in last
    assert 'rel="next"' not in last
    assert 'rel="prev"' in last


def test_the_api_gives_the_next_page_by_key(api: Api) -> None:
    given_stock(api.ctx, A=5)
    for n in range(5):
        take_order(api.ctx, order(f"SO-{n}", ("A", 1)), actor="t")

    first = api.get("/api/sales-orders?limit=2").json()
    after = first["next_after"]
    second = api.get(f"/api/sales-orders?limit=2&offset=2&after={after}").json()
    last = api.get(f"/api/sales-orders?limit=2&offset=4&after={second['next_after']}").json()

    assert [o["number"] for o in first["items"] + second["items"] + last["items"]] == [
        "SO-4",
        "SO-3",
        "SO-2",
        "SO-1",
        "SO-0",
    ]
    assert (last["next_offset"], last["next_after"], last["total"]) == (None, None, 5)


def test_the_next_link_seeks_by_key_and_a_sort_starts_again(web: Web) -> None:
    given_stock(web.ctx, A=0)
    for n in range(30):
        take_order(web.ctx, order(f"SO-{n:02d}", ("A", 1)), actor="t")
    web.sign_in(Role.VIEWER)

    first = web.client.get("/sales-orders?size=25&q=so").text
    link = re.search(r'href="([^"]+)" rel="next"', first)
    assert link is not None
    following = html.unescape(link[1])
    second = web.client.get(following).text

    assert "after=" in following
    assert "q=so" in following  # the filter kept
    assert re.findall(r">(SO-\d+)</a>", second) == [f"SO-{n:02d}" for n in range(4, -1, -1)]
    assert "26&ndash;30 of 30" in second
    assert "after=" not in re.search(r'href="([^"]+)" rel="prev"', second)[1]  # type: ignore[index]
    assert "after=" not in re.search(r'href="([^"]+)" class="sort"', second)[1]  # type: ignore[index]
