"""After intake, over HTTP: goods in, supply and demand changes, links by hand, despatch."""

from __future__ import annotations

from typing import Any

import pytest

from bopo.domain.roles import Role
from tests.e2e.conftest import Api, order_json
from tests.helpers import day, given_po, given_status, given_stock

DELIVERY = "2026-12-02"  # order_json's delivery date


@pytest.fixture
def shop(api: Api) -> Api:
    """No stock of A; PO-1 brings 5 on day 10, PO-2 brings 8 on day 20."""
    given_stock(api.ctx, A=0, B=0)
    given_status(api.ctx, "ON ORDER")
    given_po(api.ctx, "PO-1", ("A", 5, day(10), "ON ORDER"))
    given_po(api.ctx, "PO-2", ("A", 8, day(20), "ON ORDER"), ("B", 3, day(20), "ON ORDER"))
    return api


def take(api: Api, number: str, *lines: tuple[str, int]) -> dict[str, Any]:
    response = api.post("/api/sales-orders", json=order_json(number, *lines))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def links(api: Api, query: str = "") -> list[tuple[str, str, int, str]]:
    """(SO number, PO number, qty, state) of each association, newest first."""
    items = api.get(f"/api/associations?{query}").json()["items"]
    return [(a["number"], a["po_number"], a["qty"], a["state"]) for a in items]


def waiting(api: Api) -> dict[str, str]:
    return {
        f"{x['number']}:{x['line_no']}": x["reason"]
        for x in api.get("/api/backorders").json()["items"]
    }


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def test_goods_received_serve_the_linked_order_first_and_the_rest_goes_to_stock(
    shop: Api,
) -> None:
    so = take(shop, "SO-1", ("A", 4))
    assert links(shop) == [("SO-1", "PO-1", 4, "active")]

    response = shop.post("/api/purchase-orders/PO-1/lines/1/receipts", json={"qty": 6})
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert [(x["number"], x["qty"], x["kind"]) for x in receipt["to_orders"]] == [
        ("SO-1", 4, "linked")
    ]
    assert (receipt["to_stock"], receipt["over_delivered"]) == (2, 1)
    assert shop.get(response.headers["location"]).json()["id"] == receipt["id"]

    [line] = shop.get(f"/api/sales-orders/{so['id']}").json()["lines"]
    assert (line["outcome"], line["from_stock"], line["linked_qty"]) == ("from stock", 4, 0)
    assert links(shop) == [("SO-1", "PO-1", 4, "fulfilled")]
    item = shop.get("/api/stock-items/A").json()
    assert (item["on_hand"], item["assigned"], item["free"]) == (6, 4, 2)
    listed = shop.get("/api/receipts?po_number=PO-1").json()
    assert [r["id"] for r in listed["items"]] == [receipt["id"]]
    assert shop.get("/api/receipts?po_number=PO-2").json()["total"] == 0


def test_the_order_ships_what_it_was_given_and_completes(shop: Api) -> None:
    so = take(shop, "SO-1", ("A", 4))
    shop.post("/api/purchase-orders/PO-1/lines/1/receipts", json={"qty": 5})

    shipped = shop.post(f"/api/sales-orders/{so['id']}/ship")
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "completed"
    assert shipped.json()["lines"] == [{"line_no": 1, "sku": "A", "qty": 4}]
    item = shop.get("/api/stock-items/A").json()
    assert (item["on_hand"], item["assigned"]) == (1, 0)
    problem(shop.post(f"/api/sales-orders/{so['id']}/ship"), 409)


def test_cancelling_a_po_relinks_its_orders_to_another_po(shop: Api) -> None:
    so = take(shop, "SO-1", ("A", 4))

    response = shop.post("/api/purchase-orders/PO-1/cancel")
    assert response.status_code == 200, response.text
    change = response.json()
    assert [(r["number"], r["po_number"]) for r in change["released"]] == [("SO-1", "PO-1")]
    [again] = change["reallocated"]
    assert (again["number"], again["po_number"], again["linked_qty"], again["expected"]) == (
        "SO-1",
        "PO-2",
        4,
        day(20).isoformat(),
    )
    assert change["lines"][0]["after"]["outstanding"] == 0
    [line] = shop.get(f"/api/sales-orders/{so['id']}").json()["lines"]
    assert (line["po_number"], line["expected"]) == ("PO-2", day(20).isoformat())
    assert links(shop, "state=active") == [("SO-1", "PO-2", 4, "active")]
    assert (
        "cancelled already" in problem(shop.post("/api/purchase-orders/PO-1/cancel"), 409)["detail"]
    )


