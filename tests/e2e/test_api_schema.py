"""Schemathesis against /openapi.json: whatever it sends, no 5xx and no schema violation.

Runs on SQLite and PostgreSQL with the demo data, as an admin (so every route is
reachable), with a bounded number of examples per operation. SMTP points at a
local port nobody listens on, with a short timeout: `POST /api/emails/send` is
run like every other route, and answers that the server cannot be reached.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bopo.api.app import create_app
from bopo.config import BackorderSettings, DatabaseSettings, Settings, SmtpSettings
from bopo.db.engine import Database
from bopo.services.admin import demo, users
from bopo.services.context import Context
from tests.clock import Clock
from tests.conftest import _empty_pg
from tests.smtp_sink import dead_port

EXAMPLES = 25  # per operation: the whole run stays well under a minute
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("schema") / "bopo.db"
        path.write_bytes(request.getfixturevalue("sqlite_template").read_bytes())
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database")
        _empty_pg(url)
    ctx = Context(
        Database(url),
        Settings(
            database=DatabaseSettings(url=url),
            backorders=BackorderSettings(allocate_existing_pos=True),
            smtp=SmtpSettings(host="127.0.0.1", port=dead_port(), timeout=2),
        ),
        clock=Clock(ticking=True),
    )
    demo.load_demo(ctx)
    users.ensure_demo_login(ctx)
    with TestClient(create_app(ctx.settings, ctx=ctx)) as client:
        yield client
    ctx.db.dispose()


@pytest.fixture(scope="module")
def api_schema(demo_app: TestClient) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", demo_app.app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_keeps_to_its_schema_whatever_it_is_sent(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": f"Bearer {users.DEMO_TOKEN}"})
    case.validate_response(response, checks=CHECKS)
