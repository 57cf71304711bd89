"""Lists into spreadsheets: every row with the list's filters, formulas made harmless."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from bopo.cli import app
from bopo.domain.roles import Role
from bopo.services.common.inputs import NewCustomer, NewSalesOrder, NewSalesOrderLine
from bopo.services.context import Context
from bopo.services.files import exports
from bopo.services.orders.intake import take_orders
from tests.e2e.conftest import Api, Web
from tests.helpers import TODAY, day, given_po, given_status, given_stock

NAMES = [
    '=HYPERLINK("http://evil.example","click")',
    "+44 20 7946 0958",
    "-2+3",
    "@SUM(A1:A9)",
    "O'Brien & Söhne",
    "Zoë Ångström",
]


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


@pytest.fixture
def scene(make_ctx, monkeypatch: pytest.MonkeyPatch) -> Context:  # type: ignore[no-untyped-def]
    """Six customers with awkward names each wait for a pan; one is linked to PO-1.

    Lists are read two rows a page, so that every export spans pages."""
    monkeypatch.setattr(exports, "MAX_LIMIT", 2)
    ctx: Context = make_ctx()
    given_status(ctx, "ON ORDER")
    given_stock(ctx, **{"PAN-28": 0, "KET-01": 0})
    given_po(ctx, "PO-1", ("PAN-28", 2, day(5), "ON ORDER"))
    take_orders(
        ctx,
        [
            NewSalesOrder(
                source="web",
                number=f"SO-{i}",
                customer=NewCustomer(code=f"C{i}", name=name, email=f"c{i}@example.com"),
                order_date=TODAY,
                delivery_date=day(7 + i),
                lines=[NewSalesOrderLine(line_no=1, sku="PAN-28" if i else "KET-01", qty=2)],
            )
            for i, name in enumerate(NAMES)
        ],
        actor="test",
    )
    return ctx


@pytest.fixture
def api_on(scene: Context, make_api):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from bopo.api.app import create_app
    from tests.e2e.conftest import users_for_every_role

    client = TestClient(create_app(scene.settings, ctx=scene))
    with client:
        yield Api(client, scene, users_for_every_role(scene))


def test_the_worklist_as_csv_has_every_row_and_no_formula(api_on: Api) -> None:
    answer = api_on.get("/api/backorders", headers={"Accept": "text/csv"})

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="bopo-worklist-' in answer.headers["content-disposition"]
    rows = rows_of(answer.text)
    # SO-1 took PO-1; the other five wait, read over three pages of two
    assert sorted(r["order_number"] for r in rows) == ["SO-0", "SO-2", "SO-3", "SO-4", "SO-5"]
    names = {r["order_number"]: r["customer_name"] for r in rows}
    assert names["SO-0"] == '\'=HYPERLINK("http://evil.example","click")'
    assert names["SO-2"] == "'-2+3"
    assert names["SO-3"] == "'@SUM(A1:A9)"
    assert names["SO-4"] == "O'Brien & Söhne"
    assert names["SO-5"] == "Zoë Ångström"

    only = rows_of(api_on.get("/api/backorders?sku=KET-01", headers={"Accept": "text/csv"}).text)
    assert [r["order_number"] for r in only] == ["SO-0"]
    assert api_on.get("/api/backorders").json()["total"] == 5  # JSON as before


def test_waiting_orders_as_xlsx_neutralise_formulas_too(api_on: Api) -> None:
    answer = api_on.get("/api/sales-orders?waiting=true", headers={"Accept": exports.XLSX_TYPE})
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.content)).active
    values = list(sheet.values)
    assert values[0][:2] == ("source", "order_number")
    by_number = {row[1]: row for row in values[1:]}
    assert set(by_number) == {"SO-0", "SO-2", "SO-3", "SO-4", "SO-5"}
    assert by_number["SO-0"][5] == '\'=HYPERLINK("http://evil.example","click")'
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_open_po_lines_say_what_is_linked_to_them(api_on: Api) -> None:
    rows = rows_of(api_on.get("/api/po-lines", headers={"Accept": "text/csv"}).text)
    assert [
        (r["po_number"], r["linked_order"], r["linked_qty"], r["free_on_order"]) for r in rows
    ] == [("PO-1", "SO-1", "2", "0")]
    assert rows[0]["linked_customer"] == "'+44 20 7946 0958"
    assert api_on.get("/api/po-lines?supplier=NOPE").json() == {"items": []}


@pytest.mark.parametrize(
    ("value", "written"),
    [("=1+1", "'=1+1"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("a=b", "a=b"), (-3, -3), (None, None)],
)
def test_neutralise(value: object, written: object) -> None:
    assert exports.neutralise(value) == written


def test_the_outbox_exports_by_state(api_on: Api) -> None:
    answer = api_on.get("/api/emails?state=pending", headers={"Accept": "text/csv"})
    assert answer.status_code == 200
    assert answer.text.lstrip("\ufeff").startswith("id,state,to,subject")


def test_a_list_page_links_its_download_with_its_filters(scene: Context, make_web) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from bopo.api.app import create_app
    from tests.e2e.conftest import users_with_passwords

    client = TestClient(create_app(scene.settings, ctx=scene))
    with client:
        users_with_passwords(scene)
        web = Web(client, scene)
        web.sign_in(Role.VIEWER)
        page = client.get("/worklist?sku=KET-01")
        assert 'href="/export/worklist?sku=KET-01"' in page.text
        download = client.get("/export/worklist?sku=KET-01")
        assert [r["order_number"] for r in rows_of(download.text)] == ["SO-0"]
        assert 'href="/export/emails?state=pending"' in client.get("/emails").text
        assert "/export/po-lines?" in client.get("/purchase-orders").text
        book = client.get("/export/waiting-orders?format=xlsx&source=web")
        assert book.headers["content-type"] == exports.XLSX_TYPE


def test_the_cli_writes_csv_to_stdout_and_xlsx_to_a_file(
    scene: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"BOPO_DATABASE__URL": scene.settings.database.url}
    runner = CliRunner()
    result = runner.invoke(app, ["export", "worklist", "--sku", "PAN-28"], env=env)
    assert result.exit_code == 0, result.output
    assert len(rows_of(result.stdout)) == 4

    target = tmp_path / "po-lines.xlsx"
    result = runner.invoke(app, ["export", "po-lines", "-f", "xlsx", "-o", str(target)], env=env)
    assert result.exit_code == 0, result.output
    assert list(load_workbook(target).active.values)[1][0] == "PO-1"

    refused = runner.invoke(app, ["export", "emails", "--state", "lost"], env=env)
    assert refused.exit_code == 1
    assert "unknown state 'lost'" in refused.output
