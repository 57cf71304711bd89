"""Settings, health, metrics, documentation and what every error looks like."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from pydantic import SecretStr

from bopo.api.app import create_app
from bopo.config import DatabaseSettings, SmtpSettings
from bopo.db.engine import Database
from bopo.domain.roles import Role
from bopo.services.context import Context
from tests.e2e.conftest import Api, order_json
from tests.helpers import given_stock


def test_settings_are_shown_to_admins_with_secrets_masked(api: Api) -> None:
    settings = api.ctx.settings.model_copy(
        update={
            "database": DatabaseSettings(url="postgresql+psycopg://bopo:hunter2@db/bopo"),
            "smtp": SmtpSettings(username="mailer", password=SecretStr("s3cret")),
        }
    )
    app = create_app(settings, ctx=Context(api.ctx.db, settings, clock=api.ctx.clock))
    with TestClient(app) as client:
        response = client.get("/api/settings", headers=api.headers(Role.ADMIN))
    shown = response.json()
    assert set(shown) == {
        "database",
        "backorders",
        "email",
        "smtp",
        "server",
        "import",
        "shopify",
        "worker",
        "metrics",
    }
    assert shown["database"]["url"] == "postgresql+psycopg://bopo:***@db/bopo"
    assert shown["smtp"]["password"] == "**********"
    assert "hunter2" not in response.text
    assert "s3cret" not in response.text
    assert shown["backorders"]["allocate_existing_pos"] is True


def test_metrics_count_orders_links_worklist_emails_and_latency(api: Api) -> None:
    given_stock(api.ctx, A=1)
    api.post("/api/sales-orders", json=order_json("SO-1", ("A", 3)))
    api.post("/api/sales-orders", json=order_json("SO-1", ("A", 3)))
    response = api.get("/api/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    for expected in (
        'bopo_api_orders_total{result="taken"} 1.0',
        'bopo_api_orders_total{result="duplicate"} 1.0',
        'bopo_api_order_lines_total{outcome="skipped"} 1.0',
        'bopo_sales_orders_total{status="open"} 1.0',
        'bopo_worklist_lines{reason="no open purchase order"} 1.0',
        'bopo_emails{state="pending"} 0.0',
        'bopo_emails{state="failed"} 0.0',
    ):
        assert expected in lines
    assert any(
        line.startswith("bopo_http_request_duration_seconds_count")
        and 'route="/api/sales-orders"' in line
        and 'status="201"' in line
        for line in lines
    )


def test_health_says_when_the_database_is_gone(api: Api) -> None:
    assert api.get("/api/health", None).status_code == 200
    gone = Database("postgresql+psycopg://postgres@127.0.0.1:1/nothing")  # nothing listens
    app = create_app(api.ctx.settings, ctx=Context(gone, api.ctx.settings, clock=api.ctx.clock))
    with TestClient(app) as client:
        response = client.get("/api/health")
    gone.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


def test_every_error_is_a_problem_document(api: Api) -> None:
    cases = [
        api.get("/api/nowhere"),
        api.get("/api/stock-items?limit=0"),
        api.get("/api/sales-orders/0"),
        api.get("/api/sales-orders/99"),
        api.post("/api/sales-orders", content=b"{not json", headers={"content-type": "x"}),
        api.get("/api/me", None),
    ]
    for response in cases:
        assert response.headers["content-type"] == "application/problem+json", response.text
        body = response.json()
        assert body["status"] == response.status_code
        assert body["title"]
    limit = api.get("/api/stock-items?limit=0").json()
    assert limit["errors"] == [
        {
            "field": "limit",
            "message": "must be at least 1",
            "location": "query",
        }
    ]


def test_the_documentation_is_served(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    error = schema["paths"]["/api/sales-orders"]["post"]["responses"]["422"]
    assert list(error["content"]) == ["application/problem+json"]
    assert "swagger" in api.client.get("/docs").text.lower()


def test_the_documentation_page_needs_nothing_from_the_internet(api: Api) -> None:
    page = api.client.get("/docs").text
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert [a for a in assets if "://" in a] == []  # no CDN
    for asset in assets:
        answer = api.client.get(asset)
        assert answer.status_code == 200, asset
        assert len(answer.content) > 1000, asset


def test_me_names_the_user_and_role_behind_the_token(api: Api) -> None:
    assert api.get("/api/me", Role.OPERATOR).json()["name"] == "operator"
    assert api.get("/api/me", Role.OPERATOR).json()["role"] == "operator"
