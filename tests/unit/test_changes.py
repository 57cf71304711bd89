"""The pure rules of goods in, supply changes and demand changes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bopo.domain.allocation import (
    AllocationRules,
    PoLineSupply,
    StockPosition,
    fitting_po_lines,
    offer_again,
)
from bopo.domain.changes import (
    Claim,
    is_late,
    keep_what_fits,
    reduce_demand,
    serving_order,
    split_receipt,
)
from bopo.domain.statuses import SkipReason

TODAY = date(2026, 11, 25)


def claim(line: int, qty: int, delivery_in: int, rank: int = 1) -> Claim:
    """SO line `line` asking for qty, delivery in so many days, priority rank (1 normal)."""
    return Claim(line, qty, serving_order(rank, TODAY + timedelta(days=delivery_in), line, 1))


def ids(claims: list[Claim]) -> list[int]:
    return [c.so_line_id for c in claims]


# --- a PO line that shrinks keeps what fits ----------------------------------------------


def test_a_po_line_that_still_covers_its_links_keeps_them_all() -> None:
    kept, released = keep_what_fits([claim(1, 3, 5), claim(2, 4, 2)], 7)
    assert (ids(kept), released) == ([2, 1], [])


def test_a_higher_priority_keeps_its_link_over_an_earlier_delivery_date() -> None:
    urgent_late = claim(1, 3, 9, rank=3)
    normal_soon = claim(2, 3, 1)
    kept, released = keep_what_fits([urgent_late, normal_soon], 3)
    assert (ids(kept), ids(released)) == ([1], [2])


def test_goods_in_serves_the_higher_priority_first_then_the_delivery_date() -> None:
    split = split_receipt(
        4, linked=[], waiting=[claim(1, 3, 1), claim(2, 3, 9, rank=2), claim(3, 3, 2, rank=0)]
    )
    assert split.to_waiting == ((2, 3), (1, 1))


def test_the_latest_delivery_date_loses_its_link_first() -> None:
    kept, released = keep_what_fits([claim(1, 3, 2), claim(2, 3, 9), claim(3, 3, 5)], 6)
    assert (ids(kept), ids(released)) == ([1, 3], [2])


def test_several_links_are_released_latest_delivery_date_first() -> None:
    _, released = keep_what_fits([claim(1, 4, 1), claim(2, 4, 3), claim(3, 4, 2)], 4)
    assert ids(released) == [2, 3]


def test_a_later_link_that_still_fits_is_kept_when_an_earlier_one_does_not() -> None:
    kept, released = keep_what_fits([claim(1, 5, 1), claim(2, 1, 4)], 4)
    assert (ids(kept), ids(released)) == ([2], [1])


def test_a_cancelled_po_line_releases_every_link() -> None:
    kept, released = keep_what_fits([claim(1, 1, 1), claim(2, 2, 2)], 0)
    assert (kept, ids(released)) == ([], [2, 1])


def test_same_delivery_date_the_newer_order_goes_first() -> None:
    a = Claim(10, 2, serving_order(1, TODAY, 1, 1))
    b = Claim(11, 2, serving_order(1, TODAY, 2, 1))
    _, released = keep_what_fits([a, b], 2)
    assert ids(released) == [11]


# --- a receipt is shared out ----------------------------------------------------------------


def test_a_receipt_serves_linked_lines_oldest_delivery_first_then_waiting_lines() -> None:
    split = split_receipt(
        10, linked=[claim(1, 3, 6), claim(2, 4, 2)], waiting=[claim(3, 5, 9), claim(4, 2, 1)]
    )
    assert split.to_linked == ((2, 4), (1, 3))
    assert split.to_waiting == ((4, 2), (3, 1))
    assert split.to_stock == 0


def test_a_partial_receipt_gives_the_next_linked_line_part_of_what_it_waits_for() -> None:
    split = split_receipt(5, linked=[claim(1, 3, 1), claim(2, 4, 2)], waiting=[claim(3, 1, 0)])
    assert (split.to_linked, split.to_waiting, split.to_stock) == (((1, 3), (2, 2)), (), 0)


def test_what_nobody_waits_for_goes_to_free_stock() -> None:
    split = split_receipt(12, linked=[claim(1, 3, 1)], waiting=[])
    assert (split.to_linked, split.to_stock) == (((1, 3),), 9)


# --- demand goes down ---------------------------------------------------------------------


def test_a_reduction_comes_off_the_backorder_before_the_stock() -> None:
    cut = reduce_demand(5, backorder=3, assigned=4)
    assert (cut.from_backorder, cut.from_stock) == (3, 2)


def test_a_reduction_beyond_what_is_open_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot take 8"):
        reduce_demand(8, backorder=3, assigned=4)


# --- late supply ----------------------------------------------------------------------------


def test_supply_due_after_the_delivery_date_is_late() -> None:
    assert is_late(TODAY + timedelta(days=1), TODAY)
    assert not is_late(TODAY, TODAY)
    assert not is_late(None, TODAY)


# --- candidates and offering again ---------------------------------------------------------


def supply(po_line: int, outstanding: int, associated: int, due_in: int | None) -> PoLineSupply:
    due = None if due_in is None else TODAY + timedelta(days=due_in)
    return PoLineSupply(po_line, 1, due, outstanding, associated, None)


def test_candidates_are_the_po_lines_with_enough_free_on_order_earliest_due_first() -> None:
    lines = [supply(1, 10, 8, 3), supply(2, 10, 0, 9), supply(3, 5, 0, 4), supply(4, 0, 0, 1)]
    assert [s.po_line_id for s in fitting_po_lines(4, lines)] == [3, 2]


def test_with_the_switch_off_a_released_line_keeps_its_reason() -> None:
    stock = StockPosition(1, on_hand=0, assigned=0)
    d = offer_again(3, SkipReason.RELEASED, stock, [supply(1, 10, 0, 3)], AllocationRules())
    assert (d.links, d.skip) == ((), SkipReason.RELEASED)


def test_with_the_switch_on_a_released_line_finds_another_po_line() -> None:
    stock = StockPosition(1, on_hand=1, assigned=0)
    rules = AllocationRules(enabled=True, default_status_id=7)
    d = offer_again(3, SkipReason.RELEASED, stock, [supply(1, 10, 0, 3)], rules)
    assert d.from_stock == 1
    assert [(x.po_line_id, x.qty, x.set_status_id) for x in d.links] == [(1, 2, 7)]
