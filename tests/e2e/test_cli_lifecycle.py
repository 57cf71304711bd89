"""The `bopo` commands for goods in, supply and demand changes, manual links and despatch."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from bopo.cli import app
from bopo.services.context import Context
from bopo.services.orders.intake import take_order
from tests.helpers import day, given_po, given_status, given_stock, order, worklist

Bopo = Callable[..., Any]


@pytest.fixture
def bopo(db_url: str, make_ctx: Callable[..., Context]) -> Bopo:
    """Run `bopo ARGS...` on the test database; returns the result (exit code, output)."""
    runner = CliRunner()
    env = {
        "BOPO_DATABASE__URL": db_url,
        "BOPO_BACKORDERS__ALLOCATE_EXISTING_POS": "true",
        "COLUMNS": "200",  # tables unwrapped
    }

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, result.output
        return result

    return run


@pytest.fixture
def scene(ctx: Context) -> Context:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 5, day(10), "ON ORDER"))
    given_po(ctx, "PO-2", ("A", 8, day(20), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 4), delivery=day(5)), actor="test")
    return ctx


def test_receiving_goods_and_listing_the_receipts(scene: Context, bopo: Bopo) -> None:
    shown = bopo("receive", "PO-1", "1", "6")
    assert "web/SO-1 line 1 (Customer C1): 4, linked" in shown.output
    assert "free stock: 2" in shown.output

    [receipt] = json.loads(bopo("receipts", "--json").output)
    assert (receipt["po_number"], receipt["qty"], receipt["to_stock"]) == ("PO-1", 6, 2)
    assert receipt["to_orders"][0]["number"] == "SO-1"
    assert "released at goods in" in bopo("receipts", "--po", "PO-1").output


def test_unlinking_showing_candidates_and_linking_by_hand(scene: Context, bopo: Bopo) -> None:
    assert "unlinked web/SO-1 line 1 from PO-1 line 1" in bopo("unlink", "SO-1", "1").output
    assert worklist(scene) == {"SO-1:1": "released"}

    [line] = json.loads(bopo("backorders", "--candidates", "--json").output)
    assert [c["po_number"] for c in line["candidates"]] == ["PO-1", "PO-2"]
    assert "PO-2:1 free 8" in bopo("backorders", "--candidates").output

    assert (
        "linked web/SO-1 line 1: 4 of A on PO-2 line 1"
        in bopo("link", "SO-1", "1", "PO-2", "1").output
    )
    assert worklist(scene) == {}


def test_cancelling_a_po_reallocates_its_orders(scene: Context, bopo: Bopo) -> None:
    shown = bopo("purchase-orders", "cancel", "PO-1")
    assert "released web/SO-1 line 1: 4 of A from PO-1 line 1" in shown.output
    assert "re-allocated web/SO-1 line 1: 4 linked to PO-2 line 1" in shown.output
    bopo("purchase-orders", "cancel", "PO-1", code=5)


def test_a_due_date_moved_late_shows_on_the_worklist(scene: Context, bopo: Bopo) -> None:
    result = json.loads(
        bopo("purchase-orders", "set-due", "PO-1", "1", "2026-12-31", "--json").output
    )
    assert result["late_supply"] == [{"source": "web", "number": "SO-1", "line_no": 1}]
    assert "late supply (PO-1 line 1, due 2026-12-31)" in bopo("backorders").output
    bopo("purchase-orders", "set-due", "PO-1", "1", "31/12/2026", code=1)


def test_changing_and_cancelling_sales_orders_then_shipping(scene: Context, bopo: Bopo) -> None:
    bopo("purchase-orders", "set-qty", "PO-1", "1", "3")
    assert worklist(scene) == {}  # SO-1 moved to PO-2
    bopo("sales-orders", "set-qty", "SO-1", "1", "2")
    bopo("receive", "PO-2", "1", "8")
    assert "shipped web/SO-1 line 1: 2 of A" in bopo("ship", "SO-1").output
    assert json.loads(bopo("sales-orders", "show", "SO-1", "--json").output)["status"] == (
        "completed"
    )
    bopo("sales-orders", "cancel", "SO-1", code=5)
    bopo("ship", "SO-404", code=4)
    bopo("purchase-orders", "close-short", "PO-1", "1", code=5)


def test_a_receipt_is_reversed_and_a_late_line_re_linked(scene: Context, bopo: Bopo) -> None:
    bopo("receive", "PO-1", "1", "6")
    [receipt] = json.loads(bopo("receipts", "--json").output)

    shown = bopo("unreceive", str(receipt["id"])).output

    assert f"receipt {receipt['id']} reversed: 6 of A out again from PO-1 line 1" in shown
    assert "web/SO-1 line 1: 4 taken back" in shown
    assert "web/SO-1 line 1: linked to PO-1 line 1" in shown
    assert "reversed already" in bopo("unreceive", str(receipt["id"]), code=5).output
    bopo("purchase-orders", "set-due", "PO-1", "1", "2026-12-31")  # SO-1 turns late
    assert "unlink it first" in bopo("link", "SO-1", "1", "PO-2", "1", code=5).output
    assert "on PO-2 line 1" in bopo("link", "SO-1", "1", "PO-2", "1", "--relink").output
