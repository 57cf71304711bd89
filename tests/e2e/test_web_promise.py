"""Keeping the promise in the pages, over HTTP: why an order got its PO line, an order's
priority, and a preview before each change to supply that says what it would do.

The preview stories check two things for each kind of change: asking changes no row of
the database, and what the preview page lists is what confirming it then does, read back
from the orders and the outbox through the services (not from the action's message).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from bopo.db.base import Base
from bopo.db.engine import Database
from bopo.db.models import PendingEmail, RuntimeSetting, SalesOrder
from bopo.domain.roles import Role
from bopo.services.admin import audit
from bopo.services.context import Context
from bopo.services.email import templates
from bopo.services.orders import sales
from bopo.services.orders.intake import take_order
from bopo.web.routes import what_if
from tests.e2e.conftest import Web, flashes
from tests.helpers import day, given_po, given_status, given_stock, given_template, order

V, OP, A = Role.VIEWER, Role.OPERATOR, Role.ADMIN
LATE = "late supply"


def shop(web: Web) -> Web:
    """PO-1 brings 10 of A on 29 Nov, PO-2 5 of A on 10 Dec, both ON ORDER (which emails a
    back-order notice). SO-D5 (3 of A, ships 30 Nov, ADA) and SO-D9 (4 of A, ships 4 Dec,
    BOB) are both linked to PO-1. A due date moved later sends the `Delay` notice."""
    given_stock(web.ctx, A=0, C=0)
    given_status(web.ctx, "ON ORDER")
    given_template(web.ctx, statuses=("ON ORDER",))
    templates.add_template(
        web.ctx, "Delay", "New date", "{{ table(lines) }}", kind="BACK_ORDER_UPDATE", actor="t"
    )
    given_po(web.ctx, "PO-1", ("A", 10, day(4), "ON ORDER"))
    given_po(web.ctx, "PO-2", ("A", 5, day(15), "ON ORDER"))
    take(web, "SO-D5", "A", 3, delivery=5, who="ADA")
    take(web, "SO-D9", "A", 4, delivery=9, who="BOB")
    return web


def take(web: Web, number: str, sku: str, qty: int, *, delivery: int, who: str) -> int:
    made = order(number, (sku, qty), delivery=day(delivery), customer=who)
    result = take_order(web.ctx, made, actor="test")
    assert result.id is not None
    return result.id


def so_url(web: Web, number: str) -> str:
    return f"/sales-orders/{sales.show_sales_order(web.ctx, number).id}"


def text_of(page: str) -> str:
    """A page as text, tags dropped, for reading what it says."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def why_of(page: str, line_no: int) -> str:
    found = re.search(rf'<details id="why-{line_no}".*?</details>', page, re.S)
    assert found, f"no why for line {line_no}"
    return text_of(found.group(0))


# --- why ------------------------------------------------------------------------------------


def test_the_sales_order_page_says_why_a_line_got_its_po_line_and_what_else_was_looked_at(
    web: Web,
) -> None:
    shop(web)
    web.sign_in(V)
    page = web.client.get(so_url(web, "SO-D5")).text
    why = why_of(page, 1)
    assert (
        "When the order came in (25 Nov 2026): Linked to PO-1 line 1, due 29 Nov: the earliest "
        "due date with 10 free ≥ 3 needed. PO-2 line 1 (due 10 Dec) also fitted."
    ) in why
    rows = [
        text_of(r) for r in re.findall(r'<table class="compact considered">.*?</table>', page, re.S)
    ]
    assert rows == [
        "PO lines considered PO line Due then Free on order then Needed Chosen "
        "PO-1 line 1 Sun 29 Nov 10 3 chosen "
        "PO-2 line 1 Thu 10 Dec 5 3 fitted, not chosen"
    ]
    assert 'href="#why-1"' in page  # the line's row links to its why


def test_a_waiting_line_says_why_it_waits_and_later_what_linked_it(web: Web) -> None:
    shop(web)
    big = take(web, "SO-BIG", "A", 6, delivery=12, who="CAT")  # PO-1 has 3 free, PO-2 5
    web.sign_in(OP)
    why = why_of(web.client.get(f"/sales-orders/{big}").text, 1)
    assert "Not linked, 6 waiting: no PO line had 6 free" in why
    assert "PO-1 line 1 Sun 29 Nov 3 6 too little free" in why
    assert "PO-2 line 1 Thu 10 Dec 5 6 too little free" in why

    web.act("/purchase-orders/PO-2", {"action": "qty", "line_no": 1, "qty": 11})
    why = why_of(web.client.get(f"/sales-orders/{big}").text, 1)
    assert "2 decisions" in why
    assert "On re-allocation (25 Nov 2026): Linked to PO-2 line 1" in why


