"""Sessions in the web UI: signing out ends one for good, a new password or disabling a
user ends all of theirs, an idle one ends on the services' clock, and the cookie is
Secure over HTTPS (a trusted proxy's word included)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from bopo.api.app import create_app
from bopo.config import ServerSettings
from bopo.db.engine import Database
from bopo.db.models import WebSession
from bopo.domain.roles import Role
from bopo.services.admin import users, web_sessions
from bopo.services.context import Context
from bopo.web.throttle import SignInThrottles
from tests.e2e.conftest import PASSWORDS, Web

COOKIE = "bopo_session"


def copy_of(web: Web) -> TestClient:
    """Another browser holding a copy of web's session cookie."""
    other = TestClient(web.client.app)
    other.cookies.set(COOKIE, web.client.cookies[COOKIE])
    return other


def signed_in(client: TestClient) -> bool:
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code in (200, 303)
    return answer.status_code == 200


def live_sessions(ctx: Context, user: str | None = None) -> int:
    query = select(func.count()).select_from(WebSession).where(WebSession.ended_at.is_(None))
    if user is not None:
        (found,) = [u.id for u in users.list_users(ctx) if u.name == user]
        query = query.where(WebSession.user_id == found)
    with ctx.db.read() as conn:
        return int(conn.scalar(query) or 0)


def rows(ctx: Context) -> int:
    with ctx.db.read() as conn:
        return int(conn.scalar(select(func.count()).select_from(WebSession)) or 0)


def test_a_copied_cookie_stops_working_once_its_session_signs_out(web: Web) -> None:
    web.sign_in(Role.OPERATOR)
    thief = copy_of(web)
    assert signed_in(thief)
    token = web.csrf()
    assert web.post("/logout", {}, token=token).headers["location"] == "/login"
    assert not signed_in(thief)
    # nor can the copy act, CSRF token and all
    answer = thief.post("/worklist/retry", data={"csrf_token": token}, follow_redirects=False)
    assert answer.headers["location"] == "/login"
    assert not signed_in(web.client)


def test_signing_out_ends_that_session_only(make_web: Callable[..., Web]) -> None:
    desk = make_web()
    desk.sign_in(Role.OPERATOR)
    laptop = Web(TestClient(desk.client.app), desk.ctx)
    laptop.sign_in(Role.OPERATOR)
    assert live_sessions(desk.ctx, "operator") == 2
    laptop.post("/logout", {})
    assert not signed_in(laptop.client)
    assert signed_in(desk.client)
    assert live_sessions(desk.ctx, "operator") == 1


def test_signing_in_again_in_the_same_browser_ends_the_session_it_had(web: Web) -> None:
    web.sign_in(Role.OPERATOR)
    before = copy_of(web)
    form = {"name": "viewer", "password": PASSWORDS[Role.VIEWER]}
    assert web.post("/login", form).status_code == 303  # without signing out first
    assert not signed_in(before)
    assert (live_sessions(web.ctx, "operator"), live_sessions(web.ctx, "viewer")) == (0, 1)


def test_a_new_password_ends_every_session_of_that_user_and_no_one_elses(web: Web) -> None:
    web.sign_in(Role.OPERATOR)
    copy = copy_of(web)
    colleague = Web(TestClient(web.client.app), web.ctx)
    colleague.sign_in(Role.VIEWER)
    users.set_password(web.ctx, "operator", "a new long password", actor="test")
    assert not signed_in(web.client)
    assert not signed_in(copy)
    assert signed_in(colleague.client)
    form = {"name": "operator", "password": PASSWORDS[Role.OPERATOR]}
    assert web.post("/login", form, token=web.csrf()).status_code == 401  # the old one
    form["password"] = "a new long password"
    assert web.post("/login", form, token=web.csrf()).status_code == 303
    assert signed_in(web.client)


def test_disabling_a_user_ends_every_session_of_theirs(web: Web) -> None:
    web.sign_in(Role.OPERATOR)
    other = Web(TestClient(web.client.app), web.ctx)
    other.sign_in(Role.OPERATOR)
    users.disable_user(web.ctx, "operator", actor="test")
    assert live_sessions(web.ctx, "operator") == 0
    assert not signed_in(web.client)
    assert not signed_in(other.client)


