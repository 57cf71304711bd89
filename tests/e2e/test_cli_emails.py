"""The `bopo` commands for templates, status changes and the outbox, as an operator types them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bopo.cli import app
from bopo.services.context import Context
from bopo.services.orders.intake import take_order
from tests.helpers import day, given_po, given_status, given_stock, given_template, order
from tests.smtp_sink import SmtpServer

BODY = "Dear {{ customer.name }},\n\n{{ table(lines) }}\n\n{{ company.name }}\n"


@pytest.fixture
def bopo(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    for key in ("BOPO_CONFIG", "BOPO_SMTP__HOST", "BOPO_SMTP__PORT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("BOPO_DATABASE__URL", db_url)
    monkeypatch.setenv("BOPO_EMAIL__COMPANY_NAME", "Kitchen & Co")
    (tmp_path / "body.txt").write_text(BODY)
    (tmp_path / "bad.txt").write_text("Dear {{ customer.name }},\n{% for l in lines %}\n")
    return CliRunner()


def run(runner: CliRunner, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_an_operator_sets_up_a_template_and_a_status_change_emails_the_customer(
    bopo: CliRunner, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(bopo, "statuses", "add", "ON ORDER", "On order")
    run(bopo, "statuses", "add", "DELAYED", "Delayed by supplier")
    out = run(bopo, "templates", "add", "Bad", "--subject", "Hi", "--text-file", "bad.txt", code=1)
    assert "body_text: line 2: Unexpected end of template" in out
    run(
        bopo,
        "templates",
        "add",
        "Delay",
        "--subject",
        "{{ order.number }} is late",
        "--text-file",
        "body.txt",
    )
    run(bopo, "statuses", "set-template", "DELAYED", "Delay")
    listed = json.loads(run(bopo, "statuses", "list", "--json"))
    assert {s["code"]: s["template"] for s in listed} == {"DELAYED": "Delay", "ON ORDER": None}
    assert "Ada Lovelace" in run(bopo, "templates", "preview", "Delay")

    given_stock(ctx, A=0)
    given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 2), customer="ADA"), actor="test")
    assert json.loads(run(bopo, "emails", "list", "--json")) == []

    out = run(bopo, "purchase-orders", "set-status", "PO-1", "1", "delayed")
    assert "PO-1 line 1: ON ORDER -> DELAYED; 1 email(s) queued" in out
    [email] = json.loads(run(bopo, "emails", "list", "--json", "--state", "pending"))
    assert (email["to"], email["subject"], email["event"]) == (
        "ada@example.com",
        "SO-1 is late",
        "status_change",
    )
    shown = run(bopo, "emails", "show", str(email["id"]))
    assert "Item A" in shown
    assert "Kitchen & Co" in shown
    raw = run(bopo, "emails", "show", str(email["id"]), "--raw")
    assert "Message-ID: <" in raw

    server = SmtpServer().start()
    try:
        monkeypatch.setenv("BOPO_SMTP__HOST", "127.0.0.1")
        monkeypatch.setenv("BOPO_SMTP__PORT", str(server.port))
        assert "1 sent, 0 failed" in run(bopo, "emails", "send")
    finally:
        server.stop()
    assert [r.rcpt_tos for r in server.sink.received] == [["ada@example.com"]]
    out = run(bopo, "emails", "cancel", str(email["id"]), code=5)
    assert "cannot go from 'sent' to 'cancelled'" in out


def test_cancelling_a_pending_email_and_unknown_ids(bopo: CliRunner, ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 2)), actor="test")
    [email] = json.loads(run(bopo, "emails", "list", "--json"))
    assert "cancelled" in run(bopo, "emails", "cancel", str(email["id"]))
    assert "1 cancelled" in run(bopo, "emails", "list")
    assert "not found" in run(bopo, "emails", "show", "999", code=4)
    assert "not found" in run(
        bopo, "purchase-orders", "set-status", "PO-9", "1", "ON ORDER", code=4
    )
    assert "unknown state" in run(bopo, "emails", "list", "--state", "lost", code=1)
