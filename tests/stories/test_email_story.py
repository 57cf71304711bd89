"""Back-order emails from the outbox to the customer's inbox, true when they leave.

Told in order, as the person minding the outbox sees it: the emails the morning's
orders queued, one read before it goes, one cancelled, one that a supplier's new date
makes untrue and that gives way to one saying the new date, and the batch mailer
handing each to the mail server once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bopo.services.context import Context
from bopo.services.email import mailer, outbox
from bopo.services.orders.intake import take_order
from bopo.services.supply.catalog import list_statuses
from bopo.services.supply.changes import change_due_date
from bopo.smtp import SmtpTransport
from tests.helpers import day, given_po, given_status, given_stock, given_template, order
from tests.smtp_sink import SmtpServer, smtp_to

HTML = """<p>Dear {{ customer.name }},</p>
<ul>{% for line in lines %}
<li>{{ line.qty }} x {{ line.item_name }}, {{ line.expected | date }}</li>
{% endfor %}</ul>"""


@pytest.fixture
def mail_server() -> Iterator[SmtpServer]:
    """The shop's mail server: a real SMTP server that keeps what it is given."""
    smtp = SmtpServer().start()
    yield smtp
    smtp.stop()


def pending(ctx: Context) -> dict[str, outbox.EmailSummary]:
    """The emails waiting to go, by order number."""
    return {
        (e.sales_order or "").removeprefix("web/"): e
        for e in outbox.list_emails(ctx, state="pending")
    }


def batch_mailer(ctx: Context, server: SmtpServer) -> mailer.SendSummary:
    """One run of the batch mailer (`bopo emails send`) against the shop's mail server."""
    transport = SmtpTransport(smtp_to(server.port))
    try:
        return mailer.send_emails(ctx, transport=transport)
    finally:
        transport.close()


def test_the_outbox_from_orders_to_inboxes(
    ctx: Context, mail_server: SmtpServer
) -> None:  # long: one story, read top to bottom
    # Kettles due in five days and pans in nine, on PO-1; ON ORDER says "Back order".
    given_stock(ctx, KETTLE=0, PAN=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, "Back order", html=HTML, statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("KETTLE", 10, day(5), "ON ORDER"), ("PAN", 10, day(9), "ON ORDER"))
    assert [(s.code, s.template) for s in list_statuses(ctx)] == [("ON ORDER", "Back order")]
    assert outbox.count_emails(ctx)["pending"] == 0

    # --- The morning's orders: everything is on order, so each customer gets an email ---------
    taken = [
        take_order(ctx, order("SO-1", ("KETTLE", 2), ("PAN", 1), customer="ADA"), actor="web"),
        take_order(ctx, order("SO-2", ("PAN", 4), customer="BOB"), actor="web"),
        take_order(ctx, order("SO-3", ("KETTLE", 1), customer="CY"), actor="web"),
    ]
    assert [[line.outcome for line in t.lines] for t in taken] == [
        ["linked", "linked"],
        ["linked"],
        ["linked"],
    ]

    # --- The outbox: three emails wait, one per order -----------------------------------------
    waiting = pending(ctx)
    assert {n: (e.to_address, e.subject) for n, e in waiting.items()} == {
        "SO-1": ("ada@example.com", "Your order SO-1: expected dates"),
        "SO-2": ("bob@example.com", "Your order SO-2: expected dates"),
        "SO-3": ("cy@example.com", "Your order SO-3: expected dates"),
    }
    assert outbox.count_emails(ctx)["pending"] == 3

    # --- Ann reads Ada's email before it goes: one line per item on order ---------------------
    ada = outbox.show_email(ctx, waiting["SO-1"].id)
    assert ada.to_name == "Customer ADA"
    assert "Dear Customer ADA," in ada.body_text
    assert "2 x Item KETTLE (KETTLE), expected 30 November 2026" in ada.body_text
    assert "1 x Item PAN (PAN), expected 4 December 2026" in ada.body_text
    assert "<li>2 x Item KETTLE, 30 November 2026</li>" in (ada.body_html or "")

    # --- Cy has phoned and knows already: Ann cancels his email -------------------------------
    cancelled = outbox.cancel_email(ctx, waiting["SO-3"].id, actor="ann")
    assert cancelled.state == "cancelled"

    # --- Before the mailer runs, the kettles' supplier moves the date a day later -------------
    change_due_date(ctx, "PO-1", 1, day(6), actor="buyer")
    # Ada's email said 30 November: it is superseded by one that says 1 December.
    old = outbox.show_email(ctx, ada.id)
    assert old.state == "superseded"
    assert old.superseded_reason == "line 1: PO-1 line 1 now due 1 Dec, not 30 Nov"
    new = outbox.show_email(ctx, pending(ctx)["SO-1"].id)
    assert old.superseded_by == new.id
    assert "2 x Item KETTLE (KETTLE), expected 1 December 2026" in new.body_text
    assert "30 November" not in new.body_text
    # Bob has no kettles: his email is the one queued this morning, untouched.
    assert pending(ctx)["SO-2"].id == waiting["SO-2"].id
    assert outbox.show_email(ctx, cancelled.id).state == "cancelled"

    # --- The batch mailer runs: Ada and Bob each get one email --------------------------------
    sent = batch_mailer(ctx, mail_server)
    assert (sent.sent, sent.failed, sent.superseded) == (2, 0, 0)
    inbox = {r.rcpt_tos[0]: r for r in mail_server.sink.received}
    assert sorted(inbox) == ["ada@example.com", "bob@example.com"]
    ada_got = inbox["ada@example.com"]
    assert ada_got.message["Subject"] == "Your order SO-1: expected dates"
    assert ada_got.message["To"] == "Customer ADA <ada@example.com>"
    assert "2 x Item KETTLE (KETTLE), expected 1 December 2026" in ada_got.part("plain")
    assert "30 November" not in ada_got.part("plain")
    assert "4 x Item PAN (PAN), expected 4 December 2026" in inbox["bob@example.com"].part("plain")
    # What left is the email the outbox shows, and the superseded one never left.
    assert ada_got.message_id == new.message_id
    assert ada.message_id not in mail_server.sink.ids()

    # --- The outbox afterwards: two sent, one superseded, one cancelled -----------------------
    counts = {state: n for state, n in outbox.count_emails(ctx).items() if n}
    assert counts == {"sent": 2, "superseded": 1, "cancelled": 1}
    assert all(e.sent_at is not None for e in outbox.list_emails(ctx, state="sent"))

    # --- The mailer runs again (cron every minute): nothing goes twice ------------------------
    again = batch_mailer(ctx, mail_server)
    assert again.sent == 0
    assert len(mail_server.sink.ids()) == 2
