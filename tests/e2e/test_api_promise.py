"""Keeping the promise over HTTP: why an order got its PO line, what a change would do
before anyone makes it, and an order's priority.

The what-if stories check two things for each kind of change: asking changes no row
of the database, and the answer is what the action route then does, read back from
the orders, links, worklist and outbox through the API (not from the action's answer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bopo.db.base import Base
from bopo.domain.roles import Role
from bopo.services.email import templates
from tests.e2e.conftest import Api, order_json
from tests.helpers import day, given_po, given_status, given_stock, given_template

LATE = "late supply"
NOT_AUTH = {"users", "api_tokens"}  # a token's last use is written when it is checked


def customer(code: str) -> dict[str, str]:
    return {"code": code, "name": f"Customer {code}", "email": f"{code.lower()}@example.com"}


def take(
    api: Api, number: str, sku: str, qty: int, *, delivery: int, who: str, **extra: Any
) -> int:
    body = order_json(
        number,
        (sku, qty),
        delivery_date=day(delivery).isoformat(),
        customer=customer(who),
        **extra,
    )
    response = api.post("/api/sales-orders", json=body)
    assert response.status_code == 201, response.text
    order_id: int = response.json()["id"]
    return order_id


def shop(api: Api) -> Api:
    """PO-1 brings 10 of A on 29 Nov, PO-2 5 of A on 10 Dec. SO-D5 (3 of A, ships 30 Nov,
    ADA) and SO-D9 (4 of A, ships 4 Dec, BOB) are both linked to PO-1. Its status emails
    a back-order notice; a due date moved later sends the `Delay` notice."""
    given_stock(api.ctx, A=0, C=0)
    given_status(api.ctx, "ON ORDER")
    given_template(api.ctx, statuses=("ON ORDER",))
    templates.add_template(
        api.ctx, "Delay", "New date", "{{ table(lines) }}", kind="BACK_ORDER_UPDATE", actor="t"
    )
    given_po(api.ctx, "PO-1", ("A", 10, day(4), "ON ORDER"))
    given_po(api.ctx, "PO-2", ("A", 5, day(15), "ON ORDER"))
    take(api, "SO-D5", "A", 3, delivery=5, who="ADA")
    take(api, "SO-D9", "A", 4, delivery=9, who="BOB")
    return api


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def order_id(api: Api, number: str) -> int:
    [found] = api.get(f"/api/sales-orders?number={number}").json()["items"]
    return int(found["id"])


# --- explain ---------------------------------------------------------------------------------


def test_explain_says_why_an_order_got_its_po_line_in_words_and_in_figures(api: Api) -> None:
    shop(api)
    response = api.get(f"/api/sales-orders/{order_id(api, 'SO-D5')}/explain")
    assert response.status_code == 200, response.text
    said = response.json()
    assert (said["number"], said["priority"], said["delivery_date"]) == (
        "SO-D5",
        "normal",
        day(5).isoformat(),
    )
    [line] = said["lines"]
    assert (line["outcome"], line["po_number"], line["linked_qty"], line["waiting"]) == (
        "linked",
        "PO-1",
        3,
        0,
    )
    [decision] = line["decisions"]
    assert (decision["kind"], decision["policy"], decision["need"], decision["reason"]) == (
        "intake",
        "earliest_due",
        3,
        None,
    )
    assert [
        (c["po_number"], c["po_line_no"], c["due_date"], c["free_on_order"], c["chosen"])
        for c in decision["candidates"]
    ] == [
        ("PO-1", 1, day(4).isoformat(), 10, True),
        ("PO-2", 1, day(15).isoformat(), 5, False),
    ]
    assert decision["text"] == (
        "When the order came in (25 Nov 2026): Linked to PO-1 line 1, due 29 Nov: the earliest "
        "due date with 10 free ≥ 3 needed. PO-2 line 1 (due 10 Dec) also fitted."
    )
    assert line["text"].startswith("Line 1 (A x3): 3 linked to PO-1 line 1 (expected 2026-11-29)")


def test_explain_says_why_a_line_waits_and_what_moved_it_later(api: Api) -> None:
    shop(api)
    big = take(api, "SO-BIG", "A", 6, delivery=12, who="CAT")  # PO-1 has 3 free, PO-2 5

    [line] = api.get(f"/api/sales-orders/{big}/explain?line_no=1").json()["lines"]
    [skipped] = line["decisions"]
    assert (skipped["reason"], skipped["need"]) == ("not enough outstanding on order", 6)
    assert [(c["po_number"], c["free_on_order"], c["chosen"]) for c in skipped["candidates"]] == [
        ("PO-1", 3, False),
        ("PO-2", 5, False),
    ]
    assert "no PO line had 6 free" in skipped["text"]

    api.patch("/api/purchase-orders/PO-2/lines/1", Role.OPERATOR, json={"qty": 11})
    [line] = api.get(f"/api/sales-orders/{big}/explain").json()["lines"]
    assert [d["kind"] for d in line["decisions"]] == ["intake", "reallocation"]
    chosen = line["decisions"][1]["candidates"][0]
    assert (chosen["po_number"], chosen["taken"], chosen["chosen"]) == ("PO-2", 6, True)
    assert line["now"] == "6 linked to PO-2 line 1 (expected 2026-12-10)"


def test_explain_refuses_what_does_not_exist(api: Api) -> None:
    shop(api)
    so = order_id(api, "SO-D5")
    assert "line 2" in problem(api.get(f"/api/sales-orders/{so}/explain?line_no=2"), 404)["detail"]
    problem(api.get("/api/sales-orders/999/explain"), 404)
    assert problem(api.get(f"/api/sales-orders/{so}/explain?line_no=0"), 422)["errors"][0][
        "field"
    ] == ("line_no")
    assert api.get(f"/api/sales-orders/{so}/explain", None).status_code == 401


# --- priority --------------------------------------------------------------------------------


def test_an_order_made_urgent_gets_the_goods_first(api: Api) -> None:
    shop(api)
    first = take(api, "SO-C1", "C", 3, delivery=5, who="ADA")  # no PO brings C: both wait
    second = take(api, "SO-C2", "C", 3, delivery=9, who="BOB")

    made = api.patch(f"/api/sales-orders/{second}", Role.OPERATOR, json={"priority": "urgent"})
    assert made.status_code == 200, made.text
    assert made.json() == {
        "id": second,
        "source": "web",
        "number": "SO-C2",
        "before": "normal",
        "after": "urgent",
        "changed": True,
    }
    again = api.patch(f"/api/sales-orders/{second}", Role.OPERATOR, json={"priority": "urgent"})
    assert again.json()["changed"] is False
    assert api.get(f"/api/sales-orders/{second}").json()["priority"] == "urgent"
    urgent = api.get("/api/sales-orders?priority=urgent").json()
    assert [(o["number"], o["priority"]) for o in urgent["items"]] == [("SO-C2", "urgent")]

    given_po(api.ctx, "PO-9", ("C", 3, day(3), "ON ORDER"))
    receipt = "/api/purchase-orders/PO-9/lines/1/receipts"
    foretold = api.post(f"/api/what-if{receipt[4:]}", Role.VIEWER, json={"qty": 3}).json()
    assert [(s["number"], s["qty"]) for s in foretold["served"]] == [("SO-C2", 3)]
    got = api.post(receipt, json={"qty": 3}).json()
    assert [(x["number"], x["qty"]) for x in got["to_orders"]] == [("SO-C2", 3)]
    assert api.get(f"/api/sales-orders/{first}").json()["lines"][0]["skipped"] == (
        "no open purchase order"
    )

    [line] = api.get(f"/api/sales-orders/{second}/explain").json()["lines"]
    [_, goods_in] = line["decisions"]
    assert goods_in["kind"] == "goods_in"
    assert [(c["po_number"], c["free_on_order"], c["taken"]) for c in goods_in["candidates"]] == [
        ("PO-9", 3, 3)
    ]
    assert "by priority, then delivery date" in goods_in["text"]


def test_an_order_is_taken_and_listed_with_its_priority(api: Api) -> None:
    given_stock(api.ctx, A=5)
    take(api, "SO-H", "A", 1, delivery=7, who="ADA", priority="HIGH")
    take(api, "SO-N", "A", 1, delivery=7, who="ADA")

    listed = api.get("/api/sales-orders").json()["items"]
    assert [(o["number"], o["priority"]) for o in listed] == [("SO-N", "normal"), ("SO-H", "high")]
    assert [o["number"] for o in api.get("/api/sales-orders?priority=high").json()["items"]] == [
        "SO-H"
    ]
    assert api.get("/api/sales-orders?priority=low").json()["total"] == 0
    problem(api.get("/api/sales-orders?priority=soon"), 422)


def test_a_priority_is_refused_unless_it_is_one_of_the_four(api: Api) -> None:
    shop(api)
    so = f"/api/sales-orders/{order_id(api, 'SO-D5')}"

    def fields(body: Any) -> set[str]:
        refused = problem(api.patch(so, Role.OPERATOR, json=body), 422)
        return {e["field"] for e in refused["errors"]}

    assert fields({"priority": "asap"}) == {"priority"}
    assert fields({}) == {"priority"}
    assert fields({"priority": "high", "status": "open"}) == {"status"}
    problem(api.patch("/api/sales-orders/999", Role.OPERATOR, json={"priority": "high"}), 404)
    assert api.patch(so, Role.VIEWER, json={"priority": "high"}).status_code == 403
    assert api.get(so).json()["priority"] == "normal"


# --- what-if ---------------------------------------------------------------------------------


def rows(api: Api) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the users' and tokens'."""
    with api.ctx.db.read() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
            for t in Base.metadata.sorted_tables
            if t.name not in NOT_AUTH
        }


