"""The batch mailer against a real SMTP server (aiosmtpd in the test process)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from time import sleep
from typing import Any

import pytest
from sqlalchemy import select, update

from bopo.config import BackorderSettings, DatabaseSettings, EmailSettings, Settings
from bopo.db.engine import Database
from bopo.db.models import PendingEmail
from bopo.services.common.inputs import NewCustomer
from bopo.services.context import Context
from bopo.services.email import mailer, outbox
from bopo.services.orders.intake import take_orders
from bopo.services.orders.outcomes import OrderResult
from bopo.smtp import SmtpTransport
from tests.clock import Clock
from tests.helpers import TODAY, day, given_po, given_status, given_stock, given_template, order
from tests.smtp_sink import Sink, SmtpServer, smtp_to

HTML = """<p>Dear {{ customer.name }},</p>
<table>{% for line in lines %}
<tr><td>{{ line.item_name }}</td><td>{{ line.qty }}</td><td>{{ line.expected | date }}</td></tr>
{% endfor %}</table>"""


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    smtp = SmtpServer().start()
    yield smtp
    smtp.stop()


@pytest.fixture
def make_mail_ctx(db_url: str) -> Iterator[Callable[..., Context]]:
    made: list[Context] = []

    def make(port: int, clock: Callable[[], Any] | None = None, **email: Any) -> Context:
        settings = Settings(
            database=DatabaseSettings(url=db_url),
            backorders=BackorderSettings(allocate_existing_pos=True),
            email=EmailSettings(
                **{
                    "company_name": "Kitchen & Co",
                    "from_address": "orders@kitchen.example",
                    "retry_delay_seconds": 0,
                }
                | email
            ),
            smtp=smtp_to(port),
        )
        ctx = Context(Database(db_url), settings, clock=clock or Clock(ticking=True))
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.db.dispose()


def given_orders_with_emails(ctx: Context, *orders: Any) -> list[OrderResult]:
    given_stock(ctx, KETTLE=0, PAN=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, html=HTML, statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("KETTLE", 500, day(5), "ON ORDER"), ("PAN", 500, day(9), "ON ORDER"))
    return take_orders(ctx, list(orders), actor="test")


def _states(ctx: Context) -> dict[str, int]:
    return {s: n for s, n in outbox.count_emails(ctx).items() if n}


def test_each_customer_gets_one_email_with_text_and_html_bodies(
    make_mail_ctx: Callable[..., Context], server: SmtpServer
) -> None:
    # The dates below are promised only while they are still to come: today is fixed.
    ctx = make_mail_ctx(server.port, clock=lambda: datetime.combine(TODAY, time(9), tzinfo=UTC))
    given_orders_with_emails(
        ctx,
        order("SO-1", ("KETTLE", 2), ("PAN", 1), customer="ADA"),
        order("SO-2", ("PAN", 4), customer="BOB"),
    )

    summary = mailer.send_emails(ctx)

    assert (summary.sent, summary.failed) == (2, 0)
    by_to = {r.rcpt_tos[0]: r for r in server.sink.received}
    assert sorted(by_to) == ["ada@example.com", "bob@example.com"]
    ada = by_to["ada@example.com"]
    assert ada.mail_from == "orders@kitchen.example"
    sender = ada.message["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ("Kitchen & Co", "orders@kitchen.example")
    assert ada.message["To"] == "Customer ADA <ada@example.com>"
    assert ada.message["Subject"] == "Your order SO-1: expected dates"
    text = ada.part("plain")
    assert "2 x Item KETTLE (KETTLE), expected 30 November 2026" in text
    assert "1 x Item PAN (PAN), expected 4 December 2026" in text
    assert "<td>Item PAN</td><td>1</td><td>4 December 2026</td>" in ada.part("html")
    stored = {e.to_address: e for e in outbox.list_emails(ctx)}
    assert ada.message_id == outbox.show_email(ctx, stored["ada@example.com"].id).message_id
    assert _states(ctx) == {"sent": 2}
    assert stored["ada@example.com"].sent_at is not None


def test_text_a_customer_typed_is_escaped_in_html_and_kept_in_text(
    make_mail_ctx: Callable[..., Context], server: SmtpServer
) -> None:
    ctx = make_mail_ctx(server.port)
    evil = order("SO-1", ("KETTLE", 1), customer="EVE")
    evil = evil.model_copy(
        update={"customer": evil.customer.model_copy(update={"name": 'Eve <b>"&"</b>'})}
    )
    given_orders_with_emails(ctx, evil)

    mailer.send_emails(ctx)

    [received] = server.sink.received
    assert "<p>Dear Eve &lt;b&gt;&#34;&amp;&#34;&lt;/b&gt;,</p>" in received.part("html")
    assert 'Dear Eve <b>"&"</b>,' in received.part("plain")


def test_emails_wait_while_the_smtp_server_is_down_and_go_once_it_is_back(
    make_mail_ctx: Callable[..., Context],
) -> None:
    down = SmtpServer()  # not started: nothing listens there yet
    ctx = make_mail_ctx(down.port, max_attempts=5)
    given_orders_with_emails(
        ctx, order("SO-1", ("KETTLE", 1), customer="ADA"), order("SO-2", ("PAN", 1), customer="BOB")
    )

    summary = mailer.send_emails(ctx)

    assert summary.sent == 0
    assert summary.stopped is not None
    assert "server unreachable" in summary.stopped
    emails = outbox.list_emails(ctx)
    assert {e.state for e in emails} == {"pending"}
    assert {e.attempts for e in emails} == {1}
    assert all("Connection refused" in (e.last_error or "") for e in emails)

    down.start()
    try:
        assert mailer.send_emails(ctx).sent == 2
    finally:
        down.stop()
    assert sorted(r.rcpt_tos[0] for r in down.sink.received) == [
        "ada@example.com",
        "bob@example.com",
    ]
    assert _states(ctx) == {"sent": 2}


def test_a_recipient_the_server_refuses_fails_that_email_and_the_others_go(
    make_mail_ctx: Callable[..., Context],
) -> None:
    server = SmtpServer(Sink(refuse={"bob@example.com": "550 5.1.1 no such mailbox"})).start()
    try:
        ctx = make_mail_ctx(server.port)
        given_orders_with_emails(
            ctx,
            order("SO-1", ("KETTLE", 1), customer="ADA"),
            order("SO-2", ("KETTLE", 1), customer="BOB"),
            order("SO-3", ("PAN", 1), customer="CY"),
        )
        summary = mailer.send_emails(ctx)
    finally:
        server.stop()

    assert (summary.sent, summary.failed) == (2, 1)
    assert sorted(r.rcpt_tos[0] for r in server.sink.received) == [
        "ada@example.com",
        "cy@example.com",
    ]
    [bob] = outbox.list_emails(ctx, state="failed")
    assert bob.to_address == "bob@example.com"
    assert bob.attempts == 1
    assert "550 5.1.1 no such mailbox" in (bob.last_error or "")


def test_a_temporary_refusal_is_retried_later_and_fails_after_max_attempts(
    make_mail_ctx: Callable[..., Context],
) -> None:
    server = SmtpServer(Sink(refuse={"ada@example.com": "450 4.2.1 mailbox busy"})).start()
    clock = Clock()
    try:
        ctx = make_mail_ctx(server.port, clock=clock, max_attempts=3, retry_delay_seconds=60)
        given_orders_with_emails(ctx, order("SO-1", ("KETTLE", 1), customer="ADA"))

        assert mailer.send_emails(ctx).retrying == 1
        [email] = outbox.list_emails(ctx)
        assert (email.state, email.attempts) == ("pending", 1)
        assert "450 4.2.1 mailbox busy" in (email.last_error or "")
        assert email.next_attempt_at == clock.now + timedelta(seconds=60)

        assert mailer.send_emails(ctx).retrying == 0  # not due yet
        clock.advance(seconds=61)
        assert mailer.send_emails(ctx).retrying == 1
        clock.advance(seconds=121)  # the delay doubles
        assert mailer.send_emails(ctx).failed == 1
    finally:
        server.stop()
    [email] = outbox.list_emails(ctx)
    assert (email.state, email.attempts) == ("failed", 3)
    assert server.sink.received == []


def test_a_failed_email_retried_by_a_person_goes_out(
    make_mail_ctx: Callable[..., Context], server: SmtpServer
) -> None:
    ctx = make_mail_ctx(server.port)
    given_orders_with_emails(ctx, order("SO-1", ("KETTLE", 1), customer="ADA"))
    [email] = outbox.list_emails(ctx)
    with ctx.db.write() as conn:
        conn.execute(update(PendingEmail).values(state="failed", attempts=5, last_error="x"))
    assert mailer.send_emails(ctx).sent == 0
    outbox.retry_email(ctx, email.id, actor="test")
    assert mailer.send_emails(ctx).sent == 1
    assert len(server.sink.received) == 1


def test_a_cancelled_email_is_never_sent_and_a_sent_one_never_again(
    make_mail_ctx: Callable[..., Context], server: SmtpServer
) -> None:
    ctx = make_mail_ctx(server.port)
    given_orders_with_emails(
        ctx, order("SO-1", ("KETTLE", 1), customer="ADA"), order("SO-2", ("PAN", 1), customer="BOB")
    )
    first, second = outbox.list_emails(ctx)
    outbox.cancel_email(ctx, first.id, actor="test")
    assert mailer.send_emails(ctx).sent == 1
    assert mailer.send_emails(ctx).sent == 0
    assert [r.rcpt_tos[0] for r in server.sink.received] == [second.to_address]
    assert _states(ctx) == {"cancelled": 1, "sent": 1}


def test_send_with_ids_sends_only_those(
    make_mail_ctx: Callable[..., Context], server: SmtpServer
) -> None:
    ctx = make_mail_ctx(server.port)
    given_orders_with_emails(
        ctx, order("SO-1", ("KETTLE", 1), customer="ADA"), order("SO-2", ("PAN", 1), customer="BOB")
    )
    _, second = outbox.list_emails(ctx)
    assert mailer.send_emails(ctx, ids=[second.id]).sent == 1
    assert [r.rcpt_tos[0] for r in server.sink.received] == ["bob@example.com"]
    assert _states(ctx) == {"pending": 1, "sent": 1}


def test_emails_held_by_a_mailer_that_died_are_taken_over_when_its_lease_ends(
    make_mail_ctx: Callable[..., Context], server: SmtpServer
) -> None:
    clock = Clock()
    ctx = make_mail_ctx(server.port, clock=clock, lease_seconds=300)
    given_orders_with_emails(
        ctx, order("SO-1", ("KETTLE", 1), customer="ADA"), order("SO-2", ("PAN", 1), customer="BOB")
    )
    claimed = mailer._claim(ctx, "dead-mailer", None, 10, mailer.SendSummary())
    assert len(claimed) == 2  # ... and the mailer dies before sending

    assert mailer.send_emails(ctx).sent == 0  # still leased
    clock.advance(seconds=301)
    assert mailer.send_emails(ctx).sent == 2
    with ctx.db.read() as conn:
        rows = conn.execute(select(PendingEmail.attempts, PendingEmail.claimed_by)).all()
    assert {r.attempts for r in rows} == {2}
    assert "dead-mailer" not in {r.claimed_by for r in rows}


def test_limit_caps_how_many_are_sent(
    make_mail_ctx: Callable[..., Context], server: SmtpServer
) -> None:
    ctx = make_mail_ctx(server.port, batch_size=2)
    given_orders_with_emails(ctx, *(order(f"SO-{n}", ("KETTLE", 1)) for n in range(5)))
    assert mailer.send_emails(ctx, limit=3).sent == 3
    assert _states(ctx) == {"pending": 2, "sent": 3}


def test_an_email_whose_mailers_keep_dying_on_it_fails_after_max_attempts(
    make_mail_ctx: Callable[..., Context], server: SmtpServer
) -> None:
    clock = Clock()
    ctx = make_mail_ctx(server.port, clock=clock, lease_seconds=60, max_attempts=2)
    given_orders_with_emails(ctx, order("SO-1", ("KETTLE", 1), customer="ADA"))
    for n in range(2):
        assert len(mailer._claim(ctx, f"dead-{n}", None, 10, mailer.SendSummary())) == 1
        clock.advance(seconds=61)
    summary = mailer.send_emails(ctx)
    assert (summary.sent, summary.failed) == (0, 1)
    [email] = outbox.list_emails(ctx)
    assert email.state == "failed"
    assert "mailer dead-1 stopped while sending it" in (email.last_error or "")
    assert server.sink.received == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_mailer_logs_in_with_the_password_from_the_environment(
    make_mail_ctx: Callable[..., Context], db_url: str
) -> None:
    from bopo.config import load_settings

    server = SmtpServer(login=("shop", "s3cret")).start()
    try:
        env = {
            "BOPO_DATABASE__URL": db_url,
            "BOPO_SMTP__HOST": "127.0.0.1",
            "BOPO_SMTP__PORT": str(server.port),
            "BOPO_SMTP__USERNAME": "shop",
            "BOPO_BACKORDERS__ALLOCATE_EXISTING_POS": "true",
        }
        wrong = Context.from_settings(load_settings(env=env | {"BOPO_SMTP__PASSWORD": "nope"}))
        right = Context.from_settings(load_settings(env=env | {"BOPO_SMTP__PASSWORD": "s3cret"}))
        given_orders_with_emails(right, order("SO-1", ("KETTLE", 1), customer="ADA"))

        refused = mailer.send_emails(wrong)
        assert refused.sent == 0
        assert "535" in (refused.stopped or "")
        assert mailer.send_emails(right, ids=[e.id for e in outbox.list_emails(right)]).sent == 1
    finally:
        server.stop()
        for ctx in (wrong, right):
            ctx.db.dispose()
    assert [r.rcpt_tos for r in server.sink.received] == [["ada@example.com"]]


def test_a_server_without_the_login_the_settings_ask_for_stops_the_run_and_keeps_the_emails(
    make_mail_ctx: Callable[..., Context], server: SmtpServer
) -> None:
    ctx = make_mail_ctx(server.port)
    ctx.settings = ctx.settings.model_copy(
        update={"smtp": ctx.settings.smtp.model_copy(update={"username": "shop"})}
    )
    given_orders_with_emails(ctx, order("SO-1", ("KETTLE", 1), customer="ADA"))

    summary = mailer.send_emails(ctx)  # the test server offers no AUTH on a plain connection

    assert summary.sent == 0
    assert "AUTH extension not supported" in (summary.stopped or "")
    [email] = outbox.list_emails(ctx)
    assert (email.state, email.attempts) == ("pending", 1)
    assert server.sink.received == []


# --- one email that cannot go never holds up the others ----------------------------------------


def _with_address(number: str, customer: str, address: str) -> Any:
    new = order(number, ("KETTLE", 1), customer=customer)
    checked = NewCustomer(code=customer, name=new.customer.name, email=address)
    return new.model_copy(update={"customer": checked})


def test_an_address_the_server_cannot_take_fails_alone_and_the_others_go_once(
    make_mail_ctx: Callable[..., Context], server: SmtpServer
) -> None:
    ctx = make_mail_ctx(server.port, batch_size=10)
    given_orders_with_emails(
        ctx,
        order("SO-1", ("KETTLE", 1), customer="ADA"),
        _with_address("SO-2", "ANNA", "ännä@exämple.com"),  # needs SMTPUTF8: not offered
        order("SO-3", ("PAN", 1), customer="BOB"),
    )

    summary = mailer.send_emails(ctx)
    again = mailer.send_emails(ctx)

    assert (summary.sent, summary.failed, summary.stopped) == (2, 1, None)
    assert (again.sent, again.failed) == (0, 0)
    assert sorted(r.rcpt_tos[0] for r in server.sink.received) == [
        "ada@example.com",
        "bob@example.com",
    ]
    [anna] = outbox.list_emails(ctx, state="failed")
    assert (anna.to_address, anna.attempts) == ("ännä@exämple.com", 1)
    assert "does not offer SMTPUTF8" in (anna.last_error or "")
    assert _states(ctx) == {"failed": 1, "sent": 2}


def test_internationalised_addresses_go_with_smtputf8_or_in_idna_form(
    make_mail_ctx: Callable[..., Context],
) -> None:
    server = SmtpServer(smtputf8=True).start()
    try:
        ctx = make_mail_ctx(server.port)
        given_orders_with_emails(
            ctx,
            _with_address("SO-1", "ANNA", "ännä@exämple.com"),
            _with_address("SO-2", "ANN", "anna@EXÄMPLE.com"),  # ASCII before the @
        )
        summary = mailer.send_emails(ctx)
    finally:
        server.stop()

    assert (summary.sent, summary.failed) == (2, 0)
    by_to = {r.rcpt_tos[0]: r for r in server.sink.received}
    assert sorted(by_to) == ["anna@xn--exmple-cua.com", "ännä@exämple.com"]
    assert by_to["ännä@exämple.com"].message["To"].addresses[0].addr_spec == "ännä@exämple.com"
    assert by_to["anna@xn--exmple-cua.com"].message["To"] == (
        "Customer ANN <anna@xn--exmple-cua.com>"
    )
    assert {e.to_address for e in outbox.list_emails(ctx)} == {
        "ännä@exämple.com",
        "anna@exämple.com",  # stored normalised: the domain in lower case
    }


def test_an_address_stored_before_addresses_were_checked_fails_alone_with_the_reason(
    make_mail_ctx: Callable[..., Context], server: SmtpServer
) -> None:
    ctx = make_mail_ctx(server.port)
    given_orders_with_emails(
        ctx,
        order("SO-1", ("KETTLE", 1), customer="ADA"),
        order("SO-2", ("KETTLE", 1), customer="BAD"),
        order("SO-3", ("PAN", 1), customer="BOB"),
    )
    with ctx.db.write() as conn:  # as an older version let it in
        conn.execute(
            update(PendingEmail)
            .where(PendingEmail.to_address == "bad@example.com")
            .values(to_address="bad address@@example")
        )

    summary = mailer.send_emails(ctx)

    assert (summary.sent, summary.failed) == (2, 1)
    assert len(server.sink.received) == 2
    [bad] = outbox.list_emails(ctx, state="failed")
    assert "not a valid email address" in (bad.last_error or "")
    assert "cannot be sent" in outbox.show_email(ctx, bad.id).raw


class _Breaks:
    """The real transport, except that one recipient makes it raise something unforeseen."""

    def __init__(self, inner: mailer.Transport, recipient: str) -> None:
        self.inner, self.recipient, self.closed = inner, recipient, 0

    def start(self, email: Any) -> None:
        if email.recipient == self.recipient:
            raise UnicodeEncodeError("ascii", "ä", 0, 1, "ordinal not in range(128)")
        self.inner.start(email)

    def finish(self) -> None:
        self.inner.finish()

    def close(self) -> None:
        self.closed += 1
        self.inner.close()


def test_an_unforeseen_error_sending_one_email_fails_only_that_one(
    make_mail_ctx: Callable[..., Context], server: SmtpServer
) -> None:
    ctx = make_mail_ctx(server.port, max_attempts=2, batch_size=10)
    given_orders_with_emails(
        ctx,
        order("SO-1", ("KETTLE", 1), customer="ADA"),
        order("SO-2", ("KETTLE", 1), customer="EVE"),
        order("SO-3", ("PAN", 1), customer="BOB"),
    )
    transport = _Breaks(SmtpTransport(ctx.settings.smtp), "eve@example.com")
    try:
        summary = mailer.send_emails(ctx, transport=transport)  # retried at once: no delay set
    finally:
        transport.inner.close()

    assert (summary.sent, summary.retrying, summary.failed) == (2, 1, 1)
    assert transport.closed == 2  # a fresh connection after each failure
    assert sorted(server.sink.ids()) == sorted({*server.sink.ids()})  # none twice
    assert sorted(r.rcpt_tos[0] for r in server.sink.received) == [
        "ada@example.com",
        "bob@example.com",
    ]
    [eve] = outbox.list_emails(ctx, state="failed")
    assert (eve.to_address, eve.attempts) == ("eve@example.com", 2)
    assert "UnicodeEncodeError" in (eve.last_error or "")


# --- leases ------------------------------------------------------------------------------------


def test_two_mailers_and_a_server_slower_than_the_lease_send_each_email_once(
    make_mail_ctx: Callable[..., Context],
) -> None:
    """Each message takes longer than a whole lease. The second mailer starts once the
    first one's lease would have run out, while it is still sending its first message:
    the heartbeat has kept the claim, so the second takes only the emails left."""
    server = SmtpServer(Sink(delay=2.5)).start()
    try:
        first = make_mail_ctx(server.port, lease_seconds=2, batch_size=3)
        given_orders_with_emails(first, *(order(f"SO-{n}", ("KETTLE", 1)) for n in range(6)))
        second = make_mail_ctx(server.port, lease_seconds=2, batch_size=3)
        summaries: dict[str, mailer.SendSummary] = {}

        def run(name: str, ctx: Context, after: float) -> None:
            sleep(after)
            summaries[name] = mailer.send_emails(ctx, mailer=name)

        threads = [
            threading.Thread(target=run, args=(name, ctx, after))
            for name, ctx, after in (("one", first, 0.0), ("two", second, 2.2))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        server.stop()

    stored = {e.id: outbox.show_email(first, e.id).message_id for e in outbox.list_emails(first)}
    assert sorted(server.sink.ids()) == sorted(stored.values())  # each exactly once
    assert _states(first) == {"sent": 6}
    assert sum(s.sent for s in summaries.values()) == 6
