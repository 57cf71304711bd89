"""Sales orders over HTTP: taking one, taking it again, importing, finding them."""

from __future__ import annotations

import json

import pytest

from bopo.services.files import imports
from bopo.services.orders.intake import take_order
from tests.e2e.conftest import Api, order_json, watch_threads
from tests.helpers import day, given_po, given_status, given_stock, order


def _supply(api: Api) -> None:
    given_stock(api.ctx, A=2, B=10)
    given_status(api.ctx, "ON ORDER")
    given_po(api.ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))


def test_a_new_order_is_taken_with_the_outcome_of_each_line(api: Api) -> None:
    _supply(api)
    response = api.post("/api/sales-orders", json=order_json("SO-1", ("A", 5), ("B", 1)))
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/api/sales-orders/{body['id']}"
    assert body["status"] == "taken"
    a, b = body["lines"]
    assert (a["outcome"], a["from_stock"], a["linked_qty"], a["po_number"], a["expected"]) == (
        "linked",
        2,
        3,
        "PO-1",
        day(5).isoformat(),
    )
    assert (b["outcome"], b["from_stock"]) == ("from stock", 1)


def test_the_same_order_again_returns_it_as_it_stands_and_changes_nothing(api: Api) -> None:
    _supply(api)
    first = api.post("/api/sales-orders", json=order_json("SO-1", ("A", 5)))
    again = api.post("/api/sales-orders", json=order_json("SO-1", ("A", 5)))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["status"] == "duplicate"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["lines"] == first.json()["lines"]
    assert api.get("/api/sales-orders").json()["total"] == 1
    assert api.get("/api/stock-items/A").json()["assigned"] == 2
    po_line = api.get("/api/purchase-orders/PO-1").json()["lines"][0]
    assert po_line["associated"] == 3


def test_an_order_taken_or_taken_again_is_answered_in_its_schema_with_its_location(
    api: Api,
) -> None:
    _supply(api)
    schema = api.get("/openapi.json").json()
    operation = schema["paths"]["/api/sales-orders"]["post"]
    for code in ("201", "200"):
        ref = operation["responses"][code]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/OrderResult"
    fields = set(schema["components"]["schemas"]["OrderResult"]["properties"])
    first = api.post("/api/sales-orders", json=order_json("SO-1", ("A", 5)))
    again = api.post("/api/sales-orders", json=order_json("SO-1", ("A", 5)))
    for response, status in ((first, 201), (again, 200)):
        assert response.status_code == status
        assert response.headers["content-type"] == "application/json"
        assert response.headers["location"] == f"/api/sales-orders/{first.json()['id']}"
        assert response.headers["x-request-id"]
        assert set(response.json()) == fields
        assert (response.json()["errors"], response.json()["differences"]) == ([], [])