Key = tuple[str, int]  # (order number, line number)
Part = tuple[str, int, int, str | None]  # (PO number, PO line number, qty, expected)


@dataclass(frozen=True)
class Line:
    parts: tuple[Part, ...]
    from_stock: int
    waiting: int
    skipped: str | None
    delivery: str
    open: bool

    @property
    def waits(self) -> bool:
        return not self.parts and self.skipped not in (None, LATE) and self.waiting > 0

    @property
    def expected(self) -> str | None:
        return max((p[3] for p in self.parts if p[3]), default=None)

    @property
    def late(self) -> bool:
        return any(p[3] is not None and p[3] > self.delivery for p in self.parts)


@dataclass(frozen=True)
class Standing:
    """How every order line and email stands, as the API shows them."""

    lines: dict[Key, Line]
    emails: dict[int, tuple[Any, ...]]


def standing(api: Api) -> Standing:
    lines: dict[Key, Line] = {}
    for head in api.get("/api/sales-orders?limit=500").json()["items"]:
        so = api.get(f"/api/sales-orders/{head['id']}").json()
        for x in so["lines"]:
            parts = tuple(
                sorted(
                    (p["po_number"], p["po_line_no"], p["qty"], p["expected"]) for p in x["parts"]
                )
            )
            lines[(so["number"], x["line_no"])] = Line(
                parts,
                x["from_stock"],
                x["waiting"],
                x["skipped"],
                so["delivery_date"],
                so["status"] == "open",
            )
    emails = {}
    for e in api.get("/api/emails?limit=500").json()["items"]:
        shown = api.get(f"/api/emails/{e['id']}").json()
        emails[e["id"]] = (
            shown["state"],
            shown["sales_order"].split("/", 1)[1],
            shown["to"],
            shown["template"],
            shown["event"],
            len(shown["associations"]),
            shown["body_text"],
        )
    return Standing(lines, emails)


