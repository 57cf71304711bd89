"""Manual association, told as stories: a person links and unlinks worklist lines."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bopo.errors import Conflict, InvalidInput
from bopo.services.context import Context
from bopo.services.orders.intake import take_order
from bopo.services.supply.changes import change_due_date
from bopo.services.worklist.manual_links import link_line, list_candidates, unlink_line
from tests.helpers import (
    day,
    given_po,
    given_status,
    given_stock,
    line_of,
    order,
    po_line_of,
    worklist,
)


@pytest.fixture
def off(make_ctx: Callable[..., Context]) -> Context:
    """Allocation off: every backorder line waits for a person."""
    ctx = make_ctx(allocate_existing_pos=False, default_po_line_status="ON ORDER")
    given_stock(ctx, A=0, B=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 5, day(10)), ("B", 9, day(4), "ON ORDER"))
    given_po(ctx, "PO-2", ("A", 3, day(6), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 4)), actor="test")
    return ctx


def test_a_person_links_a_worklist_line_to_a_po_line_that_covers_it(off: Context) -> None:
    result = link_line(off, "SO-1", 1, "PO-1", 1, actor="ann")

    assert (result.po_number, result.qty, result.expected) == ("PO-1", 4, day(10))
    assert worklist(off) == {}
    assert line_of(off, "SO-1").po_number == "PO-1"
    line = po_line_of(off, "PO-1")
    assert (line.associated, line.status) == (4, "ON ORDER")  # the default status was given


def test_a_po_line_without_enough_free_on_order_is_refused(off: Context) -> None:
    with pytest.raises(Conflict, match="PO-2 line 1 has 3 free on order"):
        link_line(off, "SO-1", 1, "PO-2", 1, actor="ann")
    with pytest.raises(InvalidInput, match="another item"):
        link_line(off, "SO-1", 1, "PO-1", 2, actor="ann")
    assert worklist(off) == {"SO-1:1": "feature off"}


def test_a_linked_line_must_be_unlinked_before_it_is_linked_again(off: Context) -> None:
    link_line(off, "SO-1", 1, "PO-1", 1, actor="ann")
    with pytest.raises(Conflict, match="linked to PO-1 line 1 already"):
        link_line(off, "SO-1", 1, "PO-1", 1, actor="ann")


def test_an_unlinked_line_returns_to_the_worklist(off: Context) -> None:
    link_line(off, "SO-1", 1, "PO-1", 1, actor="ann")

    result = unlink_line(off, "SO-1", 1, actor="ann")

    assert (result.released.po_number, result.released.qty) == ("PO-1", 4)
    assert worklist(off) == {"SO-1:1": "released"}
    assert po_line_of(off, "PO-1").associated == 0
    with pytest.raises(Conflict, match="not linked"):
        unlink_line(off, "SO-1", 1, actor="ann")


def test_unlinking_offers_the_freed_quantity_to_the_next_waiting_order(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 4, day(10), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 4), delivery=day(3)), actor="test")
    take_order(ctx, order("SO-2", ("A", 4), delivery=day(5)), actor="test")

    result = unlink_line(ctx, "SO-1", 1, actor="ann")

    assert [(o.line.number, o.po_number) for o in result.log.offered] == [("SO-2", "PO-1")]
    assert worklist(ctx) == {"SO-1:1": "released"}


def test_candidates_are_the_po_lines_that_could_take_each_worklist_line(off: Context) -> None:
    take_order(off, order("SO-2", ("A", 2)), actor="test")

    shown = {
        (c.line.number): [(p.po_number, p.free_on_order) for p in c.candidates]
        for c in list_candidates(off)
    }

    assert shown == {"SO-1": [("PO-1", 5)], "SO-2": [("PO-2", 3), ("PO-1", 5)]}


def test_a_late_line_is_shown_the_other_po_lines(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 4, day(5), "ON ORDER"))
    given_po(ctx, "PO-2", ("A", 4, day(6), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 4), delivery=day(7)), actor="test")
    change_due_date(ctx, "PO-1", 1, day(30), actor="buyer")

    [late] = list_candidates(ctx)

    assert (late.line.reason, late.line.po_number) == ("late supply", "PO-1")
    assert [p.po_number for p in late.candidates] == ["PO-2"]


def test_a_late_line_is_re_linked_to_a_better_candidate_in_one_step(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 6, day(5), "ON ORDER"))
    given_po(ctx, "PO-2", ("A", 4, day(6), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 4), delivery=day(7)), actor="test")  # on PO-1
    change_due_date(ctx, "PO-1", 1, day(30), actor="buyer")  # SO-1 turns late
    take_order(ctx, order("SO-2", ("A", 6), delivery=day(40)), actor="test")  # waits: 2 free

    with pytest.raises(Conflict, match="unlink it first"):
        link_line(ctx, "SO-1", 1, "PO-2", 1, actor="ops")
    with pytest.raises(Conflict, match="linked to PO-1 line 1 already"):
        link_line(ctx, "SO-1", 1, "PO-1", 1, relink=True, actor="ops")
    done = link_line(ctx, "SO-1", 1, "PO-2", 1, relink=True, actor="ops")

    assert (done.po_number, done.qty) == ("PO-2", 4)
    line = line_of(ctx, "SO-1")
    assert (line.po_number, line.linked_qty, line.skipped) == ("PO-2", 4, None)
    assert "SO-1" not in [w.number for w in worklist(ctx)]  # no longer late
    # What SO-1 no longer holds on PO-1 goes to the next waiting line at once.
    assert (line_of(ctx, "SO-2").po_number, line_of(ctx, "SO-2").linked_qty) == ("PO-1", 6)
