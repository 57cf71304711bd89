"""Overdue supply: a PO line due before today is still allocated, but its date is never
given as the one to expect."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from bopo.services.context import Context
from bopo.services.email import outbox
from bopo.services.orders.intake import take_order
from bopo.services.promise.explain import explain_order
from bopo.services.worklist import dashboard
from tests.helpers import TODAY, day, given_po, given_status, given_stock, given_template, order

MORNING = datetime.combine(TODAY, time(9), tzinfo=UTC)


@pytest.fixture
def late_po(ctx: Context) -> Context:
    """PO-1 brings 10 A, due 29 Nov; today is 1 Dec. PO-2 brings 10 B, due 9 Dec."""
    ctx.clock = lambda: MORNING + timedelta(days=6)
    given_stock(ctx, A=0, B=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("A", 10, day(4), "ON ORDER"))
    given_po(ctx, "PO-2", ("B", 10, day(14), "ON ORDER"))
    return ctx


def test_an_overdue_po_line_still_takes_orders_but_the_email_promises_no_date(
    late_po: Context,
) -> None:
    result = take_order(late_po, order("SO-1", ("A", 2), ("B", 1), delivery=day(20)), actor="t")

    assert [line.outcome for line in result.lines] == ["linked", "linked"]
    assert result.lines[0].overdue
    assert not result.lines[1].overdue
    assert "overdue, was due 2026-11-29" in result.lines[0].describe()
    [email] = outbox.list_emails(late_po)
    body = outbox.show_email(late_po, email.id).body_text
    assert "2 x Item A (A), expected to be confirmed" in body
    assert "29 November" not in body
    assert "1 x Item B (B), expected 9 December 2026" in body


def test_explain_says_overdue_not_expected_for_a_date_gone_by(late_po: Context) -> None:
    late_po.clock = lambda: MORNING  # linked while the date was still to come
    take_order(late_po, order("SO-1", ("A", 2), delivery=day(20)), actor="t")
    late_po.clock = lambda: MORNING + timedelta(days=6)

    [line] = explain_order(late_po, "SO-1").lines

    assert "2 linked to PO-1 line 1 (overdue, was due 2026-11-29)" in line.text
    assert "Linked to PO-1 line 1, overdue (was due 29 Nov)" in line.text
    assert "expected 2026-11-29" not in line.text
    assert "due 29 Nov:" not in line.text


def test_before_the_date_explain_still_gives_it_as_expected(late_po: Context) -> None:
    late_po.clock = lambda: MORNING
    take_order(late_po, order("SO-1", ("A", 2), delivery=day(20)), actor="t")
    [line] = explain_order(late_po, "SO-1").lines
    assert "2 linked to PO-1 line 1 (expected 2026-11-29)" in line.text
    assert "Linked to PO-1 line 1, due 29 Nov:" in line.text


def test_the_dashboard_counts_the_orders_waiting_on_overdue_supply(late_po: Context) -> None:
    take_order(late_po, order("SO-1", ("A", 2), delivery=day(20)), actor="t")
    take_order(late_po, order("SO-2", ("A", 1), ("B", 1), delivery=day(20)), actor="t")
    take_order(late_po, order("SO-3", ("B", 1), delivery=day(20)), actor="t")

    o = dashboard.overview(late_po)

    assert (o.overdue_po_lines, o.orders_on_overdue) == (1, 2)
