"""A shop's file through each door: the command, the API and the import page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bopo.cli import app
from bopo.domain.roles import Role
from bopo.services.files.imports import import_purchase_orders, import_stock_items
from tests.e2e.conftest import Api, Web
from tests.helpers import given_status

FILES = Path(__file__).parents[1] / "files"
EXAMPLES = Path(__file__).parents[2] / "examples"


def stocked(ctx) -> None:  # type: ignore[no-untyped-def]
    given_status(ctx, "ON ORDER")
    import_stock_items(ctx, EXAMPLES / "stock_items.csv")
    import_purchase_orders(ctx, EXAMPLES / "purchase_orders.csv")


def test_the_command_says_what_it_detected(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"BOPO_DATABASE__URL": db_url, "BOPO_BACKORDERS__ALLOCATE_EXISTING_POS": "true"}
    runner = CliRunner()
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    for kind, name in (
        ("stock-items", "stock_items.csv"),
        ("purchase-orders", "purchase_orders.csv"),
    ):
        runner.invoke(app, ["statuses", "add", "ON ORDER", "On order"], env=env)
        runner.invoke(app, ["import", kind, str(EXAMPLES / name)], env=env)

    result = runner.invoke(
        app, ["import", "sales-orders", str(FILES / "amazon_orders.txt"), "--json"], env=env
    )
    assert result.exit_code == 1  # one order refused: no buyer-email
    summary = json.loads(result.stdout)
    assert summary["read_as"]["format"] == "amazon (detected from the header)"
    assert summary["orders_taken"] == 2

    shown = runner.invoke(
        app, ["import", "sales-orders", str(FILES / "shopify_orders.csv"), "-f", "shopify"], env=env
    )
    assert (
        "read as format: shopify, type: csv, encoding: utf-8-sig, delimiter: comma" in shown.stdout
    )
    assert "warning:" in shown.output

    unknown = runner.invoke(
        app, ["import", "sales-orders", str(FILES / "shopify_orders.csv"), "-f", "ebay"], env=env
    )
    assert unknown.exit_code == 1
    assert "unknown format 'ebay'" in unknown.output


def test_the_api_takes_a_format_with_the_file(api: Api) -> None:
    stocked(api.ctx)
    content = (FILES / "shopify_orders.csv").read_bytes()
    answer = api.post(
        "/api/sales-orders/import",
        files={"file": ("orders_export.csv", content, "text/csv")},
        data={"format": "shopify"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["read_as"]["format"] == "shopify"
    assert body["file"] == "orders_export.csv"
    assert (body["orders_taken"], body["orders_rejected"]) == (2, 2)

    book = api.post(
        "/api/sales-orders/import",
        files={"file": ("orders.xlsx", (FILES / "erp_orders.xlsx").read_bytes())},
    )
    assert book.status_code == 422  # no profile fits, and it says so
    assert "not one bopo knows" in book.json()["errors"][0]["message"]

    refused = api.post(
        "/api/sales-orders/import",
        files={"file": ("orders.csv", content)},
        data={"format": "ebay"},
    )
    assert refused.status_code == 422
    assert "unknown format 'ebay'" in refused.text


def test_the_import_page_offers_the_formats_and_reports_the_detected_one(web: Web) -> None:
    stocked(web.ctx)
    web.sign_in(Role.OPERATOR)
    page = web.client.get("/import")
    assert '<option value="shopify">Shopify orders export</option>' in page.text
    answer = web.post(
        "/import",
        {"kind": "sales-orders", "format": ""},
        files={"file": ("amazon.txt", (FILES / "amazon_orders.txt").read_bytes())},
    )
    assert answer.status_code == 200, answer.text
    assert "format: amazon (detected from the header)" in answer.text
    assert "2 orders taken" in answer.text
