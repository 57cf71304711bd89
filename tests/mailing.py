"""For the mailer's tests: a context that sends to a local test server, and orders that
queue one back-order email each."""

from __future__ import annotations

from typing import Any

from bopo.config import BackorderSettings, DatabaseSettings, EmailSettings, Settings
from bopo.db.engine import Database
from bopo.services.context import Context
from bopo.services.orders.intake import take_orders
from tests.clock import Clock
from tests.helpers import day, given_po, given_status, given_stock, given_template, order
from tests.smtp_sink import smtp_to


def mailer_context(db_url: str, port: int, **email: Any) -> Context:
    settings = Settings(
        database=DatabaseSettings(url=db_url),
        backorders=BackorderSettings(allocate_existing_pos=True),
        email=EmailSettings(**email),
        smtp=smtp_to(port),
    )
    return Context(Database(db_url), settings, clock=Clock(ticking=True))


def queue_emails(ctx: Context, count: int) -> None:
    """`count` orders of one back-ordered kettle each, so `count` emails waiting."""
    given_stock(ctx, KETTLE=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("KETTLE", count, day(5), "ON ORDER"))
    take_orders(
        ctx, [order(f"SO-{n}", ("KETTLE", 1), customer=f"C{n}") for n in range(count)], actor="t"
    )
