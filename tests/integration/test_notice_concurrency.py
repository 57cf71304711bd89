"""Two PO lines of one order moving at the same moment still give that order one notice."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from bopo.db.models import PendingEmail, SalesOrder
from bopo.services.context import Context
from bopo.services.email import templates
from bopo.services.orders.intake import take_order
from bopo.services.supply.changes import change_due_date
from tests.helpers import day, given_po, given_status, given_stock, order

ROUNDS = 8


@pytest.mark.postgres_only
@pytest.mark.slow
def test_slips_racing_on_two_lines_of_one_order_merge_into_one_notice(
    make_ctx: Callable[..., Context],
) -> None:
    setup = make_ctx()
    given_stock(setup, A=0, B=0)
    given_status(setup, "ON ORDER")
    templates.add_template(
        setup, "Delay", "New dates", "{{ table(lines) }}", kind="BACK_ORDER_UPDATE", actor="t"
    )
    contexts = [make_ctx(), make_ctx()]
    failures: list[BaseException] = []
    for n in range(ROUNDS):
        po = f"PO-{n}"
        given_po(setup, po, ("A", 5, day(3), "ON ORDER"), ("B", 5, day(3), "ON ORDER"))
        number = f"SO-{n}"
        take_order(setup, order(number, ("A", 1), ("B", 1), delivery=day(20)), actor="web")
        start = threading.Barrier(2)

        def slip(ctx: Context, line: int, po: str = po, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                change_due_date(ctx, po, line, day(9), actor="buyer")
            except BaseException as exc:
                failures.append(exc)

        threads = [
            threading.Thread(target=slip, args=(ctx, line))
            for ctx, line in zip(contexts, (1, 2), strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        with setup.db.read() as conn:
            emails = conn.scalar(
                select(func.count())
                .select_from(PendingEmail)
                .join(SalesOrder, SalesOrder.id == PendingEmail.sales_order_id)
                .where(SalesOrder.number == number, PendingEmail.state == "pending")
            )
        assert emails == 1, f"round {n}: {emails} notices for one order"
