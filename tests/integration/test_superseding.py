"""An unsent email is true when it leaves: a change that makes it untrue supersedes it
with one that says what is true (or with none), in the same transaction."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from bopo.db.models import PendingEmail
from bopo.errors import Conflict
from bopo.services.context import Context
from bopo.services.email import mailer, outbox
from bopo.services.orders import demand_changes
from bopo.services.orders.intake import take_order
from bopo.services.supply import changes, goods_in
from bopo.services.supply.status_change import set_po_line_status
from bopo.services.worklist import manual_links
from bopo.smtp import SmtpTransport
from tests.helpers import TODAY, day, given_po, given_status, given_stock, given_template, order
from tests.smtp_sink import Sink, SmtpServer, smtp_to

MORNING = datetime.combine(TODAY, time(9), tzinfo=UTC)


@pytest.fixture
def scene(ctx: Context) -> Context:
    """SO-1 waits for 2 A (PO-1 line 1, due in 5 days) and 3 B (PO-1 line 2, due in 9),
    both under ON ORDER, whose template is "Back order"; PO-2 has 10 more A, due in 12.
    One email waits, stating both lines."""
    ctx.clock = lambda: MORNING
    given_stock(ctx, A=0, B=0, C=0)
    given_status(ctx, "ON ORDER")
    given_status(ctx, "DELAYED")
    given_template(ctx, "Back order", statuses=("ON ORDER",))
    given_template(ctx, "Delayed", subject="Delayed: {{ order.number }}", statuses=("DELAYED",))
    given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"), ("B", 10, day(9), "ON ORDER"))
    given_po(ctx, "PO-2", ("A", 10, day(12), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 2), ("B", 3)), actor="test")
    [first] = outbox.list_emails(ctx, state="pending")
    assert "2 x Item A (A), expected 30 November 2026" in outbox.show_email(ctx, first.id).body_text
    return ctx


def waiting(ctx: Context, template: str = "Back order") -> outbox.EmailView | None:
    found = [e for e in outbox.list_emails(ctx, state="pending") if e.template == template]
    assert len(found) <= 1, "two emails wait for one order and template"
    return outbox.show_email(ctx, found[0].id) if found else None


def superseded(ctx: Context) -> list[outbox.EmailSummary]:
    return outbox.list_emails(ctx, state="superseded")


def test_unlinking_a_line_supersedes_the_email_with_one_for_the_line_still_linked(
    scene: Context,
) -> None:
    manual_links.unlink_line(scene, "SO-1", 2, actor="ann")

    [old] = superseded(scene)
    new = waiting(scene)
    assert new is not None
    assert old.superseded_by == new.id
    assert old.superseded_reason == "line 2: no longer linked to PO-1 line 2"
    assert "2 x Item A (A), expected 30 November 2026" in new.body_text
    assert "Item B" not in new.body_text
    assert new.event == "intake"


def test_cutting_a_po_line_supersedes_the_email_with_the_line_re_linked_elsewhere(
    scene: Context,
) -> None:
    changes.change_po_line_qty(scene, "PO-1", 1, 1, actor="buyer")

    [old] = superseded(scene)
    new = waiting(scene)
    assert new is not None
    assert old.superseded_by == new.id
    assert "2 x Item A (A), expected 7 December 2026" in new.body_text  # PO-2 now
    assert "3 x Item B (B), expected 4 December 2026" in new.body_text
    assert new.event == "reallocation"


def test_cancelling_a_po_line_supersedes_the_email_with_one_without_that_line(
    scene: Context,
) -> None:
    changes.cancel_po_line(scene, "PO-1", 2, actor="buyer")

    [old] = superseded(scene)
    new = waiting(scene)
    assert new is not None
    assert old.superseded_by == new.id
    assert "Item B" not in new.body_text
    assert "2 x Item A (A), expected 30 November 2026" in new.body_text


def test_cancelling_the_sales_order_supersedes_its_email_with_none(scene: Context) -> None:
    demand_changes.cancel_sales_order(scene, "SO-1", actor="clerk")

    [old] = superseded(scene)
    assert old.superseded_by is None
    assert old.superseded_reason == "the order is cancelled"
    assert waiting(scene) is None


def test_cancelling_one_sales_order_line_leaves_an_email_for_the_other(scene: Context) -> None:
    demand_changes.cancel_so_line(scene, "SO-1", 1, actor="clerk")

    new = waiting(scene)
    assert new is not None
    assert "Item A" not in new.body_text
    assert "3 x Item B (B), expected 4 December 2026" in new.body_text


def test_receiving_the_goods_supersedes_the_email_with_one_for_what_is_still_coming(
    scene: Context,
) -> None:
    goods_in.receive(scene, "PO-1", 1, 10, actor="warehouse")

    [old] = superseded(scene)
    assert old.superseded_reason == "line 1: the goods came in on PO-1 line 1"
    new = waiting(scene)
    assert new is not None
    assert old.superseded_by == new.id
    assert "Item A" not in new.body_text
    assert "3 x Item B (B), expected 4 December 2026" in new.body_text


def test_a_moved_due_date_supersedes_the_email_with_one_giving_the_new_date(
    scene: Context,
) -> None:
    changes.change_due_date(scene, "PO-1", 1, day(8), actor="buyer")

    [old] = superseded(scene)
    assert old.superseded_reason == "line 1: PO-1 line 1 now due 3 Dec, not 30 Nov"
    new = waiting(scene)
    assert new is not None
    assert old.superseded_by == new.id
    assert "2 x Item A (A), expected 3 December 2026" in new.body_text
    assert "30 November" not in new.body_text


def test_a_status_change_supersedes_the_email_and_each_template_says_its_own_lines(
    scene: Context,
) -> None:
    set_po_line_status(scene, "PO-1", 2, "DELAYED", actor="buyer")

    [old] = superseded(scene)
    assert "PO-1 line 2 has a status with another email" in (old.superseded_reason or "")
    on_order, delayed = waiting(scene), waiting(scene, "Delayed")
    assert on_order is not None
    assert delayed is not None
    assert old.superseded_by == on_order.id
    assert "Item B" not in on_order.body_text
    assert "2 x Item A (A)" in on_order.body_text
    assert "3 x Item B (B), expected 4 December 2026" in delayed.body_text
    assert delayed.event == "status_change"


def test_a_status_losing_its_template_supersedes_the_email_with_none(scene: Context) -> None:
    from bopo.services.supply import catalog

    catalog.set_status_template(scene, "ON ORDER", None, actor="admin")

    [old] = superseded(scene)
    assert old.superseded_by is None
    assert waiting(scene) is None


def test_a_manual_link_joins_the_orders_waiting_email(scene: Context) -> None:
    take_order(scene, order("SO-2", ("A", 1), ("C", 2), customer="BOB"), actor="test")
    [before] = [
        e for e in outbox.list_emails(scene, state="pending") if e.sales_order == "web/SO-2"
    ]
    given_po(scene, "PO-3", ("C", 5, day(3), "ON ORDER"))

    manual_links.link_line(scene, "SO-2", 2, "PO-3", 1, actor="ann")

    emails = [e for e in outbox.list_emails(scene) if e.sales_order == "web/SO-2"]
    assert next((e.id, e.state) for e in emails) == (before.id, "superseded")
    [new] = [e for e in emails if e.state == "pending"]
    body = outbox.show_email(scene, new.id).body_text
    assert "1 x Item A (A)" in body
    assert "2 x Item C (C), expected 28 November 2026" in body
    assert new.event == "manual_link"
    assert emails[0].superseded_reason == "lines linked since join it"


def test_the_database_refuses_a_second_waiting_email_for_one_order_and_template(
    scene: Context,
) -> None:
    [email] = outbox.list_emails(scene, state="pending")
    with pytest.raises(IntegrityError), scene.db.write() as conn:
        conn.execute(
            insert(PendingEmail).values(
                sales_order_id=email.sales_order_id,
                template_id=conn.scalar(select(PendingEmail.template_id)),
                event="intake",
                to_address="c1@example.com",
                subject="again",
                body_text="again",
                message_id="<again@example.com>",
                created_at=MORNING,
            )
        )


def test_a_superseded_email_cannot_be_retried_or_cancelled(scene: Context) -> None:
    manual_links.unlink_line(scene, "SO-1", 2, actor="ann")
    [old] = superseded(scene)
    with pytest.raises(Conflict, match="superseded"):
        outbox.retry_email(scene, old.id, actor="ann")
    with pytest.raises(Conflict, match="superseded"):
        outbox.cancel_email(scene, old.id, actor="ann")


# --- the mailer looks again ---------------------------------------------------------------


@pytest.fixture
def sink() -> Iterator[SmtpServer]:
    smtp = SmtpServer().start()
    yield smtp
    smtp.stop()


def test_the_mailer_never_sends_a_date_that_has_passed_meanwhile(
    scene: Context, sink: SmtpServer
) -> None:
    """Queued while PO-1 line 1 was due in 5 days; the mailer runs a week later."""
    scene.clock = lambda: MORNING + timedelta(days=7)
    transport = SmtpTransport(smtp_to(sink.port))

    summary = mailer.send_emails(scene, transport=transport)
    transport.close()

    assert (summary.sent, summary.superseded) == (1, 1)
    [old] = superseded(scene)
    assert old.superseded_reason == "line 1: PO-1 line 1 is overdue (was due 30 Nov)"
    [received] = sink.sink.received
    text = received.part("plain")
    assert "30 November" not in text
    assert "2 x Item A (A), expected to be confirmed" in text
    assert "3 x Item B (B), expected 4 December 2026" in text
    assert received.message_id == outbox.show_email(scene, old.superseded_by or 0).message_id


def test_the_mailer_supersedes_an_email_put_back_after_its_links_changed(
    scene: Context, sink: SmtpServer
) -> None:
    """A failed email a person retries is looked at again before it goes."""
    from sqlalchemy import update

    [email] = outbox.list_emails(scene, state="pending")
    with scene.db.write() as conn:  # as the mailer leaves one that failed
        conn.execute(update(PendingEmail).values(state="failed", attempts=5))
    manual_links.unlink_line(scene, "SO-1", 1, actor="ann")  # not pending: left alone
    outbox.retry_email(scene, email.id, actor="ann")
    transport = SmtpTransport(smtp_to(sink.port))

    summary = mailer.send_emails(scene, transport=transport)
    transport.close()

    assert summary.superseded == 1
    [received] = sink.sink.received
    assert "Item A" not in received.part("plain")
    assert outbox.show_email(scene, email.id).state == "superseded"


@dataclass
class ChangeWhileSending(Sink):
    """A server that answers the first message "try again later", and while it is being
    sent a buyer cuts PO-1 line 1: SO-1's line 1 moves to PO-2, which queues a new email."""

    ctx: Context | None = None
    answered: bool = False

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if not self.answered and self.ctx is not None:
            self.answered = True
            changes.change_po_line_qty(self.ctx, "PO-1", 1, 1, actor="buyer")
            return "451 4.3.0 try again later"
        return await super().handle_RCPT(server, session, envelope, address, options)


def test_an_email_put_back_gives_way_to_the_one_a_change_queued_while_it_was_out(
    scene: Context,
) -> None:
    sink = ChangeWhileSending(ctx=scene)
    smtp = SmtpServer(sink).start()
    transport = SmtpTransport(smtp_to(smtp.port))
    try:
        summary = mailer.send_emails(scene, transport=transport)
    finally:
        transport.close()
        smtp.stop()

    [old] = superseded(scene)
    assert old.superseded_reason == "a newer email for this order waits to be sent"
    assert summary.sent == 1
    [received] = sink.received
    assert received.message_id == outbox.show_email(scene, old.superseded_by or 0).message_id
    assert "2 x Item A (A), expected 7 December 2026" in received.part("plain")
    assert waiting(scene) is None
