"""What-if tells the truth: for random scenes and random changes, the answer equals what
the change does when it is then applied for real, and asking changes nothing.

The real effect is read from the database (rows before and after the change),
independently of the code that computes the what-if answer.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, select

from bopo.config import BackorderSettings, DatabaseSettings, EmailSettings, Settings
from bopo.db.base import Base
from bopo.db.engine import Database
from bopo.db.models import (
    Association,
    EmailTemplate,
    PendingEmail,
    PendingEmailAssociation,
    PoLine,
    PurchaseOrder,
    SalesOrder,
    SoLine,
    StockItem,
)
from bopo.errors import BopoError
from bopo.services.context import Context
from bopo.services.email import mailer, templates
from bopo.services.orders.intake import take_order
from bopo.services.promise import what_if
from bopo.services.supply import changes, goods_in
from bopo.services.worklist import backorders
from tests.clock import Clock
from tests.conftest import _empty_pg
from tests.helpers import day, given_po, given_status, given_stock, given_template, order
from tests.smtp_sink import SmtpServer, smtp_to

SKUS = ("A", "B")


@dataclass
class Scene:
    stock: dict[str, int]
    po_lines: list[tuple[str, int, int | None, str | None]]  # sku, qty, due day, status
    orders: list[tuple[list[tuple[str, int]], int, str]]  # lines, delivery day, priority
    switch_on: bool
    split: bool
    default_status: bool
    notices: bool  # BACK_ORDER_UPDATE and BACK_ORDER_EARLIER templates exist
    earlier_moves: list[tuple[int, int, int]]  # (PO pick, days moved, hours later) before it
    send_before: bool  # the mailer sends what is queued before the change
    hours: int  # how long after the last step the change is asked about
    change: tuple[Any, ...]


scenes = st.builds(
    Scene,
    stock=st.fixed_dictionaries({s: st.sampled_from((0, 0, 1, 3)) for s in SKUS}),
    po_lines=st.lists(
        st.tuples(
            st.sampled_from(SKUS),
            st.integers(1, 8),
            st.one_of(st.none(), st.integers(0, 15)),
            st.sampled_from(("ON ORDER", "ON ORDER", "DELAYED", None)),
        ),
        min_size=1,
        max_size=4,
    ),
    orders=st.lists(
        st.tuples(
            st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 5)), min_size=1, max_size=2),
            st.integers(0, 15),
            st.sampled_from(("low", "normal", "high", "urgent")),
        ),
        min_size=2,
        max_size=8,
    ),
    switch_on=st.sampled_from((True, True, True, False)),
    split=st.booleans(),
    default_status=st.booleans(),
    notices=st.sampled_from((True, True, False)),
    earlier_moves=st.lists(
        st.tuples(st.integers(0, 7), st.integers(-6, 10), st.sampled_from((0, 2, 20, 30))),
        max_size=3,
    ),
    send_before=st.booleans(),
    hours=st.sampled_from((0, 1, 23, 30)),
    change=st.one_of(
        # days moved; None: to no date
        st.tuples(st.just("due"), st.integers(0, 7), st.one_of(st.integers(-6, 10), st.none())),
        st.tuples(st.just("qty"), st.integers(0, 7), st.integers(1, 10)),
        st.tuples(st.just("cancel"), st.integers(0, 7), st.booleans()),
        st.tuples(st.just("receive"), st.integers(0, 7), st.integers(1, 9)),
        st.tuples(st.just("switch_on")),
    ),
)

UPDATE_TEXT = (
    "{% for l in lines %}{{ l.sku }} {{ l.previous_expected | date }} -> "
    "{{ l.expected | date }}\n{% endfor %}"
)


def _context(url: str, port: int, clock: Clock, *, on: bool, scene: Scene) -> Context:
    settings_ = Settings(
        database=DatabaseSettings(url=url),
        backorders=BackorderSettings(
            allocate_existing_pos=on,
            default_po_line_status="ON ORDER" if scene.default_status else None,
            allow_split=scene.split,
        ),
        email=EmailSettings(from_address="shop@example.com", retry_delay_seconds=0),
        smtp=smtp_to(port),
    )
    return Context(Database(url), settings_, clock=clock)


def _set_the_scene(ctx: Context, scene: Scene, clock: Clock) -> None:
    given_stock(ctx, **scene.stock)
    given_status(ctx, "ON ORDER")
    given_status(ctx, "DELAYED")
    given_template(ctx, statuses=("ON ORDER",))
    if scene.notices:
        for kind in ("BACK_ORDER_UPDATE", "BACK_ORDER_EARLIER"):
            templates.add_template(
                ctx, kind.title(), "Order {{ order.number }}", UPDATE_TEXT, kind=kind, actor="t"
            )
    for n, (sku, qty, due, status) in enumerate(scene.po_lines, 1):
        given_po(ctx, f"PO-{n}", (sku, qty, None if due is None else day(due), status))
    for n, (lines, delivery, priority) in enumerate(scene.orders, 1):
        new = order(f"SO-{n}", *lines, delivery=day(delivery), priority=priority)
        take_order(ctx, new, actor="t")
    if scene.send_before:
        mailer.send_emails(ctx)
    for pick, days, hours in scene.earlier_moves:
        clock.now += timedelta(hours=hours)
        po = _target(ctx, scene, pick)
        with contextlib.suppress(BopoError):
            changes.change_due_date(ctx, po, 1, _moved(ctx, po, days), actor="t")
        if scene.send_before:
            mailer.send_emails(ctx)
    clock.now += timedelta(hours=scene.hours)


# --- asking, then doing --------------------------------------------------------------------


def _moved(ctx: Context, po: str, days: int | None) -> date | None:
    """The PO's line 1 due date moved by `days` (from day 7 when it has none)."""
    if days is None:
        return None
    with ctx.db.read() as conn:
        due = conn.scalar(
            select(PoLine.due_date)
            .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
            .where(PurchaseOrder.number == po, PoLine.line_no == 1)
        )
    return (due or day(7)) + timedelta(days=days)


