"""Many hands at once on PostgreSQL: intake, goods in, supply and demand changes and manual
links running side by side neither deadlock nor leave the books out of step.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest

from bopo.errors import BopoError
from bopo.services.context import Context
from bopo.services.email import templates
from bopo.services.orders import demand_changes, despatch
from bopo.services.orders.intake import take_order
from bopo.services.supply import changes, goods_in
from bopo.services.worklist import manual_links
from tests.helpers import day, given_po, given_status, given_stock, given_template, order
from tests.integration.test_lifecycle_machine import check_books

WORKERS = 4
STEPS = 40


@pytest.mark.postgres_only
@pytest.mark.slow
def test_concurrent_changes_keep_the_books_straight(make_ctx: Callable[..., Context]) -> None:
    setup = make_ctx()
    given_stock(setup, A=5, B=2)
    given_status(setup, "ON ORDER")
    given_template(setup, statuses=("ON ORDER",))
    templates.add_template(  # due-date notices lock sales orders and pending emails too
        setup, "Delay", "New dates", "{{ table(lines) }}", kind="BACK_ORDER_UPDATE", actor="t"
    )
    for n in range(1, 7):
        given_po(setup, f"PO-{n}", ("A", 12, day(n), "ON ORDER"), ("B", 8, day(9 - n), "ON ORDER"))
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        ctx = make_ctx()
        rng = random.Random(worker)
        mine: list[str] = []
        for step in range(STEPS):
            try:
                one_step(ctx, rng, f"SO-{worker}-{step}", mine)
            except BopoError:
                pass
            except BaseException as exc:  # a deadlock or a CHECK violation is a bug
                failures.append(exc)
                return

    threads = [threading.Thread(target=work, args=(w,)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with setup.db.read() as conn:
        check_books(conn)


def one_step(ctx: Context, rng: random.Random, number: str, mine: list[str]) -> None:
    """One thing a person or a feed might do; new orders are remembered in `mine`."""
    po, po_line = f"PO-{rng.randint(1, 6)}", rng.randint(1, 2)
    what = rng.randrange(10 if mine else 5)
    if what == 0:
        lines = [(rng.choice("AB"), rng.randint(1, 4)) for _ in range(2)]
        take_order(ctx, order(number, *lines, delivery=day(rng.randint(0, 9))), actor="import")
        mine.append(number)
    elif what == 1:
        goods_in.receive(ctx, po, po_line, rng.randint(1, 4), actor="warehouse")
    elif what == 2:
        changes.change_po_line_qty(ctx, po, po_line, rng.randint(4, 14), actor="buyer")
    elif what == 3:
        changes.change_due_date(ctx, po, po_line, day(rng.randint(0, 9)), actor="buyer")
    elif what == 4:
        changes.cancel_po_line(ctx, po, po_line, actor="buyer")
    else:
        so = rng.choice(mine)
        if what == 5:
            demand_changes.cancel_so_line(ctx, so, 1, actor="clerk")
        elif what == 6:
            demand_changes.change_so_line_qty(ctx, so, 2, 1, actor="clerk")
        elif what == 7:
            despatch.ship(ctx, so, actor="warehouse")
        elif what == 8:
            manual_links.unlink_line(ctx, so, 1, actor="ann")
        else:
            manual_links.link_line(ctx, so, 1, po, 1, actor="ann")
