"""An API on each test database, with a user and token for every role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bopo.api.app import create_app
from bopo.config import SmtpSettings
from bopo.domain.roles import Role
from bopo.services import users
from bopo.services.context import Context
from tests.smtp_sink import free_port


@dataclass
class Api:
    """A client on the app; requests go as the role named, or with no token for None."""

    client: TestClient
    ctx: Context
    tokens: dict[Role, str]

    def headers(self, role: Role | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    def request(self, method: str, path: str, role: Role | None, **kw: Any) -> httpx.Response:
        headers = self.headers(role) | kw.pop("headers", {})
        return self.client.request(method, path, headers=headers, **kw)

    def get(self, path: str, role: Role | None = Role.VIEWER, **kw: Any) -> httpx.Response:
        return self.request("GET", path, role, **kw)

    def post(self, path: str, role: Role | None = Role.OPERATOR, **kw: Any) -> httpx.Response:
        return self.request("POST", path, role, **kw)

    def patch(self, path: str, role: Role | None = Role.ADMIN, **kw: Any) -> httpx.Response:
        return self.request("PATCH", path, role, **kw)


def users_for_every_role(ctx: Context) -> dict[Role, str]:
    tokens = {}
    for role in Role:
        users.add_user(ctx, role.value, role, actor="test")
        tokens[role] = users.create_token(ctx, role.value, actor="test").secret
    return tokens


@pytest.fixture
def make_api(make_ctx: Callable[..., Context]) -> Iterator[Callable[..., Api]]:
    """APIs on the test database; keyword arguments set [backorders] options.

    SMTP goes to `smtp_port` on 127.0.0.1, by default a port nobody listens on,
    so that no test sends mail anywhere by accident.
    """
    clients: list[TestClient] = []

    def make(*, smtp_port: int | None = None, **backorders: Any) -> Api:
        ctx = make_ctx(**backorders)
        smtp = SmtpSettings(host="127.0.0.1", port=smtp_port or free_port(), timeout=5)
        ctx.settings = ctx.settings.model_copy(update={"smtp": smtp})
        client = TestClient(create_app(ctx.settings, ctx=ctx))
        client.__enter__()
        clients.append(client)
        return Api(client, ctx, users_for_every_role(ctx))

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """Allocation on, no default status."""
    return make_api()


def order_json(number: str, *lines: tuple[str, int], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": "web",
        "number": number,
        "customer": {"code": "C1", "name": "Customer One", "email": "c1@example.com"},
        "order_date": "2026-11-25",
        "delivery_date": "2026-12-02",
        "lines": [{"line_no": i, "sku": s, "qty": q} for i, (s, q) in enumerate(lines, 1)],
    }
    return body | extra
