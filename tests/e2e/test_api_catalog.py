"""System and master data over HTTP: stock items, statuses, purchase orders, parties."""

from __future__ import annotations

from bopo.domain.roles import Role
from bopo.services.orders.intake import take_order
from tests.e2e.conftest import Api
from tests.helpers import day, given_po, given_status, given_stock, order


def test_a_stock_item_is_added_counted_and_renamed(api: Api) -> None:
    made = api.post("/api/stock-items", Role.ADMIN, json={"sku": "A", "name": "Kettle"})
    assert made.status_code == 201
    assert made.headers["location"] == "/api/stock-items/A"
    assert made.json()["on_hand"] == 0
    counted = api.patch("/api/stock-items/A", json={"on_hand": 7}).json()
    assert (counted["name"], counted["on_hand"], counted["free"]) == ("Kettle", 7, 7)
    renamed = api.patch("/api/stock-items/A", json={"name": "Green kettle"}).json()
    assert (renamed["name"], renamed["on_hand"]) == ("Green kettle", 7)
    again = api.post("/api/stock-items", Role.ADMIN, json={"sku": "A", "name": "Other"})
    assert again.status_code == 409
    assert again.json()["type"] == "urn:bopo:problem:conflict"


def test_on_hand_cannot_drop_below_what_is_assigned(api: Api) -> None:
    given_stock(api.ctx, A=5)
    take_order(api.ctx, order("SO-1", ("A", 4)), actor="t")
    response = api.patch("/api/stock-items/A", json={"on_hand": 3})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "on_hand"
    assert api.get("/api/stock-items/A").json()["on_hand"] == 5


def test_stock_items_are_found_by_sku_name_and_shortage(api: Api) -> None:
    given_stock(api.ctx, **{"KET-1": 0, "KET-2": 3, "MUG_1": 4})
    given_status(api.ctx, "ON ORDER")
    given_po(api.ctx, "PO-1", ("KET-1", 10, day(5), "ON ORDER"))

    def skus(query: str) -> list[str]:
        return [i["sku"] for i in api.get(f"/api/stock-items?{query}").json()["items"]]

    assert skus("") == ["KET-1", "KET-2", "MUG_1"]
    assert skus("sku=KET") == ["KET-1", "KET-2"]
    assert skus("q=_") == ["MUG_1"]  # LIKE wildcards match themselves
    assert skus("short=true") == ["KET-1"]
    assert api.get("/api/stock-items/KET-1").json()["on_order"] == 10
    assert api.get("/api/stock-items/NOPE").status_code == 404


def test_a_status_is_added_once_with_its_code_upper_cased(api: Api) -> None:
    made = api.post("/api/po-line-statuses", Role.ADMIN, json={"code": "late", "name": "Late"})
    assert (made.status_code, made.json()["code"]) == (201, "LATE")
    again = api.post("/api/po-line-statuses", Role.ADMIN, json={"code": "LATE", "name": "Late"})
    assert again.status_code == 409
    blank = api.post("/api/po-line-statuses", Role.ADMIN, json={"code": "  ", "name": "x"})
    assert blank.json()["errors"][0]["field"] == "code"
    assert [s["code"] for s in api.get("/api/po-line-statuses").json()] == ["LATE"]
    bad = api.post("/api/po-line-statuses", Role.ADMIN, json={"code": "bad code!", "name": "x"})
    assert bad.status_code == 422
    assert "is not a status code" in bad.json()["errors"][0]["message"]


def test_a_status_is_renamed_and_retired_by_an_admin_only(api: Api) -> None:
    given_status(api.ctx, "LATE")
    rename = {"json": {"name": "Running late"}}
    assert api.post("/api/po-line-statuses/late/rename", Role.OPERATOR, **rename).status_code == 403
    renamed = api.post("/api/po-line-statuses/late/rename", Role.ADMIN, **rename)
    assert (renamed.status_code, renamed.json()["name"]) == (200, "Running late")
    assert api.post("/api/po-line-statuses/LATE/retire", Role.OPERATOR).status_code == 403
    retired = api.post("/api/po-line-statuses/LATE/retire", Role.ADMIN)
    assert retired.status_code == 200
    assert retired.json()["retired_at"] is not None
    assert api.post("/api/po-line-statuses/NOPE/retire", Role.ADMIN).status_code == 404