def _target(ctx: Context, scene: Scene, pick: int) -> str:
    """The PO the change is about: picked among those with links, when there are any."""
    with ctx.db.read() as conn:
        linked = sorted(
            set(
                conn.scalars(
                    select(PurchaseOrder.number)
                    .join(PoLine, PoLine.purchase_order_id == PurchaseOrder.id)
                    .join(Association, Association.po_line_id == PoLine.id)
                    .where(Association.state == "active")
                )
            )
        )
    every = [f"PO-{n}" for n in range(1, len(scene.po_lines) + 1)]
    choices = linked if linked and pick % 4 else every
    return choices[pick % len(choices)]


def _ask(ctx: Context, scene: Scene, po: str) -> what_if.WhatIf:
    kind, *args = scene.change
    if kind == "due":
        return what_if.what_if_due_date(ctx, po, 1, _moved(ctx, po, args[1]))
    if kind == "qty":
        return what_if.what_if_po_line_qty(ctx, po, 1, args[1])
    if kind == "cancel":
        return what_if.what_if_cancel(ctx, po, None if args[1] else 1)
    if kind == "receive":
        return what_if.what_if_receipt(ctx, po, 1, args[1])
    return what_if.what_if_switch_on(ctx)


def _do(ctx: Context, on_ctx: Context, scene: Scene, po: str) -> None:
    kind, *args = scene.change
    if kind == "due":
        changes.change_due_date(ctx, po, 1, _moved(ctx, po, args[1]), actor="t")
    elif kind == "qty":
        changes.change_po_line_qty(ctx, po, 1, args[1], actor="t")
    elif kind == "cancel":
        if args[1]:
            changes.cancel_purchase_order(ctx, po, actor="t")
        else:
            changes.cancel_po_line(ctx, po, 1, actor="t")
    elif kind == "receive":
        goods_in.receive(ctx, po, 1, args[1], actor="t")
    else:
        backorders.allocate_worklist(on_ctx, actor="t")