def test_a_line_is_unlinked_shown_its_candidates_and_linked_by_hand(shop: Api) -> None:
    take(shop, "SO-1", ("A", 4))
    [first] = shop.get("/api/associations?po_number=PO-1").json()["items"]

    unlinked = shop.request("DELETE", f"/api/associations/{first['id']}", Role.OPERATOR)
    assert unlinked.status_code == 200, unlinked.text
    assert unlinked.json()["unlinked"]["po_number"] == "PO-1"
    assert waiting(shop) == {"SO-1:1": "released"}
    offers = shop.get(f"/api/backorders/{first['so_line_id']}/candidates").json()
    assert offers["line"]["waiting"] == 4
    assert [(c["po_number"], c["free_on_order"]) for c in offers["candidates"]] == [
        ("PO-1", 5),
        ("PO-2", 8),
    ]

    body = {"so_line_id": first["so_line_id"], "po_number": "PO-2", "po_line_no": 1}
    made = shop.post("/api/associations", json=body)
    assert made.status_code == 201, made.text
    assert shop.get(made.headers["location"]).json() == made.json()
    assert (made.json()["po_number"], made.json()["qty"], made.json()["state"]) == (
        "PO-2",
        4,
        "active",
    )
    assert waiting(shop) == {}
    assert links(shop) == [("SO-1", "PO-2", 4, "active"), ("SO-1", "PO-1", 4, "released")]
    assert "already" in problem(shop.post("/api/associations", json=body), 409)["detail"]
    problem(shop.request("DELETE", f"/api/associations/{first['id']}", Role.OPERATOR), 409)
    problem(shop.get(f"/api/backorders/{first['so_line_id']}/candidates"), 404)


def test_a_link_by_hand_that_does_not_fit_is_refused(shop: Api) -> None:
    take(shop, "SO-1", ("A", 20))  # more than any PO line brings: waits
    so_line_id = shop.get("/api/backorders").json()["items"][0]["so_line_id"]

    too_small = {"so_line_id": so_line_id, "po_number": "PO-1", "po_line_no": 1}
    assert "free on order" in problem(shop.post("/api/associations", json=too_small), 409)["detail"]
    other_item = {"so_line_id": so_line_id, "po_number": "PO-2", "po_line_no": 2}
    refused = problem(shop.post("/api/associations", json=other_item), 422)
    assert refused["errors"][0]["field"] == "po_line"
    unknown = {"so_line_id": 99_999, "po_number": "PO-1", "po_line_no": 1}
    problem(shop.post("/api/associations", json=unknown), 404)
    assert links(shop) == []
    assert waiting(shop) == {"SO-1:1": "not enough outstanding on order"}


def test_cancelling_a_sales_order_offers_its_quantity_on_order_to_the_worklist(
    shop: Api,
) -> None:
    first = take(shop, "SO-1", ("A", 4), ("B", 3))
    take(shop, "SO-2", ("A", 5))  # PO-1 has 1 left, PO-2 has 8: linked to PO-2
    take(shop, "SO-3", ("A", 5))  # neither has 5 left: waits
    assert waiting(shop) == {"SO-3:1": "not enough outstanding on order"}

    response = shop.post(f"/api/sales-orders/{first['id']}/cancel")
    assert response.status_code == 200, response.text
    change = response.json()
    assert (change["id"], change["status"]) == (first["id"], "cancelled")
    assert [(c["line_no"], c["given_up"], c["from_backorder"]) for c in change["lines"]] == [
        (1, 4, 4),
        (2, 3, 3),
    ]
    assert [(r["number"], r["po_number"]) for r in change["reallocated"]] == [("SO-3", "PO-1")]
    assert waiting(shop) == {}
    assert ("SO-3", "PO-1", 5, "active") in links(shop)
    cancelled_again = problem(shop.post(f"/api/sales-orders/{first['id']}/cancel"), 409)
    assert cancelled_again["type"] == "urn:bopo:problem:invalid-transition"


