"""Random sequences of everything that changes what an email states, with a real mailer
sending to a real SMTP server: every email that reaches the server was true at the
moment it arrived, and no order ever has two emails waiting for one template.

The templates write each line they announce as a line of text the test can read back
(`LINE ...`); the server, as each message arrives, reads the database, so the check is
against the links and dates as they stood when the message was sent.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from bopo.config import (
    BackorderSettings,
    DatabaseSettings,
    EmailSettings,
    Settings,
)
from bopo.db.engine import Database
from bopo.db.models import (
    Association,
    PendingEmail,
    PoLine,
    PoLineStatus,
    PurchaseOrder,
    SalesOrder,
    SoLine,
)
from bopo.errors import BopoError
from bopo.services.common.serial import to_json
from bopo.services.context import Context
from bopo.services.email import mailer, templates
from bopo.services.email.superseding import untrue
from bopo.services.orders import demand_changes, despatch
from bopo.services.orders.intake import take_order
from bopo.services.supply import changes, goods_in, receipt_reversal
from bopo.services.supply.status_change import set_po_line_status
from bopo.services.worklist import backorders, manual_links
from tests.conftest import _empty_pg
from tests.helpers import TODAY, day, given_po, given_status, given_stock, given_template, order
from tests.smtp_sink import Received, Sink, SmtpServer, smtp_to

SKUS = ("A", "B")
pick = st.integers(min_value=0, max_value=1_000)
# One template per status (HOLD has none), so a line's status names its template.
STATUSES = {"ON ORDER": "Back order", "DELAYED": "Delayed", "HOLD": None}
# Each announced line, as the test reads it back: order, SO line, PO, PO line, qty,
# the expected date (None when overdue), overdue, and the status.
LINE = (
    "{% for line in lines %}LINE {{ order.number }} {{ line.line_no }} {{ line.po_number }} "
    "{{ line.po_line_no }} {{ line.qty }} {{ line.expected }} {{ line.overdue }} "
    "{{ line.status | replace(' ', '_') }}\n{% endfor %}"
)
NOTICE_LINE = LINE.replace(" {{ line.status | replace(' ', '_') }}", " -")
Key = tuple[str, int, str, int]  # (SO number, SO line, PO number, PO line)


MORNING = datetime.combine(TODAY, time(9), tzinfo=UTC)


@dataclass
class Clock:
    """The one clock: a step may move it on a day or more."""

    now: datetime = MORNING

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Arrival:
    """A message as the server got it, and the links as they stood at that moment."""

    message: Received
    today: date
    links: dict[Key, tuple[int, date | None, str | None]]  # -> (qty, due date, status)


@dataclass
class TruthSink(Sink):
    """An SMTP sink that reads the database as each message arrives."""

    look: Callable[[], tuple[date, dict[Key, tuple[int, date | None, str | None]]]] | None = None
    arrivals: list[Arrival] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if self.look is not None:
            today, links = self.look()
            with self.lock:
                self.arrivals.append(Arrival(self.received[-1], today, links))
        return answer


def links_now(ctx: Context) -> tuple[date, dict[Key, tuple[int, date | None, str | None]]]:
    with ctx.db.read() as conn:
        rows = conn.execute(
            select(
                SalesOrder.number,
                SoLine.line_no,
                PurchaseOrder.number,
                PoLine.line_no,
                Association.qty,
                PoLine.due_date,
                PoLineStatus.name,
            )
            .select_from(Association)
            .join(SoLine, SoLine.id == Association.so_line_id)
            .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
            .join(PoLine, PoLine.id == Association.po_line_id)
            .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
            .outerjoin(PoLineStatus, PoLineStatus.id == PoLine.status_id)
            .where(Association.state == "active", SalesOrder.status == "open")
        ).all()
    return ctx.clock().date(), {(r[0], r[1], r[2], r[3]): (r[4], r[5], r[6]) for r in rows}


def check_arrival(arrival: Arrival) -> None:
    """Every line the message states is a link active at that moment, with that
    quantity, status and date; a date already past is never stated as expected."""
    stated = [
        line.split()[1:]
        for line in arrival.message.part("plain").splitlines()
        if line.startswith("LINE ")
    ]
    assert stated, "an email that announces nothing"
    for number, line_no, po, po_line, qty, expected, overdue, status in stated:
        key = (number, int(line_no), po, int(po_line))
        where = f"{arrival.message.message['Subject']}: {' '.join(key[:1])} {key[1:]}"
        assert key in arrival.links, f"{where}: not linked when sent"
        now_qty, due, now_status = arrival.links[key]
        assert int(qty) == now_qty, f"{where}: says {qty}, {now_qty} linked"
        late = due is not None and due < arrival.today
        assert (overdue == "True") == late, f"{where}: overdue {overdue}, due {due}"
        if late:
            assert expected == "None", f"{where}: a past date given as expected"
        else:
            assert expected == (due.isoformat() if due else "None"), f"{where}: {expected}, {due}"
        if status != "-":
            assert status == (now_status or "").replace(" ", "_"), f"{where}: status {status}"


class Truthful(RuleBasedStateMachine):
    fresh_database: Callable[[], str]  # set by the test for each backend
    server: SmtpServer

    def __init__(self) -> None:
        super().__init__()
        self.url = self.fresh_database()
        self.ctx: Context | None = None
        self.clock = Clock()
        self.orders: list[str] = []
        self.lines: dict[str, int] = {}
        self.pos: list[tuple[str, int]] = []
        self.checked = 0
        self.sink.arrivals.clear()
        self.sink.received.clear()

    @property
    def sink(self) -> TruthSink:
        sink = self.server.sink
        assert isinstance(sink, TruthSink)
        return sink

    @property
    def c(self) -> Context:
        assert self.ctx is not None
        return self.ctx

    @initialize(notices=st.booleans())
    def set_the_scene(self, notices: bool) -> None:
        settings_ = Settings(
            database=DatabaseSettings(url=self.url),
            backorders=BackorderSettings(
                allocate_existing_pos=True, default_po_line_status="ON ORDER"
            ),
            email=EmailSettings(from_address="shop@example.com", retry_delay_seconds=0),
            smtp=smtp_to(self.server.port),
        )
        self.ctx = Context(Database(self.url), settings_, clock=self.clock)
        for code, template in STATUSES.items():
            given_status(self.c, code, code.title())
            if template:
                given_template(self.c, template, text=LINE, statuses=(code,))
        if notices:
            templates.add_template(
                self.c, "Later", "{{ order.number }} later", NOTICE_LINE,
                kind="BACK_ORDER_UPDATE", actor="test",
            )  # fmt: skip
        given_stock(self.c, A=1, B=0)
        given_po(self.c, "PO-1", ("A", 6, day(4), "ON ORDER"), ("B", 5, day(2), "DELAYED"))
        given_po(self.c, "PO-2", ("A", 5, day(9), "ON ORDER"), ("B", 4, day(12)))
        self.pos = [("PO-1", 2), ("PO-2", 2)]
        ctx = self.c
        self.sink.look = lambda: links_now(ctx)
        # Two orders waiting on supply, so that every run has emails to change and send.
        self.take_an_order([("A", 3), ("B", 2)], 6)
        self.take_an_order([("B", 1), ("A", 1)], 10)

    def teardown(self) -> None:
        self.sink.look = None
        if self.ctx is not None:
            self.ctx.db.dispose()

    def _try(self, action: Callable[[], Any]) -> None:
        with contextlib.suppress(BopoError):
            action()

    def _po(self, i: int, line: int) -> tuple[str, int]:
        number, count = self.pos[i % len(self.pos)]
        return number, line % count + 1

    def _so(self, i: int, line: int) -> tuple[str, int]:
        number = self.orders[i % len(self.orders)]
        return number, line % self.lines[number] + 1

    # --- demand ----------------------------------------------------------------------------

    @rule(
        lines=st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 4)), min_size=1, max_size=2),
        delivery=st.integers(0, 15),
    )
    def take_an_order(self, lines: list[tuple[str, int]], delivery: int) -> None:
        number = f"SO-{len(self.orders) + 1}"
        take_order(self.c, order(number, *lines, delivery=day(delivery)), actor="import")
        self.orders.append(number)
        self.lines[number] = len(lines)

    @precondition(lambda self: self.orders)
    @rule(i=pick, line=pick, whole=st.booleans())
    def a_customer_cancels(self, i: int, line: int, whole: bool) -> None:
        number, n = self._so(i, line)
        if whole:
            self._try(lambda: demand_changes.cancel_sales_order(self.c, number, actor="clerk"))
        else:
            self._try(lambda: demand_changes.cancel_so_line(self.c, number, n, actor="clerk"))

    @precondition(lambda self: self.orders)
    @rule(i=pick)
    def ship_an_order(self, i: int) -> None:
        number, _ = self._so(i, 0)
        self._try(lambda: despatch.ship(self.c, number, actor="warehouse"))

    # --- supply ----------------------------------------------------------------------------

    @rule(i=pick, line=pick, qty=st.integers(1, 6))
    def receive_goods(self, i: int, line: int, qty: int) -> None:
        po, n = self._po(i, line)
        self._try(lambda: goods_in.receive(self.c, po, n, qty, actor="warehouse"))

    @rule(i=pick)
    def reverse_a_receipt(self, i: int) -> None:
        receipts = goods_in.list_receipts(self.c, limit=None)
        if receipts:
            chosen = receipts[i % len(receipts)].id
            self._try(lambda: receipt_reversal.reverse_receipt(self.c, chosen, actor="warehouse"))

    @rule(i=pick, line=pick, qty=st.integers(1, 8))
    def cut_a_po_line(self, i: int, line: int, qty: int) -> None:
        po, n = self._po(i, line)
        self._try(lambda: changes.change_po_line_qty(self.c, po, n, qty, actor="buyer"))

    @rule(i=pick, line=pick)
    def cancel_a_po_line(self, i: int, line: int) -> None:
        po, n = self._po(i, line)
        self._try(lambda: changes.cancel_po_line(self.c, po, n, actor="buyer"))

    @rule(i=pick, line=pick, due=st.integers(-3, 15))
    def move_a_due_date(self, i: int, line: int, due: int) -> None:
        po, n = self._po(i, line)
        when = self.clock().date() + timedelta(days=due)
        self._try(lambda: changes.change_due_date(self.c, po, n, when, actor="buyer"))

    @rule(i=pick, line=pick, status=st.sampled_from(sorted(STATUSES)))
    def change_a_status(self, i: int, line: int, status: str) -> None:
        po, n = self._po(i, line)
        self._try(lambda: set_po_line_status(self.c, po, n, status, actor="buyer"))

    @rule(sku=st.sampled_from(SKUS), qty=st.integers(1, 6), due=st.integers(-2, 10))
    def order_from_a_supplier(self, sku: str, qty: int, due: int) -> None:
        number = f"PO-{len(self.pos) + 1}"
        given_po(self.c, number, (sku, qty, self.clock().date() + timedelta(days=due), "ON ORDER"))
        self.pos.append((number, 1))

    # --- people, time and the mailer ----------------------------------------------------------

    @precondition(lambda self: self.orders)
    @rule(i=pick, line=pick, p=pick, pl=pick)
    def link_by_hand(self, i: int, line: int, p: int, pl: int) -> None:
        offers = [c for c in manual_links.list_candidates(self.c) if c.candidates]
        if offers:
            chosen = offers[i % len(offers)]
            target = chosen.candidates[p % len(chosen.candidates)]
            number, n = chosen.line.number, chosen.line.line_no
            po, po_n = target.po_number, target.line_no
        else:
            (number, n), (po, po_n) = self._so(i, line), self._po(p, pl)
        self._try(lambda: manual_links.link_line(self.c, number, n, po, po_n, actor="ann"))

    @precondition(lambda self: self.orders)
    @rule(i=pick, line=pick)
    def unlink_by_hand(self, i: int, line: int) -> None:
        number, n = self._so(i, line)
        self._try(lambda: manual_links.unlink_line(self.c, number, n, actor="ann"))

    @rule()
    def retry_the_worklist(self) -> None:
        backorders.allocate_worklist(self.c, actor="system")

    @rule(days=st.integers(1, 4))
    def days_pass(self, days: int) -> None:
        self.clock.now += timedelta(days=days)

    @rule()
    def the_mailer_runs(self) -> None:
        summary = mailer.send_emails(self.c)
        assert summary.failed == 0, to_json(summary)
        assert summary.stopped is None, to_json(summary)

    # --- what must always hold ----------------------------------------------------------------

    @invariant()
    def every_email_sent_was_true_when_sent(self) -> None:
        with self.sink.lock:
            arrivals = self.sink.arrivals[self.checked :]
        for arrival in arrivals:
            check_arrival(arrival)
        self.checked += len(arrivals)

    @invariant()
    def one_email_waits_per_order_and_template(self) -> None:
        if self.ctx is None:
            return
        with self.c.db.read() as conn:
            twice = conn.execute(
                select(PendingEmail.sales_order_id, PendingEmail.template_id)
                .where(PendingEmail.state == "pending")
                .group_by(PendingEmail.sales_order_id, PendingEmail.template_id)
                .having(func.count() > 1)
            ).all()
        assert not twice, f"two emails wait for one order and template: {twice}"

    @invariant()
    def changes_leave_no_waiting_back_order_email_untrue(self) -> None:
        """Superseded in the change's own transaction; only time (a date now past) is
        left for the mailer to find."""
        if self.ctx is None:
            return
        with self.c.db.read() as conn:
            waiting = conn.scalars(
                select(PendingEmail.id).where(
                    PendingEmail.state == "pending", PendingEmail.event != "due_date"
                )
            ).all()
            found = untrue(conn, waiting, self.clock().date())
        wrong = {i: why for i, why in found.items() if " is overdue (was due " not in why}
        assert not wrong, f"left waiting, untrue: {wrong}"


MACHINE_SETTINGS = settings(
    max_examples=10,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def truth_server() -> Iterator[SmtpServer]:
    server = SmtpServer(TruthSink()).start()
    yield server
    server.stop()


def test_every_email_that_leaves_is_true_when_it_leaves(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path, truth_server: SmtpServer
) -> None:
    made = [0]

    def fresh() -> str:
        made[0] += 1
        if db_url.startswith("sqlite"):
            path = tmp_path / f"truth-{made[0]}.db"
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
            return f"sqlite:///{path}"
        _empty_pg(db_url)
        return db_url

    machine = type(
        "TruthfulOn",
        (Truthful,),
        {"fresh_database": staticmethod(fresh), "server": truth_server},
    )
    run_state_machine_as_test(machine, settings=MACHINE_SETTINGS)


def test_the_arrival_check_notices_a_date_gone_by() -> None:
    """The checker itself can fail: a message stating a date that has passed is caught."""
    from email import message_from_string
    from email.policy import default

    text = "Subject: x\n\nLINE SO-1 1 PO-1 1 2 2026-11-29 False On_Order\n"
    message = Received("a@b.c", ["c@d.e"], message_from_string(text, policy=default))  # type: ignore[arg-type]
    arrival = Arrival(
        message, date(2026, 12, 1), {("SO-1", 1, "PO-1", 1): (2, date(2026, 11, 29), "On Order")}
    )
    with pytest.raises(AssertionError, match="overdue"):
        check_arrival(arrival)
