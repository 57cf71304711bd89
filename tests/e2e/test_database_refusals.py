"""When the database refuses a change, people are told in words: never a constraint, a
table or the driver's message, in the API, the web pages, the CLI or an import report."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from typer.testing import CliRunner

from bopo.cli import app as cli
from bopo.db.models import User
from bopo.domain.roles import Role
from bopo.services.context import Context
from bopo.services.orders import intake
from bopo.services.worklist import backorders, manual_links
from tests.e2e.conftest import Api, Web, order_json
from tests.helpers import given_stock

# What must never reach a caller: the constraint's and table's names, SQL, and the
# words PostgreSQL (psycopg) and SQLite use for a refused row.
INTERNALS = [
    "ck_users_role_known",
    "role_known",
    "users",
    "so_lines",
    "INSERT",
    "constraint failed",
    "violates",
    "psycopg",
    "sqlite",
    "DETAIL:",
    "CONTEXT:",
    "out of range for type",
    "integer",
]


def a_real_integrity_error(ctx: Context) -> IntegrityError:
    """What the database itself says when a CHECK refuses a row (ck_users_role_known)."""
    row = insert(User).values(name="x", role="nobody", created_at=ctx.clock())
    # the driver's words do name the constraint
    with pytest.raises(IntegrityError, match="role_known") as refused, ctx.db.write() as conn:
        conn.execute(row)
    return refused.value


def a_data_error() -> DataError:
    """As PostgreSQL refuses a number too big for its column."""
    driver = Exception(
        'value "1000000000000" is out of range for type integer\n'
        "CONTEXT: unnamed portal parameter $1 = '...' in table so_lines"
    )
    return DataError("INSERT INTO so_lines (qty) VALUES (%(qty)s)", {"qty": 10**12}, driver)


def refusals(ctx: Context) -> list[DBAPIError]:
    return [a_real_integrity_error(ctx), a_data_error()]


def raising(exc: Exception) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return refuse


def assert_no_internals(text: str) -> None:
    for word in INTERNALS:
        assert word not in text, f"{word!r} in {text!r}"


def test_an_order_the_database_refuses_is_answered_in_words_and_the_detail_logged(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    given_stock(api.ctx, A=5)
    for n, exc in enumerate(refusals(api.ctx)):
        monkeypatch.setattr(intake, "_take_batch", raising(exc))
        with caplog.at_level(logging.INFO, logger="bopo"):
            answer = api.post("/api/sales-orders", json=order_json(f"SO-{n}", ("A", 1)))
        assert answer.status_code == 422
        body = answer.json()
        assert body["type"] == "urn:bopo:problem:validation"
        message = body["errors"][0]["message"]
        assert message.startswith("the database refused this order: ")
        assert_no_internals(json.dumps(body))
        assert str(exc.orig).splitlines()[0] in caplog.text  # for whoever runs bopo


def test_a_clash_the_database_finds_is_a_conflict_problem_in_words(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    clash, bad_value = refusals(api.ctx)
    monkeypatch.setattr(backorders, "allocate_worklist", raising(clash))
    answer = api.post("/api/backorders/allocate")
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["type"] == "urn:bopo:problem:conflict"
    assert body["detail"] == (
        "the change clashes with data already stored: "
        "a quantity or other value is outside what may be stored"
    )
    assert_no_internals(json.dumps(body))

    monkeypatch.setattr(backorders, "allocate_worklist", raising(bad_value))
    answer = api.post("/api/backorders/allocate")
    assert answer.status_code == 422
    assert answer.json()["type"] == "urn:bopo:problem:validation"
    assert_no_internals(answer.text)


def test_the_web_pages_say_a_refusal_in_words(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    given_stock(web.ctx, A=5)
    web.sign_in(Role.OPERATOR)
    for exc in refusals(web.ctx):
        monkeypatch.setattr(backorders, "allocate_worklist", raising(exc))
        said = web.act("/worklist/retry", {"back": "/worklist"})
        assert said, "no message"
        assert said[0].startswith("Nothing was changed: "), said
        assert_no_internals(" ".join(said))

        monkeypatch.setattr(manual_links, "find_candidates", raising(exc))
        page = web.client.get("/worklist")
        assert page.status_code in (409, 422)
        assert page.headers["content-type"].startswith("text/html")
        assert_no_internals(page.text.split("<main", 1)[-1])

        monkeypatch.setattr(intake, "_take_batch", raising(exc))
        form = {
            "source": "web",
            "number": "SO-9",
            "customer_code": "C1",
            "customer_name": "Customer One",
            "customer_email": "c1@example.com",
            "order_date": "2026-11-25",
            "delivery_date": "2026-12-02",
            "sku": ["A"],
            "qty": ["1"],
        }
        page = web.post("/sales-orders/new", form)
        assert page.status_code == 422
        assert "the database refused this order" in page.text
        assert_no_internals(page.text.split("<main", 1)[-1])


def test_the_cli_says_a_refusal_in_words(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_ctx: Callable[..., Context]
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"BOPO_DATABASE__URL": db_url, "COLUMNS": "200"}
    for exc, code in zip(refusals(make_ctx()), (5, 1), strict=True):
        monkeypatch.setattr(backorders, "allocate_worklist", raising(exc))
        result = CliRunner().invoke(cli, ["allocate"], env=env)
        assert result.exit_code == code, result.output
        assert "nothing was changed: " in result.output
        assert_no_internals(result.output)