def effect(was: Standing, now: Standing) -> dict[str, Any]:
    """What happened between two standings, in the what-if's terms."""
    done: dict[str, Any] = {
        "relinked": {},
        "to_worklist": {},
        "late": {},
        "late_supply": set(),
        "on_time_again": set(),
        "served": {},
        "emails": set(),
    }
    for key, after in now.lines.items():
        before = was.lines[key]
        if after.parts and {p[:2] for p in after.parts} != {p[:2] for p in before.parts}:
            done["relinked"][key] = after.parts
        if after.waits and not before.waits:
            done["to_worklist"][key] = (after.waiting, after.skipped)
        if after.parts and after.open:
            later = bool(after.expected and before.expected and after.expected > before.expected)
            if after.late and (not before.late or later):
                done["late"][key] = after.expected
            elif before.late and not after.late:
                done["on_time_again"].add(key)
        if after.skipped == LATE and before.skipped != LATE:
            done["late_supply"].add(key)
        if after.from_stock > before.from_stock:
            done["served"][key] = after.from_stock - before.from_stock
    for email_id, (state, number, to, template, event, lines, body) in now.emails.items():
        if email_id not in was.emails:
            done["emails"].add(("queued", number, to, template, event, lines, None))
        elif state == "cancelled" and was.emails[email_id][0] != "cancelled":
            done["emails"].add(("cancelled", number, to, None, event, None, email_id))
        elif state == "superseded" and was.emails[email_id][0] != "superseded":
            done["emails"].add(("superseded", number, to, template, event, 0, email_id))
        elif body != was.emails[email_id][-1]:
            done["emails"].add(("merged", number, to, template, event, lines, email_id))
    return done