def test_a_purchase_order_is_created_whole_or_not_at_all(api: Api) -> None:
    given_stock(api.ctx, A=0, B=0)
    given_status(api.ctx, "ON ORDER")
    bad = {
        "number": "PO-1",
        "supplier_code": "SUP",
        "lines": [
            {"line_no": 1, "sku": "A", "qty": 5, "status": "ON ORDER"},
            {"line_no": 2, "sku": "NOPE", "qty": 5},
            {"line_no": 3, "sku": "B", "qty": 5, "status": "MISSING"},
        ],
    }
    refused = api.post("/api/purchase-orders", json=bad)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["lines[1].sku", "lines[2].status"]
    assert api.get("/api/purchase-orders").json()["total"] == 0
    assert api.get("/api/suppliers").json()["total"] == 0

    good = dict(bad, lines=[bad["lines"][0], {"line_no": 2, "sku": "B", "qty": 3}])
    made = api.post("/api/purchase-orders", json=good)
    assert made.status_code == 201
    lines = made.json()["lines"]
    assert [(x["sku"], x["outstanding"], x["status"]) for x in lines] == [
        ("A", 5, "ON ORDER"),
        ("B", 3, None),
    ]
    assert api.post("/api/purchase-orders", json=good).status_code == 409


def test_a_purchase_order_shows_the_sales_lines_linked_to_it(api: Api) -> None:
    given_stock(api.ctx, A=0)
    given_status(api.ctx, "ON ORDER")
    given_po(api.ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    take_order(api.ctx, order("SO-1", ("A", 4)), actor="t")
    line = api.get("/api/purchase-orders/PO-1").json()["lines"][0]
    assert (line["associated"], line["free_on_order"]) == (4, 6)
    assert [(s["number"], s["qty"]) for s in line["linked"]] == [("SO-1", 4)]
    assert api.get("/api/purchase-orders/PO-9").status_code == 404


def test_purchase_orders_are_filtered_by_supplier_item_status_and_due_date(api: Api) -> None:
    given_stock(api.ctx, A=0, B=0)
    given_status(api.ctx, "ON ORDER")
    given_po(api.ctx, "PO-1", ("A", 10, day(5), "ON ORDER"), supplier="NORTH")
    given_po(api.ctx, "PO-2", ("B", 10, day(20)), supplier="SOUTH")

    def numbers(query: str) -> list[str]:
        return [p["number"] for p in api.get(f"/api/purchase-orders?{query}").json()["items"]]

    assert numbers("") == ["PO-2", "PO-1"]
    assert numbers("supplier=NORTH") == ["PO-1"]
    assert numbers("sku=B") == ["PO-2"]
    assert numbers("status=ON ORDER") == ["PO-1"]
    assert numbers(f"due_before={day(10)}") == ["PO-1"]
    assert numbers("open=false") == []
    summary = api.get("/api/purchase-orders?number=PO-1").json()["items"][0]
    assert (summary["open_lines"], summary["outstanding"], summary["next_due"]) == (
        1,
        10,
        day(5).isoformat(),
    )


def test_customers_and_suppliers_come_in_with_their_orders(api: Api) -> None:
    given_stock(api.ctx, A=5)
    given_po(api.ctx, "PO-1", ("A", 10, day(5)), supplier="NORTH")
    take_order(api.ctx, order("SO-1", ("A", 1), customer="C7"), actor="t")
    customer = api.get("/api/customers/C7").json()
    assert (customer["email"], customer["orders"]) == ("c7@example.com", 1)
    assert api.get("/api/customers?email=C7@EXAMPLE.COM").json()["total"] == 1
    assert api.get("/api/customers?q=nobody").json()["total"] == 0
    assert api.get("/api/suppliers/NORTH").json()["purchase_orders"] == 1
    assert api.get("/api/suppliers/SOUTH").status_code == 404