def test_the_schema_lists_each_operation_once_in_the_routers_order(api: Api) -> None:
    """Orders are looked for first when routing; the docs keep their own order."""
    schema = api.get("/openapi.json").json()
    paths = list(schema["paths"])
    ids = [op["operationId"] for path in schema["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert paths.index("/api/po-lines") < paths.index("/api/sales-orders")
    assert paths.index("/api/sales-orders") < paths.index("/api/backorders")
    tags = list(
        dict.fromkeys(op["tags"][0] for path in paths for op in schema["paths"][path].values())
    )
    assert tags.index("purchase orders") < tags.index("sales orders")


def test_the_same_number_with_other_content_is_a_conflict_naming_each_difference(
    api: Api,
) -> None:
    _supply(api)
    first = api.post("/api/sales-orders", json=order_json("SO-1", ("A", 5), ("B", 1)))
    again = api.post(
        "/api/sales-orders",
        json=order_json("SO-1", ("A", 6), delivery_date="2026-12-04"),
    )
    assert (first.status_code, again.status_code) == (201, 409)
    assert again.headers["content-type"] == "application/problem+json"
    assert again.headers["location"] == f"/api/sales-orders/{first.json()['id']}"
    problem = again.json()
    assert problem["type"] == "urn:bopo:problem:changed"
    assert "web/SO-1 was taken before with other content" in problem["detail"]
    assert [(e["field"], e["message"]) for e in problem["errors"]] == [
        ("delivery_date", "delivery_date: 2026-12-02 → 2026-12-04"),
        ("line 1 qty", "line 1 qty: 5 → 6"),
        ("line 2", "line 2: in the order taken (1 x B), not in this one"),
    ]
    assert api.get("/api/sales-orders").json()["total"] == 1
    assert api.get("/api/stock-items/A").json()["assigned"] == 2
    assert api.get("/api/stock-items/B").json()["assigned"] == 1


def test_a_skipped_line_says_why_and_waits_on_the_worklist(api: Api) -> None:
    given_stock(api.ctx, A=0)
    body = api.post("/api/sales-orders", json=order_json("SO-1", ("A", 3))).json()
    assert body["lines"][0]["outcome"] == "skipped"
    assert body["lines"][0]["skipped"] == "no open purchase order"
    worklist = api.get("/api/backorders").json()
    assert [(x["number"], x["waiting"], x["reason"]) for x in worklist["items"]] == [
        ("SO-1", 3, "no open purchase order")
    ]


def test_an_order_with_an_unknown_sku_is_refused_whole_naming_the_line(api: Api) -> None:
    given_stock(api.ctx, A=5)
    response = api.post("/api/sales-orders", json=order_json("SO-1", ("A", 1), ("NOPE", 1)))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"] == [
        {"field": "lines[1].sku", "message": "unknown SKU 'NOPE'", "location": "line 2"}
    ]
    assert api.get("/api/sales-orders").json()["total"] == 0
    assert api.get("/api/stock-items/A").json()["assigned"] == 0


def test_bad_fields_are_each_named_with_their_message(api: Api) -> None:
    body = order_json("SO-1", ("A", 0), ("B", 1.5))
    body["customer"]["email"] = "not an address"
    body["delivery_date"] = "tomorrow"
    response = api.post("/api/sales-orders", json=body)
    assert response.status_code == 422
    fields = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert set(fields) == {"customer.email", "delivery_date", "lines[0].qty", "lines[1].qty"}
    assert "email" in fields["customer.email"]
    assert "YYYY-MM-DD" in fields["delivery_date"]
    assert "whole number" in fields["lines[1].qty"]


def test_a_customer_address_is_checked_as_mail_reads_it(api: Api) -> None:
    given_stock(api.ctx, A=5)
    body = order_json("SO-1", ("A", 1))
    body["customer"]["email"] = "ada@bad_domain.com"
    response = api.post("/api/sales-orders", json=body)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "customer.email"
    assert "not a valid email address: 'ada@bad_domain.com'" in error["message"]
    body["customer"]["email"] = "ännä@exämple.com"
    assert api.post("/api/sales-orders", json=body).status_code == 201
    assert api.get("/api/customers/C1").json()["email"] == "ännä@exämple.com"


def test_lines_without_numbers_are_numbered_in_the_order_given(api: Api) -> None:
    given_stock(api.ctx, A=5, B=5)
    body = order_json("SO-1", ("A", 1), ("B", 1))
    for line in body["lines"]:
        del line["line_no"]
    response = api.post("/api/sales-orders", json=body)
    assert [x["line_no"] for x in response.json()["lines"]] == [1, 2]


def test_an_order_is_shown_with_its_customer_and_lines(api: Api) -> None:
    _supply(api)
    order_id = api.post("/api/sales-orders", json=order_json("SO-1", ("A", 5))).json()["id"]
    shown = api.get(f"/api/sales-orders/{order_id}").json()
    assert shown["customer"] == {"code": "C1", "name": "Customer One", "email": "c1@example.com"}
    assert shown["created_by"] == "api:operator"
    assert shown["lines"][0]["po_number"] == "PO-1"
    assert api.get("/api/sales-orders/999").status_code == 404


def test_orders_are_listed_newest_first_and_filtered(api: Api) -> None:
    given_stock(api.ctx, A=100, B=0)
    take_order(api.ctx, order("SO-1", ("A", 1), customer="C1", delivery=day(3)), actor="t")
    take_order(api.ctx, order("SO-2", ("B", 1), customer="C2", delivery=day(9)), actor="t")
    take_order(api.ctx, order("M-1", ("A", 1), customer="C2", source="market"), actor="t")

    def numbers(query: str) -> list[str]:
        return [o["number"] for o in api.get(f"/api/sales-orders?{query}").json()["items"]]

    assert numbers("") == ["M-1", "SO-2", "SO-1"]
    assert numbers("customer=C2") == ["M-1", "SO-2"]
    assert numbers("sku=B") == ["SO-2"]
    assert numbers("source=market") == ["M-1"]
    assert numbers("waiting=true") == ["SO-2"]
    assert numbers(f"delivery_from={day(4)}&delivery_to={day(9)}") == ["M-1", "SO-2"]
    assert numbers("status=cancelled") == []
    page = api.get("/api/sales-orders?limit=2").json()
    assert (page["total"], len(page["items"]), page["next_offset"]) == (3, 2, 2)
    last = api.get("/api/sales-orders?limit=2&offset=2").json()
    assert ([o["number"] for o in last["items"]], last["next_offset"]) == (["SO-1"], None)


def _record(body: dict[str, object]) -> dict[str, object]:
    """An order as the import file format writes it."""
    return {("order_number" if k == "number" else k): v for k, v in body.items()}


def test_a_file_is_imported_with_the_same_summary_as_the_cli(api: Api) -> None:
    given_stock(api.ctx, A=1)
    orders = [
        _record(order_json("F-1", ("A", 1))),
        _record(order_json("F-2", ("A", 2))),
        _record(order_json("F-3", ("NOPE", 1))),
    ]
    response = api.post(
        "/api/sales-orders/import",
        files={"file": ("orders.json", json.dumps(orders), "application/json")},
    )
    assert response.status_code == 200
    summary = response.json()
    assert summary["file"] == "orders.json"
    assert (summary["orders_taken"], summary["orders_rejected"], summary["ok"]) == (2, 1, False)
    assert summary["lines_skipped"] == {"no open purchase order": 1}
    assert summary["errors"][0]["order_number"] == "F-3"
    again = api.post(
        "/api/sales-orders/import",
        files={"file": ("orders.json", json.dumps(orders[:2]), "application/json")},
    ).json()
    assert (again["orders_taken"], again["orders_duplicate"]) == (0, 2)
    changed = [orders[0], orders[1] | {"delivery_date": "2026-12-09"}]
    response = api.post(
        "/api/sales-orders/import",
        files={"file": ("orders.json", json.dumps(changed), "application/json")},
    )
    assert response.status_code == 200
    summary = response.json()
    assert (summary["orders_duplicate"], summary["orders_changed"], summary["ok"]) == (1, 1, False)
    assert summary["changed"] == [
        {
            "source": "web",
            "order_number": "F-2",
            "row": None,
            "path": "orders[1]",
            "differences": [
                {"field": "delivery_date", "taken": "2026-12-02", "given": "2026-12-09"}
            ],
        }
    ]
    assert summary["warnings"] == [
        "orders[1], order F-2: taken before with other content; nothing changed: "
        "delivery_date: 2026-12-02 → 2026-12-09"
    ]


def test_requests_share_a_few_threads_and_imports_have_their_own(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long import must not take a thread that orders and pages are waiting for."""
    seen = watch_threads(monkeypatch, api, imports, "import_sales_orders")
    given_stock(api.ctx, A=1)
    response = api.post(
        "/api/sales-orders/import",
        files={"file": ("o.json", json.dumps([_record(order_json("F-1", ("A", 1)))]))},
    )
    assert response.json()["orders_taken"] == 1
    # 3 request threads ([server] request_threads), none of them busy; 1 long thread busy
    assert seen == [(3, 0, 1)]


def test_a_file_that_cannot_be_read_is_refused(api: Api) -> None:
    for name, content in [("orders.json", "{not json"), ("orders.xlsx", "PK..."), ("o.csv", "")]:
        response = api.post("/api/sales-orders/import", files={"file": (name, content)})
        assert response.status_code == 422, name
        assert response.json()["errors"][0]["field"] == "file"
    assert api.get("/api/sales-orders").json()["total"] == 0


def test_the_worklist_is_filtered_and_retried(make_api) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api()
    given_stock(api.ctx, A=0, B=0)
    take_order(api.ctx, order("SO-1", ("A", 2), customer="C1"), actor="t")
    take_order(api.ctx, order("SO-2", ("B", 1), customer="C2"), actor="t")
    assert api.get("/api/backorders?sku=B").json()["total"] == 1
    assert api.get("/api/backorders?customer=C1").json()["items"][0]["sku"] == "A"
    assert api.get("/api/backorders?reason=feature off").json()["total"] == 0
    assert api.get("/api/backorders?reason=bogus").status_code == 422
    given_status(api.ctx, "ON ORDER")
    given_po(api.ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    retried = api.post("/api/backorders/allocate").json()
    assert (retried["lines"], retried["lines_linked"]) == (2, 1)
    assert [x["number"] for x in api.get("/api/backorders").json()["items"]] == ["SO-2"]


def test_a_file_over_the_size_limit_is_refused(api: Api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bopo.api.routes import sales_orders

    monkeypatch.setattr(sales_orders, "MAX_UPLOAD_BYTES", 100)
    response = api.post("/api/sales-orders/import", files={"file": ("o.csv", "x" * 101)})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.postgres_only
def test_the_same_order_posted_at_once_is_taken_once_and_a_duplicate_for_the_others(
    api: Api,
) -> None:
    import threading
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    given_stock(api.ctx, A=100, B=100)
    body = order_json("SO-1", ("A", 2), ("B", 1))
    records = json.dumps([_record(order_json(f"F-{n}", ("AB"[n % 2], 1))) for n in range(8)])
    start = threading.Barrier(8)

    def post(n: int) -> tuple[int, str]:
        start.wait()
        if n % 2:
            answer = api.post("/api/sales-orders/import", files={"file": ("orders.json", records)})
            return answer.status_code, json.dumps(answer.json()["errors"])
        answer = api.post("/api/sales-orders", json=body)
        return answer.status_code, answer.json().get("status", answer.text)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(8)))
    orders = Counter(a for n, a in enumerate(answers) if n % 2 == 0)
    assert orders == {(201, "taken"): 1, (200, "duplicate"): 3}, answers
    assert [a for n, a in enumerate(answers) if n % 2] == [(200, "[]")] * 4
    assert api.get("/api/sales-orders").json()["total"] == 9
    assert api.get("/api/stock-items/A").json()["assigned"] == 6


def test_control_characters_in_an_order_are_refused_naming_the_field(api: Api) -> None:
    given_stock(api.ctx, A=5)
    body = order_json("SO\u00001", ("A", 1))
    body["customer"]["name"] = "Ada\nLovelace"
    response = api.post("/api/sales-orders", json=body)
    assert response.status_code == 422
    assert [(e["field"], e["message"]) for e in response.json()["errors"]] == [
        ("number", "must not contain control characters: NUL at character 3"),
        ("customer.name", "must not contain control characters: a line break at character 4"),
    ]
    assert api.get("/api/sales-orders").json()["total"] == 0


def test_json_nested_too_deep_is_refused_whether_a_body_or_a_file(api: Api) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    body = api.post("/api/sales-orders", content=deep, headers={"content-type": "application/json"})
    assert body.status_code == 400
    upload = api.post("/api/sales-orders/import", files={"file": ("o.json", deep)})
    assert upload.status_code == 422
    assert "more than 32 levels deep" in upload.json()["errors"][0]["message"]