def test_a_line_without_a_decision_says_why_there_is_none(make_web: Callable[..., Web]) -> None:
    web = make_web(allocate_existing_pos=False)
    given_stock(web.ctx, A=1)
    made = take(web, "SO-OFF", "A", 3, delivery=5, who="ADA")
    web.sign_in(V)
    why = why_of(web.client.get(f"/sales-orders/{made}").text, 1)
    assert "0 decisions" in why
    assert "Allocation to existing purchase orders was off when this line was taken" in why


# --- priority -------------------------------------------------------------------------------


def test_an_operator_changes_an_orders_priority_and_is_told_what_changed(web: Web) -> None:
    shop(web)
    web.sign_in(OP)
    url = so_url(web, "SO-D9")
    said = web.act(url, {"action": "priority", "priority": "urgent"})
    assert said == [
        "web/SO-D9: priority normal → urgent. Nothing moves at once: the next goods in, "
        "re-allocation or worklist retry serves it in its new place."
    ]
    assert sales.show_sales_order(web.ctx, "SO-D9").priority == "urgent"
    assert web.act(url, {"action": "priority", "priority": "urgent"}) == [
        "web/SO-D9 is urgent already; nothing changed."
    ]
    assert web.act(url, {"action": "priority", "priority": "asap"}) == [
        "priority: must be one of low, normal, high, urgent, not 'asap'"
    ]
    page = web.client.get(url).text
    assert '<option value="urgent" selected>' in page
    assert '<span class="priority p-urgent">urgent</span>' in page

    listed = web.client.get("/sales-orders?priority=urgent").text
    assert "SO-D9" in listed
    assert "SO-D5" not in listed
    assert '<option value="urgent" selected>' in listed
    assert "SO-D5" in web.client.get("/sales-orders?priority=normal").text


def test_an_order_taken_by_form_gets_the_priority_chosen_normal_unless_said(web: Web) -> None:
    given_stock(web.ctx, A=5)
    web.sign_in(OP)
    assert '<option value="normal" selected>' in web.client.get("/sales-orders/new").text
    form = {
        "number": "F-1",
        "customer_code": "C9",
        "customer_name": "Nine",
        "customer_email": "nine@example.com",
        "order_date": "2026-11-25",
        "delivery_date": "2026-12-01",
        "sku": ["A"],
        "qty": ["1"],
    }
    web.act("/sales-orders/new", form | {"priority": "high"})
    web.act("/sales-orders/new", form | {"number": "F-2"})
    assert sales.show_sales_order(web.ctx, "F-1").priority == "high"
    assert sales.show_sales_order(web.ctx, "F-2").priority == "normal"
    answer = web.post("/sales-orders/new", form | {"number": "F-3", "priority": "soon"})
    assert answer.status_code == 422
    assert "priority: must be one of low, normal, high, urgent" in text_of(answer.text)


def test_a_viewer_reads_the_why_but_is_offered_no_priority_or_preview(web: Web) -> None:
    shop(web)
    web.sign_in(V)
    page = web.client.get(so_url(web, "SO-D5")).text
    assert "Why each line got what it got" in page
    assert "Set priority" not in page
    assert 'name="priority"' not in page
    assert "Preview" not in web.client.get("/purchase-orders/PO-1").text
    assert web.client.get("/what-if/switch-on").status_code == 403
    answer = web.post("/what-if/purchase-orders/PO-1", {"action": "cancel-po"})
    assert answer.status_code == 403


# --- what-if --------------------------------------------------------------------------------


