"""Many hands at once on PostgreSQL: intake, goods in, supply and demand changes, manual
links and priority changes running side by side neither deadlock nor leave the books out
of step.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import insert, select

from bopo.db.models import (
    Association,
    PendingEmail,
    PendingEmailAssociation,
    PoLine,
    SalesOrder,
)
from bopo.db.workset import WorksetQuery, load_workset
from bopo.errors import BopoError
from bopo.services.context import Context
from bopo.services.email import templates
from bopo.services.orders import demand_changes, despatch, sales
from bopo.services.orders.intake import take_order
from bopo.services.supply import changes, goods_in
from bopo.services.worklist import manual_links
from tests.helpers import day, given_po, given_status, given_stock, given_template, order
from tests.integration.test_lifecycle_machine import check_books

WORKERS = 4
STEPS = 40


@pytest.mark.postgres_only
@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 3, 9])  # 3 and 9 deadlocked when links were locked FOR UPDATE
def test_concurrent_changes_keep_the_books_straight(
    make_ctx: Callable[..., Context], seed: int
) -> None:
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
        rng = random.Random(worker * 1000 + seed)
        mine: list[str] = []
        for step in range(STEPS):
            try:
                one_step(ctx, rng, f"SO-{worker}-{step}", mine)
                if mine and step % 4 == 3:  # its lines follow: locked after their stock
                    so, rank = mine[step % len(mine)], ("low", "normal", "high", "urgent")
                    sales.set_order_priority(ctx, so, rank[step // 4 % 4], actor="clerk")
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


@pytest.mark.postgres_only
def test_a_change_holding_a_link_lets_an_email_name_it(make_ctx: Callable[..., Context]) -> None:
    """A change locks the links it may end; an email written meanwhile for the same order
    (another change's refresh, the mailer's re-check) only needs the link to exist. Had
    it to wait for the link while holding the order, the two changes would deadlock."""
    ctx = make_ctx()
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 5, day(3), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 2)), actor="import")
    with ctx.db.read() as conn:
        link = conn.execute(
            select(Association.id, Association.po_line_id, PoLine.stock_item_id).join(
                PoLine, PoLine.id == Association.po_line_id
            )
        ).one()
        so_id = conn.scalar(select(SalesOrder.id))
    with ctx.db.write() as holder:
        query = WorksetQuery.of({link.stock_item_id}, po_line_ids={link.po_line_id})
        held = load_workset(holder, query, now=ctx.clock(), actor="buyer")
        assert [s.links for s in held.so_lines.values()] != [{}]  # the link is held
        with ctx.db.write() as writer:
            writer.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
            email_id = writer.scalar(
                insert(PendingEmail)
                .values(
                    sales_order_id=so_id,
                    event="REALLOCATION",
                    to_address="c@example.com",
                    subject="s",
                    body_text="b",
                    message_id="<held@example.com>",
                    created_at=ctx.clock(),
                )
                .returning(PendingEmail.id)
            )
            writer.execute(
                insert(PendingEmailAssociation).values(
                    email_id=email_id, association_id=link.id, qty=2
                )
            )
    with ctx.db.read() as conn:
        assert conn.scalar(select(PendingEmailAssociation.association_id)) == link.id