def foretold(answer: dict[str, Any]) -> dict[str, Any]:
    """The what-if answer in the same terms."""

    def key(x: dict[str, Any]) -> Key:
        return (x["number"], x["line_no"])

    def parts(ps: list[dict[str, Any]]) -> tuple[Part, ...]:
        return tuple(sorted((p["po_number"], p["po_line_no"], p["qty"], p["expected"]) for p in ps))

    def email(e: dict[str, Any]) -> tuple[Any, ...]:
        if e["action"] == "cancelled":
            return ("cancelled", e["number"], e["to"], None, e["event"], None, e["email_id"])
        return (
            e["action"],
            e["number"],
            e["to"],
            e["template"],
            e["event"],
            e["lines"],
            e["email_id"],
        )

    return {
        "relinked": {key(r): parts(r["after"]) for r in answer["relinked"]},
        "to_worklist": {key(w): (w["waiting"], w["reason"]) for w in answer["to_worklist"]},
        "late": {key(x): x["expected"] for x in answer["late"]},
        "late_supply": {key(x) for x in answer["late_supply"]},
        "on_time_again": {key(x) for x in answer["on_time_again"]},
        "served": {key(s): s["qty"] for s in answer["served"]},
        "emails": {email(e) for e in answer["emails"]},
    }


def switch_on(api: Api) -> None:
    """Restart with `[backorders] allocate_existing_pos = true`, as a person would."""
    options = api.ctx.settings.backorders.model_copy(update={"allocate_existing_pos": True})
    api.ctx.settings = api.ctx.settings.model_copy(update={"backorders": options})


LINE = "/purchase-orders/PO-1/lines/1"


@dataclass
class Story:
    what_if: str  # the what-if route, under /api/what-if
    body: dict[str, Any] | None
    act: Callable[[Api], httpx.Response]  # the action it previews
    says: Callable[[dict[str, Any]], None]  # what the answer tells, in the story's terms
    before: Callable[[Api], Any] = field(default=lambda api: None)
    switched_on: bool = True


def numbers(items: list[dict[str, Any]]) -> list[str]:
    return [x["number"] for x in items]


def emails(answer: dict[str, Any], template: str | None = None) -> list[tuple[str, str, str]]:
    """(order, template, action) of the emails foretold (of one template, if given)."""
    return sorted(
        (e["number"], e["template"], e["action"])
        for e in answer["emails"]
        if template is None or e["template"] == template
    )


# The unsent back-order emails a change to PO-1 line 1 makes untrue: each is superseded,
# and one that says what is true is queued instead.
BOTH_REPLACED = [
    ("SO-D5", "Back order", "queued"),
    ("SO-D5", "Back order", "superseded"),
    ("SO-D9", "Back order", "queued"),
    ("SO-D9", "Back order", "superseded"),
]


def _week_late(a: dict[str, Any]) -> None:
    assert [(x["number"], x["expected"]) for x in a["late"]] == [("SO-D5", day(7).isoformat())]
    assert numbers(a["late_supply"]) == ["SO-D5"]
    assert emails(a, "Delay") == [("SO-D5", "Delay", "queued"), ("SO-D9", "Delay", "queued")]
    assert emails(a, "Back order") == BOTH_REPLACED