def rows(web: Web) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table."""
    with web.ctx.db.read() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
            for t in Base.metadata.sorted_tables
        }


Part = tuple[str, int, int]  # PO number, PO line number, qty


@dataclass(frozen=True)
class Line:
    parts: frozenset[Part]
    expected: Any
    from_stock: int
    waiting: int
    skipped: str | None
    delivery: Any
    open: bool

    @property
    def waits(self) -> bool:
        return not self.parts and self.skipped not in (None, LATE) and self.waiting > 0

    @property
    def late(self) -> bool:
        return bool(self.parts) and self.expected is not None and self.expected > self.delivery


@dataclass(frozen=True)
class Standing:
    lines: dict[str, Line]  # "web/SO-D5 line 1" -> how it stands
    emails: dict[int, tuple[str, str, str]]  # id -> state, "web/SO-D5", body


def standing(web: Web) -> Standing:
    lines = {}
    for head in sales.find_sales_orders(web.ctx, limit=500).items:
        so = sales.get_sales_order(web.ctx, head.id)
        for x in so.lines:
            lines[f"{so.source}/{so.number} line {x.line_no}"] = Line(
                frozenset((p.po_number, p.po_line_no, p.qty) for p in x.parts),
                x.expected,
                x.from_stock,
                x.waiting,
                x.skipped,
                so.delivery_date,
                so.status == "open",
            )
    with web.ctx.db.read() as conn:
        emails = {
            r.id: (r.state, f"{r.source}/{r.number}", r.body_text)
            for r in conn.execute(
                select(
                    PendingEmail.id,
                    PendingEmail.state,
                    PendingEmail.body_text,
                    SalesOrder.source,
                    SalesOrder.number,
                ).join(SalesOrder, SalesOrder.id == PendingEmail.sales_order_id)
            )
        }
    return Standing(lines, emails)


def effect(was: Standing, now: Standing) -> dict[str, set[str]]:
    """What happened between two standings, in the preview page's terms."""
    done: dict[str, set[str]] = {
        k: set()
        for k in (
            "relinked",
            "to_worklist",
            "late",
            "late_supply",
            "on_time_again",
            "served",
            "emails",
        )
    }
    for key, after in now.lines.items():
        before = was.lines[key]
        if after.parts and {p[:2] for p in after.parts} != {p[:2] for p in before.parts}:
            done["relinked"].add(key)
        if after.waits and not before.waits:
            done["to_worklist"].add(key)
        if after.parts and after.open:
            later = bool(after.expected and before.expected and after.expected > before.expected)
            if after.late and (not before.late or later):
                done["late"].add(key)
            elif before.late and not after.late:
                done["on_time_again"].add(key)
        if after.skipped == LATE and before.skipped != LATE:
            done["late_supply"].add(key)
        if after.from_stock > before.from_stock:
            done["served"].add(key)
    for email_id, (state, so, body) in now.emails.items():
        if email_id not in was.emails:
            done["emails"].add(f"queued {so}")
        elif state in ("cancelled", "superseded") and was.emails[email_id][0] != state:
            done["emails"].add(f"{state} {so}")
        elif body != was.emails[email_id][2]:
            done["emails"].add(f"merged {so}")
    return done


def shown(page: str) -> dict[str, set[str]]:
    """What a preview page lists, by kind: the order lines, and each email as 'action order'."""
    said: dict[str, set[str]] = {k: set() for k in effect(Standing({}, {}), Standing({}, {}))}
    for kind, body in re.findall(r'<section data-kind="(\w+)"(.*?)</section>', page, re.S):
        attr = "data-email" if kind == "emails" else "data-line"
        said[kind] = {html.unescape(v) for v in re.findall(rf'{attr}="([^"]+)"', body)}
    return said


def confirm_form(page: str) -> tuple[str, dict[str, str]]:
    """The preview's confirm form: where it posts and its fields (the CSRF token aside)."""
    found = re.search(
        r'<form method="post" action="([^"]+)" class="actions confirm".*?</form>', page, re.S
    )
    assert found, "no confirm form"
    fields = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', found.group(0))
    )
    fields.pop("csrf_token")
    return html.unescape(found.group(1)), {k: html.unescape(v) for k, v in fields.items()}


def _receive(qty: int) -> Callable[[Web], None]:
    def receive(web: Web) -> None:
        web.act("/purchase-orders/PO-1", {"action": "receive", "line_no": 1, "qty": qty})

    return receive


@dataclass
class Story:
    preview: str  # where the Preview button posts
    form: dict[str, Any]  # the action's form, as the page sends it
    says: dict[str, set[str]]  # what the preview page lists (kinds left out: nothing)
    question: str
    before: Callable[[Web], None] = field(default=lambda web: None)


PO1 = "/what-if/purchase-orders/PO-1"
D5, D9 = "web/SO-D5 line 1", "web/SO-D9 line 1"
# What the unsent back-order emails would do: replaced by a true one, or superseded.
Q5, Q9 = "queued web/SO-D5", "queued web/SO-D9"
S5, S9 = "superseded web/SO-D5", "superseded web/SO-D9"

