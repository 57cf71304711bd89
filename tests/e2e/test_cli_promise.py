"""`bopo explain`, `bopo what-if ...`, `bopo sales-orders set-priority`, and priority in the API."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any

import pytest
from typer.testing import CliRunner

from bopo.cli import app
from bopo.services.context import Context
from bopo.services.orders.intake import take_order
from tests.e2e.conftest import Api, order_json
from tests.helpers import TODAY, day, given_po, given_status, given_stock, order, po_line_of

Bopo = Callable[..., Any]


@pytest.fixture
def bopo(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Bopo:
    """The CLI, its clock at the tests' today (a date in the words is only still to come
    while today is before it)."""
    made = Context.from_settings

    def pinned(settings: Any) -> Context:
        ctx = made(settings)
        ctx.clock = lambda: datetime.combine(TODAY, time(9), tzinfo=UTC)
        return ctx

    monkeypatch.setattr(Context, "from_settings", pinned)
    runner = CliRunner()
    env = {
        "BOPO_DATABASE__URL": db_url,
        "BOPO_BACKORDERS__ALLOCATE_EXISTING_POS": "true",
        "COLUMNS": "200",
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
    given_po(ctx, "PO-1", ("A", 10, day(25), "ON ORDER"))
    given_po(ctx, "PO-2", ("A", 5, day(10), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 4), delivery=day(12)), actor="test")
    return ctx


def test_explain_prints_each_decision_in_words(scene: Context, bopo: Bopo) -> None:
    shown = bopo("explain", "SO-1").output
    assert "web/SO-1 priority normal, deliver by 2026-12-07" in shown
    assert "Linked to PO-2 line 1, due 5 Dec: the earliest due date with 5 free ≥ 4 needed." in (
        " ".join(shown.split())
    )
    data = json.loads(bopo("explain", "SO-1", "1", "--json").output)
    assert data["lines"][0]["decisions"][0]["kind"] == "intake"
    bopo("explain", "SO-404", code=4)


def test_what_if_commands_answer_and_change_nothing(scene: Context, bopo: Bopo) -> None:
    late = bopo("what-if", "due-date", "PO-2", "1", "2026-12-09").output
    assert "web/SO-1 line 1 would be late: expected 2026-12-09, deliver by 2026-12-07" in late
    assert po_line_of(scene, "PO-2").due_date == day(10)

    cancelled = json.loads(bopo("what-if", "cancel", "PO-2", "--json").output)
    assert cancelled["relinked"][0]["after"][0]["po_number"] == "PO-1"
    assert "would get 4 of A" in bopo("what-if", "receive", "PO-2", "1", "4").output
    assert "would be linked to" in bopo("what-if", "set-qty", "PO-2", "1", "3").output
    assert "no order would be affected" in bopo("what-if", "switch-on").output
    assert bopo("what-if", "cancel", "PO-9", code=4)


def test_set_priority_and_see_it_on_the_order(scene: Context, bopo: Bopo) -> None:
    assert (
        "priority normal -> urgent" in bopo("sales-orders", "set-priority", "SO-1", "urgent").output
    )
    assert "priority urgent" in bopo("sales-orders", "show", "SO-1").output
    bopo("sales-orders", "set-priority", "SO-1", "soon", code=1)


def test_an_order_posted_with_a_priority_shows_it(api: Api) -> None:
    given_stock(api.ctx, A=5)
    posted = api.post("/api/sales-orders", json=order_json("SO-9", ("A", 1), priority="high"))
    assert posted.status_code == 201, posted.text
    shown = api.get(posted.headers["Location"]).json()
    assert shown["priority"] == "high"
    refused = api.post("/api/sales-orders", json=order_json("SO-8", ("A", 1), priority="asap"))
    assert refused.status_code == 422