def test_a_sales_line_is_reduced_and_another_cancelled(shop: Api) -> None:
    given_stock(shop.ctx, B=10)
    so = take(shop, "SO-1", ("A", 4), ("B", 2))

    reduced = shop.patch(f"/api/sales-orders/{so['id']}/lines/1", Role.OPERATOR, json={"qty": 1})
    assert reduced.status_code == 200, reduced.text
    assert reduced.json()["lines"] == [
        {"line_no": 1, "sku": "A", "given_up": 3, "from_stock": 0, "from_backorder": 3}
    ]
    assert links(shop) == [("SO-1", "PO-1", 1, "active")]

    cancelled = shop.post(f"/api/sales-orders/{so['id']}/lines/2/cancel")
    assert cancelled.json()["lines"][0]["from_stock"] == 2
    assert shop.get("/api/stock-items/B").json()["assigned"] == 0
    assert cancelled.json()["status"] == "open"
    problem(shop.post(f"/api/sales-orders/{so['id']}/lines/2/cancel"), 409)
    problem(shop.post(f"/api/sales-orders/{so['id']}/lines/9/cancel"), 404)


def test_a_po_line_is_reduced_moved_late_and_back_then_closed_short(shop: Api) -> None:
    take(shop, "SO-1", ("A", 3))
    take(shop, "SO-2", ("A", 2))
    line = "/api/purchase-orders/PO-1/lines/1"

    reduced = shop.patch(line, Role.OPERATOR, json={"qty": 3})
    assert reduced.status_code == 200, reduced.text
    assert [r["number"] for r in reduced.json()["released"]] == ["SO-2"]
    assert [(r["number"], r["po_number"]) for r in reduced.json()["reallocated"]] == [
        ("SO-2", "PO-2")
    ]

    late = shop.patch(line, Role.OPERATOR, json={"due_date": "2026-12-20"}).json()
    assert [r["number"] for r in late["late_supply"]] == ["SO-1"]
    assert waiting(shop) == {"SO-1:1": "late supply"}
    cleared = shop.patch(line, Role.OPERATOR, json={"due_date": None}).json()
    assert [r["number"] for r in cleared["on_time_again"]] == ["SO-1"]
    assert cleared["lines"][0]["after"]["due_date"] is None
    assert shop.get("/api/purchase-orders/PO-1").json()["lines"][0]["due_date"] is None

    both = shop.patch(line, Role.OPERATOR, json={"qty": 4, "due_date": DELIVERY}).json()
    assert both["lines"][0]["after"] == {
        "ordered": 4,
        "delivered": 0,
        "cancelled": 0,
        "outstanding": 4,
        "due_date": DELIVERY,
    }

    shop.post(f"{line}/receipts", json={"qty": 1})
    closed = shop.post(f"{line}/close-short")
    assert closed.status_code == 200, closed.text
    assert closed.json()["lines"][0]["after"]["cancelled"] == 3
    assert [r["number"] for r in closed.json()["released"]] == ["SO-1"]
    problem(shop.post(f"{line}/receipts", json={"qty": 1}), 409)
    problem(shop.post(f"{line}/cancel"), 409)


def test_a_po_line_without_deliveries_is_cancelled_not_closed_short(shop: Api) -> None:
    take(shop, "SO-1", ("A", 3))
    line = "/api/purchase-orders/PO-1/lines/1"
    assert "cancel it instead" in problem(shop.post(f"{line}/close-short"), 409)["detail"]
    cancelled = shop.post(f"{line}/cancel").json()
    assert [(r["number"], r["po_number"]) for r in cancelled["reallocated"]] == [("SO-1", "PO-2")]