STORIES = {
    "a PO line due a week later": Story(
        PO1,
        {"action": "due", "line_no": 1, "due_date": day(7).isoformat()},
        {
            "late": {D5},
            "late_supply": {D5},
            # The unsent emails give way to ones with the new date; the notices go too.
            "emails": {Q5, Q9, S5, S9},
        },
        "Move the due date of PO-1 line 1 (A) from Sun 29 Nov to Wed 2 Dec?",
    ),
    "a PO line cut to 4": Story(
        PO1,
        {"action": "qty", "line_no": 1, "qty": 4},
        {"relinked": {D9}, "late": {D9}, "emails": {Q9, S9}},
        "Change the ordered quantity of PO-1 line 1 (A) from 10 to 4?",
    ),
    "a PO line cancelled": Story(
        PO1,
        {"action": "cancel-line", "line_no": 1},
        {"relinked": {D5}, "to_worklist": {D9}, "late": {D5}, "emails": {Q5, S5, S9}},
        "Cancel PO-1 line 1?",
    ),
    "a part-delivered PO line closed short": Story(
        PO1,
        {"action": "close-short", "line_no": 1},
        {
            "relinked": {D5, D9},
            "late": {D5, D9},
            "emails": {Q5, Q9, S5, S9},
        },
        "Close PO-1 line 1 short? Nothing more would come on it.",
        before=_receive(2),
    ),
    "a part-delivered PO cancelled": Story(
        PO1,
        {"action": "cancel-po"},
        {"relinked": {D5}, "to_worklist": {D9}, "late": {D5}, "emails": {Q5, S5, S9}},
        "Cancel every open line of PO-1?",
        before=_receive(1),
    ),
    "goods received on the PO page": Story(
        PO1,
        {"action": "receive", "line_no": 1, "qty": 5},
        {"served": {D5, D9}, "emails": {Q9, S5, S9}},  # D9's email: 2 still to come
        "Receive 5 of A on PO-1 line 1 (10 outstanding)?",
    ),
    "goods received on the goods-in page": Story(
        "/what-if/goods-in",
        {"po_number": "PO-1", "line_no": 1, "qty": 8},
        {"served": {D5, D9}, "emails": {S5, S9}},  # nothing left to announce
        "Receive 8 of A on PO-1 line 1 (10 outstanding)?",
    ),
}


@pytest.mark.parametrize("story", STORIES.values(), ids=list(STORIES))
def test_a_preview_changes_nothing_and_lists_what_confirming_it_then_does(
    web: Web, story: Story
) -> None:
    shop(web)
    web.sign_in(OP)
    story.before(web)
    untouched = rows(web)

    answer = web.post(story.preview, story.form)
    assert answer.status_code == 200, answer.text
    assert rows(web) == untouched
    page = answer.text
    assert f"Preview: {story.question}" in text_of(page)
    foretold = shown(page)
    assert {k: v for k, v in foretold.items() if v} == story.says

    action, fields = confirm_form(page)
    assert fields == {k: str(v) for k, v in story.form.items()}
    was = standing(web)
    done = web.post(action, fields)
    assert done.status_code == 303
    assert '<p class="flash ok"' in web.client.get(done.headers["location"]).text
    assert effect(was, standing(web)) == foretold


def test_switching_allocation_on_is_previewed_over_todays_worklist(
    make_web: Callable[..., Web],
) -> None:
    web = shop(make_web(allocate_existing_pos=False))  # both orders wait: feature off
    web.sign_in(A)
    assert 'action="/what-if/switch-on"' in web.client.get("/settings").text
    assert 'href="/what-if/switch-on"' in web.client.get("/worklist").text
    untouched = rows(web)

    answer = web.client.get("/what-if/switch-on")
    assert answer.status_code == 200
    assert rows(web) == untouched
    foretold = shown(answer.text)
    assert foretold["relinked"] == {D5, D9}
    assert foretold["emails"] == {"queued web/SO-D5", "queued web/SO-D9"}
    said = text_of(answer.text)
    assert (
        "Nothing has changed yet. It would link 2 waiting order lines and queue 2 emails." in said
    )
    assert "Apply: allocation on, policy earliest_due, default status none" in said

    # Applied from the preview: at once, for everyone, no restart; then the worklist
    # retry makes those links.
    assert web.act(
        "/settings/allocation", {"allocate": "on", "policy": "earliest_due", "default_status": ""}
    ) == ["Changed for everyone, at once: allocate_existing_pos off → on."]
    assert web.ctx.backorders().allocate_existing_pos
    was = standing(web)
    web.act("/worklist/retry", {"back": "/worklist"})
    assert effect(was, standing(web)) == foretold