def _slips_again(a: dict[str, Any]) -> None:
    assert [(x["number"], x["expected"]) for x in a["late"]] == [("SO-D5", day(8).isoformat())]
    assert a["late_supply"] == []  # on the worklist already
    assert [(n, action) for n, _, action in emails(a, "Delay")] == [
        ("SO-D5", "merged"),
        ("SO-D9", "merged"),
    ]
    assert emails(a, "Back order") == BOTH_REPLACED


def _back_on_time(a: dict[str, Any]) -> None:
    assert numbers(a["on_time_again"]) == ["SO-D5"]
    assert [(n, action) for n, _, action in emails(a) if action == "cancelled"] == [
        ("SO-D5", "cancelled"),
        ("SO-D9", "cancelled"),
    ]
    assert emails(a, "Back order") == BOTH_REPLACED


def _nobody_waits(a: dict[str, Any]) -> None:
    assert a["nothing"] is True
    assert a["change"] == "PO-2 line 1 due 2026-12-20"


def _cut(a: dict[str, Any]) -> None:
    [moved] = a["relinked"]
    assert (moved["number"], moved["before"][0]["po_number"], moved["after"][0]["po_number"]) == (
        "SO-D9",
        "PO-1",
        "PO-2",
    )
    assert numbers(a["late"]) == ["SO-D9"]  # PO-2 comes after 4 Dec
    assert emails(a) == [("SO-D9", "Back order", "queued"), ("SO-D9", "Back order", "superseded")]


def _line_cancelled(a: dict[str, Any]) -> None:
    assert [(r["number"], r["after"][0]["po_number"]) for r in a["relinked"]] == [("SO-D5", "PO-2")]
    assert [(w["number"], w["reason"]) for w in a["to_worklist"]] == [
        ("SO-D9", "not enough outstanding on order")
    ]


def _po_cancelled(a: dict[str, Any]) -> None:
    assert a["change"] == "PO-1 cancelled"
    assert [(r["number"], r["after"][0]["qty"]) for r in a["relinked"]] == [("SO-D5", 2)]
    assert numbers(a["to_worklist"]) == ["SO-D9"]


def _closed_short(a: dict[str, Any]) -> None:
    assert [(r["number"], r["after"][0]["po_number"]) for r in a["relinked"]] == [
        ("SO-D5", "PO-2"),
        ("SO-D9", "PO-2"),
    ]


def _received(a: dict[str, Any]) -> None:
    assert [(s["number"], s["qty"]) for s in a["served"]] == [("SO-D5", 3), ("SO-D9", 2)]
    assert a["relinked"] == a["to_worklist"] == []
    # SO-D5 has nothing left to come; SO-D9's email said 4, 2 are still to come.
    assert emails(a) == [
        ("SO-D5", "Back order", "superseded"),
        ("SO-D9", "Back order", "queued"),
        ("SO-D9", "Back order", "superseded"),
    ]


def _switched_on(a: dict[str, Any]) -> None:
    assert [(r["number"], r["before"], r["after"][0]["po_number"]) for r in a["relinked"]] == [
        ("SO-D5", [], "PO-1"),
        ("SO-D9", [], "PO-1"),
    ]
    assert [(e["number"], e["event"]) for e in a["emails"]] == [
        ("SO-D5", "worklist"),
        ("SO-D9", "worklist"),
    ]


def _patch(body: dict[str, Any], line: str = LINE) -> Callable[[Api], httpx.Response]:
    return lambda api: api.patch(f"/api{line}", Role.OPERATOR, json=body)


def _post(path: str, body: dict[str, Any] | None = None) -> Callable[[Api], httpx.Response]:
    return lambda api: api.post(f"/api{path}", json=body)


def _retry_with_the_switch_on(api: Api) -> httpx.Response:
    switch_on(api)
    return api.post("/api/backorders/allocate")