def test_bad_input_is_refused_as_problem_json_naming_each_field(shop: Api) -> None:
    so = take(shop, "SO-1", ("A", 4))
    po_line = "/api/purchase-orders/PO-1/lines/1"

    def fields(response: Any) -> dict[str, str]:
        return {e["field"]: e["message"] for e in problem(response, 422)["errors"]}

    assert fields(shop.post(f"{po_line}/receipts", json={"qty": 0})) == {
        "qty": "must be more than 0"
    }
    assert "whole number" in fields(shop.post(f"{po_line}/receipts", json={"qty": 1.5}))["qty"]
    assert set(fields(shop.post(f"{po_line}/receipts", json={"qty": 1, "extra": 1}))) == {"extra"}
    assert fields(shop.patch(po_line, Role.OPERATOR, json={})) == {
        "body": "give qty, due_date, status or several of them"
    }
    assert (
        "YYYY-MM-DD"
        in fields(shop.patch(po_line, Role.OPERATOR, json={"due_date": "soon"}))["due_date"]
    )
    assert set(
        fields(shop.patch("/api/purchase-orders/PO-1/lines/0", Role.OPERATOR, json={"qty": 1}))
    ) == {"line_no"}
    so_line = f"/api/sales-orders/{so['id']}/lines/1"
    assert fields(shop.patch(so_line, Role.OPERATOR, json={"qty": 9})) == {
        "qty": "can only go down from 4"
    }
    assert set(fields(shop.post(f"/api/sales-orders/{so['id']}/ship", json={"lines": [0]}))) == {
        "lines[0]"
    }
    assert set(fields(shop.post("/api/associations", json={"po_number": "PO-1"}))) == {
        "so_line_id",
        "po_line_no",
    }
    assert set(fields(shop.get("/api/associations?state=gone"))) == {"state"}
    problem(shop.post("/api/purchase-orders/PO-9/lines/1/receipts", json={"qty": 1}), 404)
    problem(shop.post("/api/sales-orders/999/cancel"), 404)

    # Nothing changed on the way.
    assert links(shop) == [("SO-1", "PO-1", 4, "active")]
    assert shop.get("/api/receipts").json()["total"] == 0


def test_a_caller_without_the_role_learns_nothing_about_what_exists(shop: Api) -> None:
    assert shop.post("/api/sales-orders/999/cancel", None).status_code == 401
    assert shop.post("/api/sales-orders/999/cancel", Role.VIEWER).status_code == 403
    assert shop.request("DELETE", "/api/associations/999", Role.VIEWER).status_code == 403


def test_a_receipt_booked_in_error_is_reversed_once(shop: Api) -> None:
    take(shop, "SO-1", ("A", 4))
    receipt = shop.post("/api/purchase-orders/PO-1/lines/1/receipts", json={"qty": 5}).json()

    viewer = shop.post(f"/api/receipts/{receipt['id']}/reverse", Role.VIEWER)
    assert viewer.status_code == 403
    done = shop.post(f"/api/receipts/{receipt['id']}/reverse")

    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["receipt_id"], body["qty"], body["sku"]) == (receipt["id"], 5, "A")
    assert [(t["number"], t["qty"]) for t in body["taken_back"]] == [("SO-1", 4)]
    assert [(r["number"], r["linked_qty"], r["po_number"]) for r in body["reallocated"]] == [
        ("SO-1", 4, "PO-1")
    ]
    assert links(shop)[0] == ("SO-1", "PO-1", 4, "active")
    again = problem(shop.post(f"/api/receipts/{receipt['id']}/reverse"), 409)
    assert "reversed already" in again["detail"]
    problem(shop.post("/api/receipts/999/reverse"), 404)


def test_a_late_line_is_re_linked_in_one_request(shop: Api) -> None:
    take(shop, "SO-1", ("A", 4))  # on PO-1
    shop.patch("/api/purchase-orders/PO-1/lines/1", json={"due_date": "2027-03-01"})
    [line] = shop.get("/api/backorders").json()["items"]
    assert line["reason"] == "late supply"
    body = {"so_line_id": line["so_line_id"], "po_number": "PO-2", "po_line_no": 1}

    assert "unlink it first" in problem(shop.post("/api/associations", json=body), 409)["detail"]
    made = shop.post("/api/associations", json=body | {"relink": True})

    assert made.status_code == 201, made.text
    assert links(shop, "state=active") == [("SO-1", "PO-2", 4, "active")]
    assert shop.get("/api/backorders").json()["items"] == []
