"""The `bopo` command, driven as a person or a script would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bopo.cli import app

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture
def bopo(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # no stray bopo.ini
    env = {
        "BOPO_DATABASE__URL": db_url,
        "BOPO_BACKORDERS__ALLOCATE_EXISTING_POS": "true",
        "BOPO_BACKORDERS__DEFAULT_PO_LINE_STATUS": "",
        "COLUMNS": "200",
    }
    runner = CliRunner()

    def run(*args: str, code: int = 0, **extra_env: str):  # type: ignore[no-untyped-def]
        result = runner.invoke(app, list(args), env=env | extra_env)
        assert result.exit_code == code, result.output
        return result

    return run


def test_a_five_minute_tour(bopo) -> None:  # type: ignore[no-untyped-def]
    assert "database ready" in bopo("init").output
    assert "added PO line status ON ORDER" in bopo("statuses", "add", "on order", "On order").output
    bopo("import", "stock-items", str(EXAMPLES / "stock_items.csv"))
    bopo("import", "purchase-orders", str(EXAMPLES / "purchase_orders.csv"))
    out = bopo("import", "sales-orders", str(EXAMPLES / "sales_orders.csv"), "--json").output
    summary = json.loads(out)
    assert (summary["orders_taken"], summary["lines_linked"], summary["ok"]) == (3, 2, True)
    assert summary["lines_skipped"] == {"not enough outstanding on order": 1}

    order = json.loads(bopo("sales-orders", "show", "W-9001", "--json").output)
    assert [line["outcome"] for line in order["lines"]] == ["from stock", "linked"]
    assert "linked to PO-2001 line 1" in bopo("sales-orders", "show", "W-9001").output

    po = json.loads(bopo("purchase-orders", "show", "PO-2001", "--json").output)
    assert po["lines"][0]["associated"] == 4
    assert {s["number"] for s in po["lines"][0]["linked"]} == {"W-9001", "M-7001"}

    worklist = json.loads(bopo("backorders", "--json").output)
    assert [(w["number"], w["reason"]) for w in worklist] == [
        ("W-9002", "not enough outstanding on order")
    ]
    assert "W-9002" in bopo("backorders").output

    retry = json.loads(bopo("allocate", "--json").output)
    assert retry["still_waiting"] == {"not enough outstanding on order": 1}
    statuses = json.loads(bopo("statuses", "list", "--json").output)
    assert statuses == [
        {"code": "ON ORDER", "name": "On order", "template": None, "po_lines": 2, "retired": False}
    ]


def test_an_import_with_rejections_exits_non_zero_and_names_the_places(  # type: ignore[no-untyped-def]
    bopo, tmp_path: Path
) -> None:
    bopo("import", "stock-items", str(EXAMPLES / "stock_items.csv"))
    bad = tmp_path / "orders.csv"
    bad.write_text(
        (EXAMPLES / "sales_orders.csv").read_text().replace(",1,PAN-28,3", ",1,PAN-28,0")
    )
    result = bopo("import", "sales-orders", str(bad), code=1)
    assert "row 5" in result.output
    assert "qty: must be more than 0" in result.output
    summary = json.loads(bopo("import", "sales-orders", str(bad), "--json", code=1).output)
    assert summary["errors"] == [
        {"row": 5, "order_number": "M-7001", "field": "qty", "message": "must be more than 0"}
    ]
    assert summary["orders_duplicate"] == 2


def test_an_import_with_changed_orders_exits_5_and_says_what_differs(  # type: ignore[no-untyped-def]
    bopo, tmp_path: Path
) -> None:
    bopo("init")
    bopo("import", "stock-items", str(EXAMPLES / "stock_items.csv"))
    bopo("import", "sales-orders", str(EXAMPLES / "sales_orders.csv"))
    changed = tmp_path / "orders.csv"
    changed.write_text(
        (EXAMPLES / "sales_orders.csv").read_text().replace(",1,PAN-28,3", ",1,PAN-28,4")
    )
    result = bopo("import", "sales-orders", str(changed), code=5)
    assert "row 5, order M-7001: taken before with other content; nothing changed" in result.output
    assert "line 1 qty: 3 → 4" in result.output
    summary = json.loads(bopo("import", "sales-orders", str(changed), "--json", code=5).output)
    assert (summary["ok"], summary["orders_duplicate"], summary["orders_changed"]) == (False, 2, 1)
    changed.write_text(
        changed.read_text() + "web,X-1,C-X,X,x@example.com,2026-11-25,2026-11-30,1,NOPE,1\n"
    )
    assert (
        json.loads(bopo("import", "sales-orders", str(changed), "--json", code=1).output)[
            "orders_rejected"
        ]
        == 1
    )


def test_the_demo_loads_once(bopo) -> None:  # type: ignore[no-untyped-def]
    loaded = json.loads(bopo("demo", "--json").output)
    assert loaded["loaded"] is True
    assert len(loaded["orders"]) == 8
    assert json.loads(bopo("demo", "--json").output)["loaded"] is False


def test_what_is_not_there_is_not_found(bopo) -> None:  # type: ignore[no-untyped-def]
    assert "not found" in bopo("sales-orders", "show", "NOPE", code=4).output
    assert "not found" in bopo("purchase-orders", "show", "NOPE", code=4).output


def test_a_bad_setting_is_named_at_start(bopo) -> None:  # type: ignore[no-untyped-def]
    result = bopo("backorders", code=3, BOPO_BACKORDERS__POLICY="cheapest")
    assert "[backorders] policy" in result.output
    missing = bopo("backorders", code=3, BOPO_BACKORDERS__DEFAULT_PO_LINE_STATUS="NOPE")
    assert "no PO line status 'NOPE'" in missing.output


def test_config_show_masks_secrets(bopo) -> None:  # type: ignore[no-untyped-def]
    shown = json.loads(bopo("config", "show", "--json", BOPO_SMTP__PASSWORD="s3cret").output)
    assert shown["backorders"]["allocate_existing_pos"] is True
    assert shown["smtp"]["password"] == "**********"
    assert "s3cret" not in bopo("config", "show", BOPO_SMTP__PASSWORD="s3cret").output


def test_an_adding_a_status_twice_is_a_conflict(bopo) -> None:  # type: ignore[no-untyped-def]
    bopo("statuses", "add", "DELAYED", "Delayed")
    assert "exists already" in bopo("statuses", "add", "delayed", "Again", code=5).output


def test_a_status_code_follows_the_rule_and_a_status_is_renamed_and_retired(bopo) -> None:  # type: ignore[no-untyped-def]
    bopo("init")
    refused = bopo("statuses", "add", "bad code!", "Bad", code=1).output
    assert "'BAD CODE!' is not a status code" in refused
    bopo("statuses", "add", "late_2", "Late")
    assert (
        "LATE_2 is now called Running late"
        in bopo("statuses", "rename", "late_2", "Running late").output
    )
    assert "retired LATE_2" in bopo("statuses", "retire", "LATE_2").output
    listed = json.loads(bopo("statuses", "list", "--json").output)
    assert listed == [
        {"code": "LATE_2", "name": "Running late", "template": None, "po_lines": 0, "retired": True}
    ]


def test_config_show_says_where_each_value_comes_from_and_set_changes_one_at_run_time(
    bopo,  # type: ignore[no-untyped-def]
) -> None:
    shown = json.loads(bopo("config", "show", "--json", BOPO_BACKORDERS__POLICY="best_fit").output)
    assert shown["origins"]["backorders.policy"] == "environment BOPO_BACKORDERS__POLICY"
    assert shown["origins"]["smtp.port"] == "default"

    said = bopo("--as", "ines", "config", "set", "policy", "oldest_first").output
    assert "[backorders] policy: earliest_due -> oldest_first" in said
    text = bopo("config", "show").output
    assert "policy = oldest_first  # changed by cli:ines at" in text
    assert "nothing changed" in bopo("config", "set", "policy", "oldest_first").output
    refused = bopo("config", "set", "policy", "cheapest", code=1).output
    assert "unknown policy 'cheapest'" in refused
    assert "cannot be changed" in bopo("config", "set", "allow_split", "true", code=1).output
