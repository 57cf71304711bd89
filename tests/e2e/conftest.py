"""The API and the web UI on each test database, with a user for every role."""

from __future__ import annotations

import html
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.from_thread
import anyio.to_thread
import httpx
import pytest
from fastapi.testclient import TestClient

from bopo.api.app import create_app
from bopo.domain.roles import Role
from bopo.services.admin import users
from bopo.services.context import Context
from tests.e2e.browser import CHROMIUM, chromium, serving, sign_in
from tests.smtp_sink import dead_port, smtp_to


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


def watch_threads(
    monkeypatch: pytest.MonkeyPatch, api: Api, module: Any, name: str
) -> list[tuple[int, int, int]]:
    """Calls of module.name will note, as they start, the request threads there are and
    how many are busy, and how many of the long-request threads are busy."""
    seen: list[tuple[int, int, int]] = []
    real = getattr(module, name)

    def threads() -> tuple[int, int, int]:
        requests = anyio.to_thread.current_default_thread_limiter()
        long = api.client.app.state.long_threads  # type: ignore[attr-defined]
        return requests.total_tokens, requests.borrowed_tokens, long.borrowed_tokens

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(anyio.from_thread.run_sync(threads))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, watched)
    return seen


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
        ctx = with_smtp(make_ctx(**backorders), smtp_port)
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


# --- the web UI ---------------------------------------------------------------------------

PASSWORDS = {role: f"{role.value}-password" for role in Role}


def users_with_passwords(ctx: Context) -> None:
    """A user named after each role, signing in with PASSWORDS[role]."""
    for role in Role:
        users.add_user(ctx, role.value, role, password=PASSWORDS[role], actor="test")


@dataclass
class Web:
    """A browser-like client on the pages: a session cookie, CSRF tokens, flash messages."""

    client: TestClient
    ctx: Context

    def csrf(self) -> str:
        page = self.client.get("/login" if not self.client.cookies else "/system")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, "no CSRF token on the page"
        return found.group(1)

    def sign_in(self, role: Role) -> None:
        self.client.cookies.clear()
        answer = self.post(
            "/login", {"name": role.value, "password": PASSWORDS[role]}, token=self.csrf()
        )
        assert answer.status_code == 303, answer.text

    def post(
        self, path: str, data: dict[str, Any], *, token: str | None = None, **kw: Any
    ) -> httpx.Response:
        """POST a form with the session's CSRF token (or the one given); redirects not followed."""
        body = {"csrf_token": token if token is not None else self.csrf()} | data
        return self.client.post(path, data=body, follow_redirects=False, **kw)

    def act(self, path: str, data: dict[str, Any], **kw: Any) -> list[str]:
        """POST a form, follow the redirect, return the messages the next page shows."""
        answer = self.post(path, data, **kw)
        assert answer.status_code == 303, answer.text
        return flashes(self.client.get(answer.headers["location"]).text)


def flashes(html_text: str) -> list[str]:
    """The messages at the top of a page, as text."""
    return [
        html.unescape(re.sub(r"<[^>]+>", "", m)).strip()
        for m in re.findall(
            r'<p class="flash [a-z]+" role="(?:status|alert)">(.*?)</p>', html_text, re.S
        )
    ]


def with_smtp(ctx: Context, port: int | None) -> Context:
    """Mail to 127.0.0.1:port; by default a port nobody listens on, so that no test sends
    mail anywhere by accident."""
    smtp = smtp_to(port or dead_port())
    ctx.settings = ctx.settings.model_copy(update={"smtp": smtp})
    return ctx


@pytest.fixture
def make_web(make_ctx: Callable[..., Context]) -> Iterator[Callable[..., Web]]:
    """Web clients on the test database, a user for each role; kwargs set [backorders],
    `smtp_port` where mail goes (see with_smtp)."""
    clients: list[TestClient] = []

    def make(*, smtp_port: int | None = None, **backorders: Any) -> Web:
        ctx = with_smtp(make_ctx(**backorders), smtp_port)
        client = TestClient(create_app(ctx.settings, ctx=ctx))
        client.__enter__()
        clients.append(client)
        users_with_passwords(ctx)
        return Web(client, ctx)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def web(make_web: Callable[..., Web]) -> Web:
    """Allocation on, no default status; nobody signed in yet."""
    return make_web()


# --- the browser -------------------------------------------------------------------------

REQUIRE_BROWSER = os.environ.get("BOPO_REQUIRE_BROWSER") == "1"
RESULTS = Path(__file__).resolve().parents[2] / "test-results"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test, so a fixture can tell that it failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    if report.when == "call" and report.failed and "page" in getattr(item, "fixturenames", ()):
        # A page that did not load: what the served app (in this process) was doing.
        report.sections.append(("threads when the test failed", threads_now()))
    return report


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless; skipped (visibly) where it is not installed."""
    if not CHROMIUM.exists():
        why = f"no {CHROMIUM}: browser tests need `apt-get install chromium`"
        if REQUIRE_BROWSER:
            pytest.fail(f"BOPO_REQUIRE_BROWSER=1 but {why}", pytrace=False)
        pytest.skip(why)
    from playwright.sync_api import expect

    # Assertions wait for their page up to 15 s (Playwright's own is 5): a stall of the
    # shared CI machine is not a failure; they still pass the moment the page is right.
    expect.set_options(timeout=15_000)
    with chromium() as launched:
        yield launched


@dataclass
class Site:
    """bopo served on a free port against the test database."""

    base: str
    ctx: Context

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def make_site(make_ctx: Callable[..., Context]) -> Iterator[Callable[..., Site]]:
    with ExitStack() as stack:

        def make(*, smtp_port: int | None = None, **backorders: Any) -> Site:
            ctx = with_smtp(make_ctx(**backorders), smtp_port)
            users_with_passwords(ctx)
            base = stack.enter_context(serving(create_app(ctx.settings, ctx=ctx)))
            return Site(base, ctx)

        yield make


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser tab; `page.problems` collects console errors and failed loads.

    A test that fails leaves a screenshot under test-results/.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    # CI runs two workers of browser and database tests at once, on a shared machine that
    # can stall for seconds; a page that never answers still fails, with every thread's
    # stack in the report (pytest_runtest_makereport).
    tab.set_default_timeout(20_000)
    tab.set_default_navigation_timeout(60_000)
    problems: list[str] = []
    tab.on(
        "console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None
    )
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.on("dialog", lambda d: d.accept())
    tab.problems = problems
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        RESULTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        tab.screenshot(path=str(RESULTS / f"{name}.png"), full_page=True)
    context.close()


def threads_now() -> str:
    """Every thread's stack, the served app's included (it runs in this process): what a
    page that did not load was waiting for."""
    names = {t.ident: t.name for t in threading.enumerate()}
    return "\n".join(
        f"--- {names.get(ident, ident)}\n{''.join(traceback.format_stack(frame))}"
        for ident, frame in sys._current_frames().items()
    )


def sign_in_as(page: Any, site: Site, role: Role) -> None:
    sign_in(page, site.base, role.value, PASSWORDS[role])