def test_a_session_ends_after_sixteen_hours_without_a_click_on_the_services_clock(
    web: Web,
) -> None:
    start = web.ctx.clock()
    web.ctx.clock = lambda: start
    web.sign_in(Role.VIEWER)
    web.ctx.clock = lambda: start + timedelta(hours=15, minutes=59)
    assert signed_in(web.client)  # a click: sixteen hours from now
    web.ctx.clock = lambda: start + timedelta(hours=31, minutes=58)
    assert signed_in(web.client)
    web.ctx.clock = lambda: start + timedelta(hours=48)
    assert not signed_in(web.client)


def test_ended_and_idle_sessions_are_deleted_at_the_next_sign_in(web: Web) -> None:
    start = web.ctx.clock()
    web.ctx.clock = lambda: start
    idle = Web(TestClient(web.client.app), web.ctx)
    idle.sign_in(Role.OPERATOR)  # and goes idle
    web.sign_in(Role.VIEWER)
    web.post("/logout", {})
    assert (rows(web.ctx), live_sessions(web.ctx)) == (2, 1)
    web.ctx.clock = lambda: start + timedelta(hours=17)
    web.sign_in(Role.ADMIN)
    assert (rows(web.ctx), live_sessions(web.ctx, "admin")) == (1, 1)