STORIES = {
    "a PO line due a week later": Story(
        f"{LINE}/due-date",
        {"due_date": day(7).isoformat()},
        _patch({"due_date": day(7).isoformat()}),
        _week_late,
    ),
    "a PO line slipping again before the notice went": Story(
        f"{LINE}/due-date",
        {"due_date": day(8).isoformat()},
        _patch({"due_date": day(8).isoformat()}),
        _slips_again,
        before=_patch({"due_date": day(7).isoformat()}),
    ),
    "a PO line back on its first date": Story(
        f"{LINE}/due-date",
        {"due_date": day(4).isoformat()},
        _patch({"due_date": day(4).isoformat()}),
        _back_on_time,
        before=_patch({"due_date": day(7).isoformat()}),
    ),
    "a due date moved on a PO line nobody waits for": Story(
        "/purchase-orders/PO-2/lines/1/due-date",
        {"due_date": day(25).isoformat()},
        _patch({"due_date": day(25).isoformat()}, "/purchase-orders/PO-2/lines/1"),
        _nobody_waits,
    ),
    "a PO line cut to 4": Story(f"{LINE}/qty", {"qty": 4}, _patch({"qty": 4}), _cut),
    "a PO line cancelled": Story(f"{LINE}/cancel", None, _post(f"{LINE}/cancel"), _line_cancelled),
    "a part-delivered PO cancelled": Story(
        "/purchase-orders/PO-1/cancel",
        None,
        _post("/purchase-orders/PO-1/cancel"),
        _po_cancelled,
        before=_post(f"{LINE}/receipts", {"qty": 1}),
    ),
    "a part-delivered PO line closed short": Story(
        f"{LINE}/close-short",
        None,
        _post(f"{LINE}/close-short"),
        _closed_short,
        before=_post(f"{LINE}/receipts", {"qty": 2}),
    ),
    "goods received": Story(
        f"{LINE}/receipts", {"qty": 5}, _post(f"{LINE}/receipts", {"qty": 5}), _received
    ),
    "the switch turned on over the worklist": Story(
        "/switch-on", None, _retry_with_the_switch_on, _switched_on, switched_on=False
    ),
}


@pytest.mark.parametrize("story", STORIES.values(), ids=list(STORIES))
def test_what_if_changes_nothing_and_foretells_what_the_action_does(
    make_api: Callable[..., Api], story: Story
) -> None:
    api = shop(make_api(allocate_existing_pos=story.switched_on))
    prepared = story.before(api)
    assert prepared is None or prepared.status_code < 300, prepared.text
    untouched = rows(api)

    asked = api.post(f"/api/what-if{story.what_if}", Role.VIEWER, json=story.body)
    assert asked.status_code == 200, asked.text
    answer = asked.json()
    assert rows(api) == untouched
    story.says(answer)

    was = standing(api)
    done = story.act(api)
    assert done.status_code < 300, done.text
    assert effect(was, standing(api)) == foretold(answer)
    if "late_supply" in done.json():  # a supply change's own answer agrees too
        assert numbers(done.json()["late_supply"]) == numbers(answer["late_supply"])


def test_what_if_refuses_what_the_action_would_refuse_and_changes_nothing(api: Api) -> None:
    shop(api)
    untouched = rows(api)

    def asks(path: str, body: Any = None) -> httpx.Response:
        return api.post(f"/api/what-if{path}", Role.VIEWER, json=body)

    assert "nothing was delivered" in problem(asks(f"{LINE}/close-short"), 409)["detail"]
    problem(asks("/purchase-orders/PO-9/cancel"), 404)
    problem(asks("/purchase-orders/PO-1/lines/7/receipts", {"qty": 1}), 404)
    assert {e["field"] for e in problem(asks(f"{LINE}/qty", {"qty": 0}), 422)["errors"]} == {"qty"}
    assert {e["field"] for e in problem(asks(f"{LINE}/due-date", {}), 422)["errors"]} == {
        "due_date"
    }
    [bad_date] = problem(asks(f"{LINE}/due-date", {"due_date": "soon"}), 422)["errors"]
    assert "YYYY-MM-DD" in bad_date["message"]
    assert asks("/switch-on").status_code == 200
    assert api.post("/api/what-if/switch-on", None).status_code == 401
    assert rows(api) == untouched

    api.post("/api/purchase-orders/PO-1/cancel")
    assert "cancelled already" in problem(asks("/purchase-orders/PO-1/cancel"), 409)["detail"]