# --- reading what happened from the database -----------------------------------------------


def _dump(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: what 'nothing changed' is checked against."""
    return {
        t.name: sorted(tuple(map(repr, r)) for r in conn.execute(select(t)))
        for t in Base.metadata.sorted_tables
    }


@dataclass
class State:
    lines: dict[int, Any]
    links: dict[int, dict[int, int]]
    po: dict[int, Any]
    emails: dict[int, Any]
    email_lines: dict[int, int]


def _state(conn: Connection) -> State:
    lines = {
        r.id: r
        for r in conn.execute(
            select(
                SoLine.id,
                SoLine.line_no,
                SoLine.qty,
                SoLine.qty_assigned,
                SoLine.qty_shipped,
                SoLine.qty_cancelled,
                SoLine.backorder_reason,
                SalesOrder.number,
                SalesOrder.source,
                SalesOrder.delivery_date,
                SalesOrder.status,
                StockItem.sku,
            )
            .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
            .join(StockItem, StockItem.id == SoLine.stock_item_id)
        )
    }
    links: dict[int, dict[int, int]] = {i: {} for i in lines}
    for a in conn.execute(select(Association).where(Association.state == "active")):
        links[a.so_line_id][a.po_line_id] = a.qty
    po = {
        r.id: r
        for r in conn.execute(
            select(PoLine.id, PoLine.line_no, PoLine.due_date, PurchaseOrder.number).join(
                PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id
            )
        )
    }
    emails = {
        r.id: r
        for r in conn.execute(
            select(
                PendingEmail.id,
                PendingEmail.state,
                PendingEmail.event,
                PendingEmail.body_text,
                PendingEmail.next_attempt_at,
                PendingEmail.to_address,
                EmailTemplate.name.label("template"),
                EmailTemplate.type,
                SalesOrder.number,
            )
            .outerjoin(EmailTemplate, EmailTemplate.id == PendingEmail.template_id)
            .join(SalesOrder, SalesOrder.id == PendingEmail.sales_order_id)
        )
    }
    counts: dict[int, int] = dict.fromkeys(emails, 0)
    for r in conn.execute(select(PendingEmailAssociation.email_id)):
        counts[r.email_id] += 1
    return State(lines, links, po, emails, counts)


def _late(state: State, line_id: int) -> bool:
    line = state.lines[line_id]
    dues = [state.po[p].due_date for p in state.links[line_id]]
    return any(d is not None and d > line.delivery_date for d in dues)


def _expected(state: State, line_id: int) -> date | None:
    dues = [state.po[p].due_date for p in state.links[line_id]]
    return max((d for d in dues if d is not None), default=None)


def _waiting(state: State, line_id: int) -> bool:
    reason = state.lines[line_id].backorder_reason
    return not state.links[line_id] and reason is not None and reason != "late supply"


def _parts(state: State, line_id: int) -> tuple[tuple[Any, ...], ...]:
    return tuple(
        (state.po[p].number, state.po[p].line_no, q, state.po[p].due_date)
        for p, q in sorted(state.links[line_id].items())
    )


def observed(before: State, after: State) -> dict[str, Any]:
    keys = ("relinked", "to_worklist", "late", "late_supply", "on_time", "served")
    out: dict[str, Any] = {k: [] for k in keys}
    for i, line in sorted(after.lines.items(), key=lambda kv: (kv[1].number, kv[1].line_no)):
        ref = (line.number, line.line_no)
        b = before.lines[i]
        if set(after.links[i]) != set(before.links[i]) and after.links[i]:
            out["relinked"].append((ref, _parts(before, i), _parts(after, i)))
        remaining = line.qty - line.qty_assigned - line.qty_shipped - line.qty_cancelled
        if _waiting(after, i) and remaining and not _waiting(before, i):
            out["to_worklist"].append((ref, remaining, line.backorder_reason))
        if after.links[i] and line.status == "open":
            expected, was = _expected(after, i), _expected(before, i)
            later = expected is not None and was is not None and expected > was
            if _late(after, i) and (not _late(before, i) or later):
                out["late"].append((ref, expected))
            elif _late(before, i) and not _late(after, i):
                out["on_time"].append(ref)
        if line.backorder_reason == "late supply" and b.backorder_reason != "late supply":
            out["late_supply"].append(ref)
        if line.qty_assigned > b.qty_assigned:
            out["served"].append((ref, line.qty_assigned - b.qty_assigned))
    emails = []
    for e_id, e in after.emails.items():
        old = before.emails.get(e_id)
        if old is None:
            action = "queued"
        elif e.state in ("cancelled", "superseded") and old.state != e.state:
            action = e.state
        elif (e.body_text, e.template, after.email_lines[e_id]) != (
            old.body_text,
            old.template,
            before.email_lines[e_id],
        ):
            action = "merged"
        else:
            continue
        gone = action in ("cancelled", "superseded")
        lines = 0 if gone else after.email_lines[e_id]
        template = "" if gone else e.template
        emails.append((e.number, template, e.event, action, lines, e.next_attempt_at))
    out["emails"] = sorted(emails, key=repr)
    return out


def answered(w: what_if.WhatIf) -> dict[str, Any]:
    def ref(r: Any) -> tuple[str, int]:
        return (r.number, r.line_no)

    def parts(ps: Any) -> tuple[tuple[Any, ...], ...]:
        return tuple((p.po_number, p.po_line_no, p.qty, p.expected) for p in ps)

    return {
        "relinked": [(ref(r.line), parts(r.before), parts(r.after)) for r in w.relinked],
        "to_worklist": [(ref(r.line), r.waiting, r.reason) for r in w.to_worklist],
        "late": [(ref(r.line), r.expected) for r in w.late],
        "late_supply": [ref(r) for r in w.late_supply],
        "on_time": [ref(r.line) for r in w.on_time_again],
        "served": [(ref(r.line), r.qty) for r in w.served],
        "emails": sorted(
            (
                (
                    e.number,
                    "" if e.action in ("cancelled", "superseded") else e.template,
                    e.event,
                    e.action,
                    0 if e.action in ("cancelled", "superseded") else e.lines,
                    e.send_after,
                )
                for e in w.emails
            ),
            key=repr,
        ),
    }


# --- the property ----------------------------------------------------------------------------


@pytest.fixture
def fresh_database(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[], str]:
    made = [0]

    def fresh() -> str:
        made[0] += 1
        if db_url.startswith("sqlite"):
            path = tmp_path / f"what-if-{made[0]}.db"
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
            return f"sqlite:///{path}"
        _empty_pg(db_url)
        return db_url

    return fresh


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def ask_then_do(ctx: Context, ask: Callable[[], Any], do: Callable[[], object]) -> tuple[Any, Any]:
    """The what-if answer (checking it wrote nothing), then what doing it really did."""
    with ctx.db.read() as conn:
        rows_before, before = _dump(conn), _state(conn)
    try:
        answer: Any = answered(ask())
    except BopoError as exc:
        answer = type(exc)
    with ctx.db.read() as conn:
        assert _dump(conn) == rows_before, "the what-if changed the database"
    try:
        do()
    except BopoError as exc:
        return answer, type(exc)
    with ctx.db.read() as conn:
        return answer, observed(before, _state(conn))


def _on_a_copy(url: str, port: int, scene: Scene) -> tuple[Any, Any]:
    clock = Clock()
    ctx = _context(url, port, clock, on=scene.switch_on, scene=scene)
    on_ctx = _context(url, port, clock, on=True, scene=scene)
    try:
        _set_the_scene(ctx, scene, clock)
        po = _target(ctx, scene, scene.change[1] if len(scene.change) > 1 else 0)
        return ask_then_do(ctx, lambda: _ask(ctx, scene, po), lambda: _do(ctx, on_ctx, scene, po))
    finally:
        ctx.db.dispose()
        on_ctx.db.dispose()


@pytest.mark.slow
def test_what_if_answers_exactly_what_the_change_then_does(
    fresh_database: Callable[[], str], smtp: SmtpServer
) -> None:
    @settings(
        max_examples=30,  # each example loads a scene and reads every table twice
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(scene=scenes)
    def check(scene: Scene) -> None:
        answer, real = _on_a_copy(fresh_database(), smtp.port, scene)
        assert answer == real

    check()


moves = st.lists(
    st.tuples(
        st.sampled_from(("PO-1", "PO-2")),
        st.integers(-4, 6),  # days moved
        st.sampled_from((0, 1, 5, 23, 25)),  # hours since the step before
        st.booleans(),  # the mailer runs first
    ),
    min_size=1,
    max_size=6,
)


@pytest.mark.slow
def test_what_if_foretells_each_due_date_notice_as_dates_keep_moving(
    fresh_database: Callable[[], str], smtp: SmtpServer
) -> None:
    """Notices over time: sent, held back by the throttle, merged, cancelled."""

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(steps=moves, earlier=st.booleans())
    # Moved earlier into the past, then again within the past: both "to be confirmed", so
    # the unsent notice says the same and nothing is merged into it.
    @example(
        steps=[("PO-1", 0, 23, False), ("PO-1", 0, 23, False), ("PO-1", -3, 23, False),
               ("PO-1", -1, 0, False)],
        earlier=True,
    )  # fmt: skip
    @example(
        steps=[("PO-1", -1, 0, False), ("PO-1", -2, 0, False), ("PO-1", -2, 23, False),
               ("PO-1", 1, 23, False)],
        earlier=True,
    )  # fmt: skip
    @example(
        steps=[("PO-1", -3, 23, False), ("PO-1", -4, 0, False), ("PO-1", 1, 0, False),
               ("PO-1", 1, 0, False)],
        earlier=False,
    )  # fmt: skip
    def check(steps: list[tuple[str, int, int, bool]], earlier: bool) -> None:
        url = fresh_database()
        clock = Clock()
        scene = Scene({}, [], [], True, False, False, True, [], False, 0, ())
        ctx = _context(url, smtp.port, clock, on=True, scene=scene)
        try:
            given_stock(ctx, A=0)
            given_status(ctx, "ON ORDER")
            for kind in ("BACK_ORDER_UPDATE", "BACK_ORDER_EARLIER")[: 1 + earlier]:
                templates.add_template(
                    ctx, kind.title(), "Order {{ order.number }}", UPDATE_TEXT, kind=kind, actor="t"
                )
            given_po(ctx, "PO-1", ("A", 6, day(5), "ON ORDER"))
            given_po(ctx, "PO-2", ("A", 6, day(8), "ON ORDER"))
            for n, qty in enumerate((3, 3, 4, 2), 1):
                take_order(ctx, order(f"SO-{n}", ("A", qty), delivery=day(9)), actor="t")
            for po, days, hours, send in steps:
                clock.now += timedelta(hours=hours)
                if send:
                    mailer.send_emails(ctx)
                when = _moved(ctx, po, days)
                answer, real = ask_then_do(
                    ctx,
                    lambda po=po, when=when: what_if.what_if_due_date(ctx, po, 1, when),
                    lambda po=po, when=when: changes.change_due_date(ctx, po, 1, when, actor="t"),
                )
                assert answer == real
        finally:
            ctx.db.dispose()

    check()
