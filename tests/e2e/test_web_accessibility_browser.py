"""Every page checked by axe-core in Chromium, and the daily pages at a phone's width."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from bopo.domain.roles import Role
from tests.e2e.browser import AXE, accessibility_violations, scrolls_sideways
from tests.e2e.conftest import REQUIRE_BROWSER, sign_in_as
from tests.e2e.test_web_browser import _scene
from tests.e2e.test_web_pages import PAGES
from tests.helpers import line_of


@pytest.fixture
def axe() -> None:
    if not AXE.exists():
        why = f"no {AXE}: `make test` installs it (npm ci --prefix tests/e2e)"
        if REQUIRE_BROWSER:
            pytest.fail(f"BOPO_REQUIRE_BROWSER=1 but {why}", pytrace=False)
        pytest.skip(why)


def test_every_page_has_no_accessibility_violations(make_site: Any, page: Any, axe: None) -> None:
    site = make_site()
    _scene(site)
    page.goto(site.url("/login"))
    assert accessibility_violations(page) == [], "/login"
    sign_in_as(page, site, Role.ADMIN)  # an admin sees every page
    found = {}
    for path, _ in PAGES:
        page.goto(site.url(path))
        expect(page.locator("h1")).to_be_visible()
        violations = accessibility_violations(page)
        if violations:
            found[path] = violations
    assert found == {}
    assert page.problems == []


@pytest.mark.parametrize(
    "path", ["/worklist", "/goods-in", "/sales-orders/1", "/purchase-orders/PO-1"]
)
def test_the_daily_pages_fit_a_phone_without_scrolling_sideways(
    make_site: Any, browser: Any, path: str
) -> None:
    site = make_site()
    _scene(site)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = phone.new_page()
        sign_in_as(page, site, Role.OPERATOR)
        page.goto(site.url(path))
        expect(page.locator("h1")).to_be_visible()
        assert not scrolls_sideways(page), path
    finally:
        phone.close()


def test_a_clerk_receives_an_expected_delivery_confirms_the_extra_and_prints_the_slip(
    make_site: Any, page: Any, axe: None
) -> None:
    site = make_site()
    _scene(site)  # PO-1 line 1: 10 of A due in 5 days, 3 promised to SO-1
    sign_in_as(page, site, Role.OPERATOR)
    page.goto(site.url("/goods-in"))
    expected = page.get_by_role("region", name="Expected deliveries")
    expect(expected.get_by_role("row", name=re.compile("PO-1 line 1"))).to_contain_text(
        "3 (1 order)"
    )
    assert accessibility_violations(page) == []

    page.get_by_label("Units of A arrived on PO-1 #1").fill("12")
    page.get_by_role("button", name="Receive PO-1 #1").click()

    expect(page.get_by_role("alert")).to_contain_text("has 10 outstanding; receiving 12 is 2 more")
    assert accessibility_violations(page) == []
    page.get_by_role("button", name="Receive 12 anyway").click()

    expect(page).to_have_url(re.compile(r"/goods-in/receipts/\d+$"))
    row = page.get_by_role("row", name=re.compile(r"web\/SO-1"))
    expect(row).to_contain_text("ready to ship")
    expect(page.get_by_text("9 to free stock.")).to_be_visible()
    assert accessibility_violations(page) == []
    page.emulate_media(media="print")  # the slip prints without the menu and buttons
    expect(page.get_by_role("button", name="Print the slip")).to_be_hidden()
    expect(page.get_by_role("link", name="Worklist")).to_be_hidden()
    expect(row).to_be_visible()

    page.emulate_media(media="screen")  # booked in error: taken back out
    page.get_by_role("button", name="Reverse this receipt").click()
    expect(page.get_by_role("status")).to_contain_text("reversed: 12 of A out again")
    expect(page.get_by_role("status")).to_contain_text("linked again: web/SO-1 line 1 to PO-1")
    expect(page.get_by_text("Reversed", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Reverse this receipt")).to_have_count(0)
    page.goto(site.url("/goods-in"))
    expect(page.get_by_role("region", name=re.compile("Released at goods in"))).to_contain_text(
        "reversed"
    )
    assert line_of(site.ctx, "SO-1").linked_qty == 3
    assert accessibility_violations(page) == []
    assert page.problems == []
