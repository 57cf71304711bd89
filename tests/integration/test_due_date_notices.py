"""Did the customer hear about the delay? Due-date notices, over simulated time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from bopo.config import BackorderSettings, DatabaseSettings, EmailSettings, Settings
from bopo.db.engine import Database
from bopo.errors import Conflict
from bopo.services.context import Context
from bopo.services.email import mailer, outbox, templates
from bopo.services.orders.intake import take_order
from bopo.services.supply.changes import change_due_date
from tests.clock import T0, Clock
from tests.helpers import day, given_po, given_status, given_stock, order
from tests.smtp_sink import SmtpServer, smtp_to

NOTICE = """Dear {{ customer.name }},
{% for line in lines %}
{{ line.sku }}: was {{ line.previous_expected | date }}, now {{ line.expected | date }}
{% endfor %}"""


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shop(db_url: str, smtp: SmtpServer, clock: Clock) -> Iterator[Callable[..., Context]]:
    """A context on the test database with SMTP, the simulated clock and [backorders] options."""
    made: list[Context] = []

    def make(**backorders: Any) -> Context:
        settings = Settings(
            database=DatabaseSettings(url=db_url),
            backorders=BackorderSettings(allocate_existing_pos=True, **backorders),
            email=EmailSettings(from_address="shop@example.com", company_name="Kitchen & Co"),
            smtp=smtp_to(smtp.port),
        )
        ctx = Context(Database(db_url), settings, clock=clock)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.db.dispose()


def notice_template(ctx: Context, kind: str = "BACK_ORDER_UPDATE") -> None:
    templates.add_template(
        ctx, kind.title(), "Order {{ order.number }}: new dates", NOTICE, kind=kind, actor="t"
    )


def ada_and_bob_on_po1(ctx: Context) -> None:
    """PO-1 line 1: A due 30 Nov, line 2: B due 2 Dec. SO-ADA has A and B, SO-BOB has A."""
    given_stock(ctx, A=0, B=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"), ("B", 10, day(7), "ON ORDER"))
    take_order(ctx, order("SO-ADA", ("A", 2), ("B", 1), customer="ADA"), actor="web")
    take_order(ctx, order("SO-BOB", ("A", 3), customer="BOB"), actor="web")


def notices(ctx: Context) -> list[outbox.EmailView]:
    return [
        outbox.show_email(ctx, e.id)
        for e in outbox.list_emails(ctx)
        if e.event == "due_date" and e.state != "cancelled"
    ]


def test_a_slip_tells_each_linked_customer_the_old_and_the_new_date(
    shop: Callable[..., Context],
) -> None:
    ctx = shop()
    ada_and_bob_on_po1(ctx)
    notice_template(ctx)
    result = change_due_date(ctx, "PO-1", 1, day(12), actor="buyer")

    assert sorted((n.number, n.action) for n in result.notices) == [
        ("SO-ADA", "new"),
        ("SO-BOB", "new"),
    ]
    ada, bob = sorted(notices(ctx), key=lambda e: e.to_address)
    assert (ada.to_address, ada.subject) == (
        "ada@example.com",
        "Order SO-ADA: new dates",
    )
    assert "A: was 30 November 2026, now 7 December 2026" in ada.body_text
    assert "B:" not in ada.body_text  # its line on PO-1 line 2 did not move
    assert ada.next_attempt_at is None  # goes with the next mailer run
    assert len(bob.association_ids) == 1


def test_a_move_smaller_than_notify_delay_days_tells_no_one(shop: Callable[..., Context]) -> None:
    ctx = shop(notify_delay_days=3)
    ada_and_bob_on_po1(ctx)
    notice_template(ctx)
    change_due_date(ctx, "PO-1", 1, day(7), actor="buyer")  # two days later
    assert notices(ctx) == []
    change_due_date(ctx, "PO-1", 1, day(10), actor="buyer")  # three more
    assert len(notices(ctx)) == 2


def test_without_a_notice_template_nobody_is_told(shop: Callable[..., Context]) -> None:
    ctx = shop()
    ada_and_bob_on_po1(ctx)
    result = change_due_date(ctx, "PO-1", 1, day(12), actor="buyer")
    assert (result.notices, notices(ctx)) == ([], [])


def test_an_earlier_date_is_told_only_when_there_is_a_template_for_good_news(
    shop: Callable[..., Context],
) -> None:
    ctx = shop()
    ada_and_bob_on_po1(ctx)
    notice_template(ctx)
    change_due_date(ctx, "PO-1", 1, day(2), actor="buyer")
    assert notices(ctx) == []

    notice_template(ctx, "BACK_ORDER_EARLIER")
    change_due_date(ctx, "PO-1", 1, day(1), actor="buyer")
    assert sorted(e.template or "" for e in notices(ctx)) == [
        "Back_Order_Earlier",
        "Back_Order_Earlier",
    ]


def test_slipped_lines_of_one_order_go_out_as_one_email(shop: Callable[..., Context]) -> None:
    ctx = shop()
    ada_and_bob_on_po1(ctx)
    notice_template(ctx)
    change_due_date(ctx, "PO-1", 1, day(12), actor="buyer")
    result = change_due_date(ctx, "PO-1", 2, day(14), actor="buyer")

    assert [(n.number, n.action) for n in result.notices] == [("SO-ADA", "merged")]
    ada = next(e for e in notices(ctx) if e.sales_order == "web/SO-ADA")
    assert "A: was 30 November 2026, now 7 December 2026" in ada.body_text
    assert "B: was 2 December 2026, now 9 December 2026" in ada.body_text
    assert len(ada.association_ids) == 2


def test_at_most_one_notice_per_order_a_day_the_rest_held_back_and_merged(
    shop: Callable[..., Context], smtp: SmtpServer, clock: Clock
) -> None:
    ctx = shop()
    ada_and_bob_on_po1(ctx)
    notice_template(ctx)
    change_due_date(ctx, "PO-1", 1, day(12), actor="buyer")  # 09:00: the first slip
    mailer.send_emails(ctx)
    assert len(smtp.sink.received) == 2  # Ada and Bob hear at once

    clock.advance(hours=2)  # 11:00: it slips again
    result = change_due_date(ctx, "PO-1", 1, day(15), actor="buyer")
    held = T0 + timedelta(hours=24)
    assert [(n.number, n.action, n.send_after) for n in result.notices] == [
        ("SO-ADA", "new", held),
        ("SO-BOB", "new", held),
    ]
    clock.advance(hours=3)  # 14:00: Ada's other line slips too
    result = change_due_date(ctx, "PO-1", 2, day(10), actor="buyer")
    assert [(n.number, n.action) for n in result.notices] == [("SO-ADA", "merged")]
    clock.advance(hours=18)  # 08:00 next day: not yet
    mailer.send_emails(ctx)
    assert len(smtp.sink.received) == 2

    clock.advance(hours=1)  # 09:00: a day after the first notice
    mailer.send_emails(ctx)
    assert len(smtp.sink.received) == 4
    ada = next(r for r in smtp.sink.received[2:] if r.rcpt_tos == ["ada@example.com"])
    text = ada.part("plain")
    assert "A: was 7 December 2026, now 10 December 2026" in text
    assert "B: was 2 December 2026, now 5 December 2026" in text

    clock.advance(hours=6)  # 15:00: one more slip waits a day after the last notice went
    result = change_due_date(ctx, "PO-1", 1, day(16), actor="buyer")
    assert {n.send_after for n in result.notices} == {T0 + timedelta(hours=48)}


def test_a_date_back_where_it_was_drops_out_of_an_unsent_notice(
    shop: Callable[..., Context],
) -> None:
    ctx = shop()
    ada_and_bob_on_po1(ctx)
    notice_template(ctx)
    change_due_date(ctx, "PO-1", 1, day(12), actor="buyer")
    change_due_date(ctx, "PO-1", 2, day(12), actor="buyer")
    result = change_due_date(ctx, "PO-1", 1, day(5), actor="buyer")  # A back on 30 Nov

    assert sorted((n.number, n.action) for n in result.notices) == [
        ("SO-ADA", "merged"),
        ("SO-BOB", "cancelled"),
    ]
    [ada] = notices(ctx)
    assert "A:" not in ada.body_text
    assert "B: was 2 December 2026, now 7 December 2026" in ada.body_text


def test_there_is_one_template_of_each_notice_type(shop: Callable[..., Context]) -> None:
    ctx = shop()
    notice_template(ctx)
    with pytest.raises(Conflict, match="BACK_ORDER_UPDATE template already"):
        templates.add_template(ctx, "Another", "Dates", NOTICE, kind="BACK_ORDER_UPDATE", actor="t")
