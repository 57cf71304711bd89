"""Superseded emails in the outbox, as the API, the CLI and the pages show them: which,
why, and the email that says what is true instead."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bopo.cli import app
from bopo.domain.roles import Role
from bopo.services.context import Context
from bopo.services.email import outbox
from bopo.services.orders.intake import take_order
from bopo.services.worklist import manual_links
from tests.e2e.conftest import Api, Web
from tests.helpers import TODAY, day, given_po, given_status, given_stock, given_template, order

MORNING = datetime.combine(TODAY, time(9), tzinfo=UTC)


def one_line_unlinked(ctx: Context) -> tuple[int, int]:
    """SO-1 waits for A and B on PO-1; line 2 is unlinked before its email goes.
    Returns (the superseded email, the one queued instead)."""
    ctx.clock = lambda: MORNING
    given_stock(ctx, A=0, B=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"), ("B", 10, day(9), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 2), ("B", 3)), actor="test")
    manual_links.unlink_line(ctx, "SO-1", 2, actor="ann")
    [old] = outbox.list_emails(ctx, state="superseded")
    assert old.superseded_by is not None
    return old.id, old.superseded_by


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_api_lists_superseded_emails_with_why_and_the_successor(api: Api) -> None:
    old, new = one_line_unlinked(api.ctx)
    listed = api.get("/api/emails?state=superseded").json()
    [row] = listed["items"]
    assert (row["id"], row["state"], row["superseded_by"]) == (old, "superseded", new)
    assert row["superseded_reason"] == "line 2: no longer linked to PO-1 line 2"
    assert api.get(f"/api/emails/{new}").json()["state"] == "pending"
    assert api.post(f"/api/emails/{old}/retry").status_code == 409


def test_the_pages_show_a_superseded_email_why_and_link_to_the_one_instead(web: Web) -> None:
    old, new = one_line_unlinked(web.ctx)
    web.sign_in(Role.VIEWER)
    listing = web.client.get("/emails?state=superseded").text
    assert f'href="/emails/{new}"' in listing
    assert "line 2: no longer linked to PO-1 line 2" in _text(listing)
    assert "Superseded 1" in _text(listing)
    page = _text(web.client.get(f"/emails/{old}").text)
    assert "Not sent: superseded. line 2: no longer linked to PO-1 line 2." in page
    assert f"Email {new} says what is true instead." in page


def test_the_pages_flag_overdue_supply_and_count_the_orders_waiting_on_it(web: Web) -> None:
    one_line_unlinked(web.ctx)
    web.ctx.clock = lambda: MORNING + timedelta(days=6)  # PO-1 line 1 was due 30 Nov
    web.sign_in(Role.VIEWER)
    dash = _text(web.client.get("/").text)
    assert "1 sales order waiting on overdue supply" in dash
    so = outbox.list_emails(web.ctx)[0].sales_order_id
    listed = web.client.get("/sales-orders").text
    assert 'class="status overdue"' in listed
    page = _text(web.client.get(f"/sales-orders/{so}").text)
    assert "was due" in page
    assert "overdue" in page
    assert "the supplier's new date is being confirmed" in page


@pytest.fixture
def bopo(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    for key in ("BOPO_CONFIG", "BOPO_SMTP__HOST", "BOPO_SMTP__PORT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("BOPO_DATABASE__URL", db_url)
    return CliRunner()


def test_the_cli_lists_and_shows_superseded_emails(bopo: CliRunner, ctx: Context) -> None:
    old, new = one_line_unlinked(ctx)
    listed = bopo.invoke(app, ["emails", "list", "--state", "superseded", "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert (row["id"], row["superseded_by"]) == (old, new)
    table = bopo.invoke(app, ["emails", "list", "--state", "superseded"])
    assert "1 superseded" in table.output
    shown = bopo.invoke(app, ["emails", "show", str(old)])
    assert "why: line 2: no longer linked to PO-1 line 2" in shown.output
    assert f"superseded by: email {new}" in shown.output