def test_an_admin_changes_the_allocation_settings_at_run_time_and_it_is_audited(
    make_web: Callable[..., Web],
) -> None:
    web = shop(make_web(allocate_existing_pos=False))
    other = Context(Database(web.ctx.settings.database.url), web.ctx.settings, clock=web.ctx.clock)
    web.sign_in(A)
    given_status(web.ctx, "CONFIRMED")

    said = web.act(
        "/settings/allocation",
        {"allocate": "on", "policy": "best_fit", "default_status": "confirmed"},
    )

    assert said == [
        "Changed for everyone, at once: allocate_existing_pos off → on; "
        "policy earliest_due → best_fit; default_po_line_status none → CONFIRMED."
    ]
    other.forget_runtime_settings()  # another process: it reads them within a second
    assert (other.backorders().policy, other.backorders().default_po_line_status) == (
        "best_fit",
        "CONFIRMED",
    )
    other.db.dispose()
    page = text_of(web.client.get("/settings").text)
    assert "policy changed by web:admin at" in page
    trail = audit.find_audit(web.ctx, action="settings.change").items
    by_key = sorted(trail, key=lambda r: str(r.before))
    assert [(r.actor, r.before, r.after) for r in by_key] == [
        ("web:admin", {"allocate_existing_pos": False},
         {"allocate_existing_pos": True, "section": "backorders"}),
        ("web:admin", {"default_po_line_status": None},
         {"default_po_line_status": "CONFIRMED", "section": "backorders"}),
        ("web:admin", {"policy": "earliest_due"}, {"policy": "best_fit", "section": "backorders"}),
    ]  # fmt: skip
    assert web.act(
        "/settings/allocation", {"allocate": "off", "policy": "best_fit", "default_status": "NOPE"}
    ) == ["default po line status: no status NOPE"]
    assert web.ctx.backorders().allocate_existing_pos  # nothing changed
    web.act(
        "/settings/allocation",
        {"allocate": "off", "policy": "earliest_due", "default_status": ""},
    )
    assert not web.ctx.backorders().allocate_existing_pos
    with web.ctx.db.read() as conn:  # back to the file's values: nothing kept
        assert conn.scalars(select(RuntimeSetting.name)).all() == []
    assert "changed by" not in text_of(web.client.get("/settings").text)


def test_a_preview_the_action_would_refuse_says_why_and_changes_nothing(web: Web) -> None:
    shop(web)
    web.sign_in(OP)
    untouched = rows(web)

    def refused(path: str, form: dict[str, Any]) -> list[str]:
        answer = web.post(path, form)
        assert answer.status_code == 303, answer.text
        return flashes(web.client.get(answer.headers["location"]).text)

    assert refused(PO1, {"action": "close-short", "line_no": 1}) == [
        "nothing was delivered on PO-1 line 1: cancel it instead"
    ]
    assert refused(PO1, {"action": "qty", "line_no": 1, "qty": "ten"}) == [
        "qty: must be a whole number, not 'ten'"
    ]
    assert refused(PO1, {"action": "due", "line_no": 1, "due_date": "soon"}) == [
        "due date: must be a date as YYYY-MM-DD, not 'soon'"
    ]
    assert refused(PO1, {"action": "receive", "line_no": 7, "qty": 1}) == [
        "purchase order line PO-1 line 7 not found"
    ]
    assert refused(PO1, {"action": "status", "line_no": 1, "status": "ON ORDER"}) == [
        "action: there is no preview for 'status'"
    ]
    assert refused("/what-if/purchase-orders/PO-9", {"action": "cancel-po"}) == [
        "purchase order PO-9 not found"
    ]
    assert refused("/what-if/goods-in", {"po_number": "PO-1", "line_no": 1, "qty": 0}) == [
        "qty: must be from 1 to 1,000,000"
    ]
    assert rows(web) == untouched


def test_a_preview_with_nothing_to_say_says_so_and_still_offers_the_change(web: Web) -> None:
    shop(web)
    web.sign_in(OP)
    form = {"action": "due", "line_no": 1, "due_date": day(25).isoformat()}
    page = web.post("/what-if/purchase-orders/PO-2", form).text
    said = text_of(page)
    assert "Nothing has changed yet, and it would touch no order and send no email." in said
    assert "No order would be linked, re-linked, sent to the worklist" in said
    assert confirm_form(page) == (
        "/purchase-orders/PO-2",
        {"action": "due", "line_no": "1", "due_date": day(25).isoformat()},
    )


def test_a_preview_touching_many_orders_lists_the_first_and_counts_the_rest(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(what_if, "SHOWN", 1)
    shop(web)
    web.sign_in(OP)
    page = web.post(PO1, {"action": "receive", "line_no": 1, "qty": 8}).text
    served = re.search(r'<section data-kind="served".*?</section>', page, re.S)
    assert served
    assert shown(served.group(0))["served"] == {D5}
    said = text_of(served.group(0))
    assert "Given stock (2)" in said
    assert "And 1 more, not listed." in said
