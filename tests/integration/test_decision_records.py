"""Why did this order get that PO line? Each allocation decision is recorded and explained."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bopo.db.models import AllocationDecision
from bopo.errors import NotFound
from bopo.services.common.serial import to_json
from bopo.services.context import Context
from bopo.services.orders.intake import take_order, take_orders
from bopo.services.promise.explain import explain_order
from bopo.services.supply.changes import cancel_purchase_order
from bopo.services.supply.goods_in import receive
from bopo.services.worklist.backorders import allocate_worklist
from bopo.services.worklist.manual_links import link_line
from tests.helpers import day, given_po, given_status, given_stock, order

NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def ctx(make_ctx: Callable[..., Context]) -> Context:
    """Allocation on, and the clock at noon on the tests' today."""
    context = make_ctx()
    context.clock = lambda: NOON
    return context


def decisions_of(ctx: Context, number: str, line_no: int = 1) -> list[str]:
    return [d.text for d in explain_order(ctx, number, line_no).lines[0].decisions]


def records(ctx: Context) -> int:
    with ctx.db.read() as conn:
        return conn.scalar(select(func.count()).select_from(AllocationDecision)) or 0


def two_pos(ctx: Context) -> None:
    """PO-1: 10 of A due 20 Dec; PO-2: 5 of A due 5 Dec."""
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 10, day(25), "ON ORDER"))
    given_po(ctx, "PO-2", ("A", 5, day(10), "ON ORDER"))


def test_explain_says_why_an_order_got_its_po_line_and_what_else_fitted(ctx: Context) -> None:
    two_pos(ctx)
    take_order(ctx, order("SO-1", ("A", 4)), actor="web")

    [why] = decisions_of(ctx, "SO-1")
    assert why == (
        "When the order came in (25 Nov 2026): Linked to PO-2 line 1, due 5 Dec: the earliest "
        "due date with 5 free ≥ 4 needed. PO-1 line 1 (due 20 Dec) also fitted."
    )
    line = explain_order(ctx, "SO-1").lines[0]
    assert line.text.startswith("Line 1 (A x4): 4 linked to PO-2 line 1 (expected 2026-12-05).")
    assert to_json(line)["decisions"][0]["candidates"] == [
        {
            "po_line": "PO-2 line 1",
            "po_number": "PO-2",
            "po_line_no": 1,
            "due_date": "2026-12-05",
            "free": 5,
            "taken": 4,
            "chosen": True,
        },
        {
            "po_line": "PO-1 line 1",
            "po_number": "PO-1",
            "po_line_no": 1,
            "due_date": "2026-12-20",
            "free": 10,
            "taken": 0,
            "chosen": False,
        },
    ]


def test_a_skipped_line_is_explained_with_the_po_lines_that_fell_short(ctx: Context) -> None:
    two_pos(ctx)
    take_order(ctx, order("SO-1", ("A", 12)), actor="web")
    [why] = decisions_of(ctx, "SO-1")
    assert why.endswith(
        "Not linked, 12 waiting: no PO line had 12 free: PO-2 line 1 (due 5 Dec) had 5 free; "
        "PO-1 line 1 (due 20 Dec) had 10 free."
    )


def test_a_cancelled_po_adds_the_reallocation_to_the_story(ctx: Context) -> None:
    two_pos(ctx)
    take_order(ctx, order("SO-1", ("A", 4)), actor="web")
    cancel_purchase_order(ctx, "PO-2", actor="buyer")

    first, second = decisions_of(ctx, "SO-1")
    assert "Linked to PO-2 line 1" in first
    assert second.startswith("On re-allocation (25 Nov 2026): Linked to PO-1 line 1, due 20 Dec")


def test_goods_in_tells_each_order_what_it_got_and_in_which_order_they_were_served(
    ctx: Context,
) -> None:
    two_pos(ctx)
    take_orders(
        ctx,
        [order("SO-1", ("A", 3), delivery=day(9)), order("SO-2", ("A", 2), delivery=day(3))],
        actor="web",
    )
    receive(ctx, "PO-2", 1, 4, actor="warehouse")

    assert decisions_of(ctx, "SO-2")[-1] == (
        "At goods in (25 Nov 2026): 4 received on PO-2 line 1; this line got 2 of the 2 it "
        "waited for (the PO line's linked orders are served first, by priority, then "
        "delivery date)."
    )
    assert "this line got 2 of the 3" in decisions_of(ctx, "SO-1")[-1]


def test_a_link_made_by_hand_says_a_person_chose_it(make_ctx: Callable[..., Context]) -> None:
    off = make_ctx(allocate_existing_pos=False)
    off.clock = lambda: NOON
    two_pos(off)
    take_order(off, order("SO-1", ("A", 4)), actor="web")
    assert decisions_of(off, "SO-1") == []  # switched off: nothing was decided

    link_line(off, "SO-1", 1, "PO-1", 1, actor="ann")
    [why] = decisions_of(off, "SO-1")
    assert why == (
        "Linked by hand (25 Nov 2026): Linked to PO-1 line 1, due 20 Dec, chosen by a person "
        "(10 free ≥ 4 needed). PO-2 line 1 (due 5 Dec) could also have taken it."
    )


def test_a_worklist_retry_records_only_the_lines_it_changed(ctx: Context) -> None:
    given_stock(ctx, A=0, B=0)
    given_status(ctx, "ON ORDER")
    take_orders(ctx, [order("SO-1", ("A", 2)), order("SO-2", ("B", 2))], actor="web")
    before = records(ctx)
    allocate_worklist(ctx, actor="system")
    assert records(ctx) == before  # nothing changed, nothing recorded

    given_po(ctx, "PO-1", ("A", 5, day(4), "ON ORDER"))
    allocate_worklist(ctx, actor="system")
    assert records(ctx) == before + 1
    assert decisions_of(ctx, "SO-1")[-1].startswith(
        "On a worklist retry (25 Nov 2026): Linked to PO-1 line 1, due 29 Nov"
    )


def test_explain_one_line_or_every_line_of_an_order(ctx: Context) -> None:
    two_pos(ctx)
    given_stock(ctx, B=3)
    take_order(ctx, order("SO-1", ("A", 4), ("B", 1)), actor="web")
    both = explain_order(ctx, "SO-1")
    assert [line.line.line_no for line in both.lines] == [1, 2]
    assert both.lines[1].text == (
        "Line 2 (B x1): 1 from stock. No allocation decision was recorded for it."
    )
    with pytest.raises(NotFound):
        explain_order(ctx, "SO-1", 9)