@pytest.fixture
def statements(web: Web) -> Iterator[list[str]]:
    """The SQL statements sent while the test runs."""
    sent: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            sent.append(statement)

    engines = {web.ctx.db.engine, web.ctx.db._read_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", note)
    yield sent
    for engine in engines:
        event.remove(engine, "before_cursor_execute", note)


def test_checking_a_session_is_one_query_and_a_write_at_most_once_a_minute(
    web: Web, statements: list[str]
) -> None:
    start = web.ctx.clock()
    web.ctx.clock = lambda: start
    web.sign_in(Role.VIEWER)
    sid = users_secret(web)
    statements.clear()
    web_sessions.session_user(web.ctx, sid)
    assert len(statements) == 1  # the user and the session, together
    web.ctx.clock = lambda: start + timedelta(seconds=61)
    statements.clear()
    web_sessions.session_user(web.ctx, sid)
    assert len(statements) == 2  # and last_seen_at, once a minute
    statements.clear()
    web_sessions.session_user(web.ctx, sid)
    assert len(statements) == 1


def users_secret(web: Web) -> str:
    """The session's secret, read from the signed cookie as the server does."""
    import base64
    import json

    value = web.client.cookies[COOKIE]
    payload = value.rsplit(".", 1)[0]
    data = json.loads(base64.b64decode(payload))
    secret: str = data["sid"]
    return secret


# --- the Secure flag -------------------------------------------------------------------


def session_cookie(client: TestClient, **headers: str) -> str:
    """The Set-Cookie a fresh visitor gets from the login page."""
    client.cookies.clear()
    answer = client.get("/login", headers=headers)
    cookie: str = answer.headers["set-cookie"].lower()
    assert cookie.startswith(COOKIE)
    return cookie


def secure(cookie: str) -> bool:
    return "secure" in [part.strip() for part in cookie.split(";")]


@pytest.fixture
def make_client(web: Web) -> Iterator[Callable[..., TestClient]]:
    """Clients on an app with `[server] trusted_proxies` set, from an address of choice."""
    clients: list[TestClient] = []

    def make(proxies: tuple[str, ...], client: tuple[str, int], base: str) -> TestClient:
        server = ServerSettings(trusted_proxies=proxies)
        web.ctx.settings = web.ctx.settings.model_copy(update={"server": server})
        made = TestClient(create_app(web.ctx.settings, ctx=web.ctx), base_url=base, client=client)
        made.__enter__()
        clients.append(made)
        return made

    yield make
    for made in clients:
        made.__exit__(None, None, None)


def test_the_cookie_is_secure_over_https_and_not_over_plain_http(
    make_client: Callable[..., TestClient],
) -> None:
    direct = make_client((), ("203.0.113.9", 5000), "https://bopo.example")
    assert secure(session_cookie(direct))
    plain = make_client((), ("203.0.113.9", 5000), "http://bopo.example")
    assert not secure(session_cookie(plain))
    assert "httponly" in session_cookie(plain)
    assert "samesite=lax" in session_cookie(plain)


def test_a_trusted_proxy_saying_https_makes_the_cookie_secure_and_no_one_else_can(
    make_client: Callable[..., TestClient],
) -> None:
    behind = make_client(("10.0.0.0/8",), ("10.0.0.5", 5000), "http://bopo.example")
    assert secure(session_cookie(behind, **{"x-forwarded-proto": "https"}))
    assert not secure(session_cookie(behind, **{"x-forwarded-proto": "http"}))
    stranger = make_client(("10.0.0.0/8",), ("203.0.113.9", 5000), "http://bopo.example")
    assert not secure(session_cookie(stranger, **{"x-forwarded-proto": "https"}))
    untrusting = make_client((), ("10.0.0.5", 5000), "http://bopo.example")
    assert not secure(session_cookie(untrusting, **{"x-forwarded-proto": "https"}))


def test_the_sign_in_throttle_counts_the_address_a_trusted_proxy_names_and_only_then(
    make_client: Callable[..., TestClient], web: Web
) -> None:
    def tries(client: TestClient, forwarded_for: str) -> list[int]:
        # two failures free per address here (30 in earnest), so that the test is quick
        client.app.state.sign_in_throttles = SignInThrottles(  # type: ignore[attr-defined]
            web.ctx, names_free=100, addresses_free=2
        )
        client.cookies.clear()
        page = client.get("/login").text
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        return [
            client.post(
                "/login",
                data={"csrf_token": token, "name": f"guess{n}", "password": "x"},
                headers={"x-forwarded-for": forwarded_for or f"198.51.100.{n}"},
                follow_redirects=False,
            ).status_code
            for n in range(3)
        ]

    # Not through the proxy: a made-up address for each try is still the one address.
    stranger = make_client(("10.0.0.0/8",), ("203.0.113.9", 5000), "http://bopo.example")
    assert tries(stranger, "") == [401, 401, 429]
    # Through it: each client counts on its own.
    behind = make_client(("10.0.0.0/8",), ("10.0.0.5", 5000), "http://bopo.example")
    assert tries(behind, "") == [401, 401, 401]
    assert tries(behind, "198.51.100.7") == [401, 401, 429]


@pytest.fixture
def node(web: Web) -> Iterator[Callable[[], Web]]:
    """Another web node on web's database: an app of its own (as another host, or the
    same one restarted), with its own connections, on the same clock."""
    made: list[tuple[TestClient, Context]] = []

    def start() -> Web:
        ctx = Context(
            Database(web.ctx.settings.database.url), web.ctx.settings, clock=web.ctx.clock
        )
        client = TestClient(create_app(ctx.settings, ctx=ctx))
        client.__enter__()
        made.append((client, ctx))
        return Web(client, ctx)

    yield start
    for client, ctx in made:
        client.__exit__(None, None, None)
        ctx.db.dispose()


def test_every_node_counts_the_same_failed_sign_ins_and_a_restart_forgets_none(
    web: Web, node: Callable[[], Web]
) -> None:
    start = web.ctx.clock()
    web.ctx.clock = lambda: start
    one, two = web, node()
    two.ctx.clock = web.ctx.clock
    wrong = {"name": "Admin", "password": "guess"}
    right = {"name": "admin", "password": PASSWORDS[Role.ADMIN]}
    for web_node in (one, two, one, two, one):  # five failures, on two nodes
        assert web_node.post("/login", wrong, token=web_node.csrf()).status_code == 401
    answer = two.post("/login", right, token=two.csrf())
    assert answer.status_code == 429  # the sixth try waits, whichever node it comes to
    assert answer.headers["retry-after"] == "30"
    restarted = node()
    restarted.ctx.clock = web.ctx.clock
    assert restarted.post("/login", right, token=restarted.csrf()).status_code == 429
    web.ctx.clock = restarted.ctx.clock = two.ctx.clock = lambda: start + timedelta(seconds=30)
    assert restarted.post("/login", right, token=restarted.csrf()).status_code == 303
    # the success cleared the count for every node
    assert one.post("/login", wrong, token=one.csrf()).status_code == 401
