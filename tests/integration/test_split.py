"""Optional split: `[backorders] allow_split = true` lets several PO lines cover one SO line."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bopo.services.context import Context
from bopo.services.email import outbox
from bopo.services.orders.demand_changes import change_so_line_qty
from bopo.services.orders.intake import take_order
from bopo.services.supply.changes import change_due_date, change_po_line_qty
from bopo.services.supply.goods_in import receive
from bopo.services.worklist.backorders import list_backorders
from bopo.services.worklist.manual_links import unlink_line
from tests.helpers import (
    day,
    given_po,
    given_status,
    given_stock,
    given_template,
    line_of,
    order,
    po_line_of,
    worklist,
)


def two_small_po_lines(ctx: Context) -> None:
    """PO-1: 3 of A due 30 Nov; PO-2: 3 of A due 7 Dec. Neither alone covers 5."""
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("A", 3, day(5), "ON ORDER"))
    given_po(ctx, "PO-2", ("A", 3, day(12), "ON ORDER"))


@pytest.fixture
def split(make_ctx: Callable[..., Context]) -> Context:
    ctx = make_ctx(allow_split=True)
    two_small_po_lines(ctx)
    take_order(ctx, order("SO-1", ("A", 5), delivery=day(14)), actor="web")
    return ctx


def parts(ctx: Context, number: str = "SO-1") -> list[tuple[str, int]]:
    return [(p.po_number, p.qty) for p in line_of(ctx, number).parts]


def test_with_split_off_a_line_no_single_po_line_covers_waits_whole(ctx: Context) -> None:
    two_small_po_lines(ctx)
    result = take_order(ctx, order("SO-1", ("A", 5)), actor="web")
    assert result.lines[0].skipped == "not enough outstanding on order"
    assert outbox.list_emails(ctx) == []


def test_with_split_on_two_po_lines_cover_it_and_the_email_lists_each_part(
    split: Context,
) -> None:
    line = line_of(split, "SO-1")
    assert parts(split) == [("PO-1", 3), ("PO-2", 2)]
    assert (line.linked_qty, line.expected) == (5, day(12))  # all of it by 7 Dec
    assert line.describe() == (
        "5 linked in 2 parts: 3 to PO-1 line 1 (expected 2026-11-30), "
        "2 to PO-2 line 1 (expected 2026-12-07)"
    )
    [email] = outbox.list_emails(split)
    body = outbox.show_email(split, email.id).body_text
    assert "3 x Item A (A), expected 30 November 2026" in body
    assert "2 x Item A (A), expected 7 December 2026" in body
    assert worklist(split) == {}


def test_goods_in_on_one_part_fulfils_that_part_only(split: Context) -> None:
    receive(split, "PO-1", 1, 3, actor="warehouse")
    line = line_of(split, "SO-1")
    assert (line.from_stock, parts(split)) == (3, [("PO-2", 2)])
    assert po_line_of(split, "PO-2").associated == 2


def test_when_one_part_no_longer_fits_the_whole_line_is_offered_again(split: Context) -> None:
    given_po(split, "PO-3", ("A", 8, day(20), "ON ORDER"))
    result = change_po_line_qty(split, "PO-1", 1, 1, actor="buyer")
    assert sorted((r.po_number, r.qty) for r in result.log.released) == [("PO-1", 3), ("PO-2", 2)]
    # Offered again: the earliest single PO line that covers all 5 now is PO-3.
    assert parts(split) == [("PO-3", 5)]
    assert [(o.line.number, o.po_number, o.linked_qty) for o in result.log.offered] == [
        ("SO-1", "PO-3", 5)
    ]


def test_a_customer_wanting_less_gives_up_the_latest_part_first(split: Context) -> None:
    result = change_so_line_qty(split, "SO-1", 1, 3, actor="clerk")
    assert [(r.po_number, r.qty) for r in result.log.released] == [("PO-2", 2)]
    assert parts(split) == [("PO-1", 3)]
    change_so_line_qty(split, "SO-1", 1, 2, actor="clerk")
    assert parts(split) == [("PO-1", 2)]


def test_unlinking_a_split_line_releases_every_part(split: Context) -> None:
    result = unlink_line(split, "SO-1", 1, actor="ann")
    assert sorted((r.po_number, r.qty) for r in result.log.released) == [("PO-1", 3), ("PO-2", 2)]
    assert worklist(split) == {"SO-1:1": "released"}
    assert (po_line_of(split, "PO-1").associated, po_line_of(split, "PO-2").associated) == (0, 0)


def test_a_late_part_puts_the_line_on_the_worklist_once_until_it_is_on_time(
    split: Context,
) -> None:
    change_due_date(split, "PO-2", 1, day(20), actor="buyer")
    [late] = list_backorders(split)
    assert (late.number, late.reason, late.po_number, late.expected) == (
        "SO-1",
        "late supply",
        "PO-2",
        day(20),
    )
    receive(split, "PO-2", 1, 3, actor="warehouse")  # the late part arrives after all
    assert worklist(split) == {}
    assert parts(split) == [("PO-1", 3)]
