"""Putting the web UI on the API's app: sessions, static files, pages, error pages.

The session cookie is signed with `[server] secret_key` (only from
BOPO_SERVER__SECRET_KEY). Without one, each process makes its own key at
start: fine for one process on a laptop (signing in again after a restart),
wrong wherever several processes share the sessions, so `bopo serve` refuses
to start without a key on PostgreSQL or with more than one worker
(`check_secret_key`).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import secrets
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bopo.config import Settings
from bopo.errors import BopoError, ConfigError, NotFound
from bopo.services.admin.web_sessions import IDLE
from bopo.services.common.refusals import refusal
from bopo.services.context import Context
from bopo.web.cookies import SessionCookies
from bopo.web.forms import say
from bopo.web.render import PAGE_CSP, STATIC, make_env, render
from bopo.web.routes import ROUTERS
from bopo.web.session import CsrfFailed, Forbidden, LoginRequired, current_user, flash
from bopo.web.throttle import SignInThrottles
from bopo.web.urls import local_path, referer_path

log = logging.getLogger(__name__)

SESSION_COOKIE = "bopo_session"
NOT_PAGES = ("/api/", "/docs", "/openapi.json")
SECURITY_HEADERS = [
    (b"content-security-policy", PAGE_CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


def check_secret_key(settings: Settings, *, workers: int) -> None:
    """Refuse to serve where a key made per process would sign people out at random."""
    if settings.server.secret_key is not None:
        return
    if workers > 1 or not settings.database.url.startswith("sqlite"):
        raise ConfigError(
            [
                "[server] secret_key: not set; the web UI's sessions need one key shared by "
                "every worker and kept across restarts. Set BOPO_SERVER__SECRET_KEY "
                "(e.g. to the output of `openssl rand -hex 32`)"
            ]
        )


def is_page(request: Request) -> bool:
    path = request.url.path
    return not (path == "/api" or path.startswith(NOT_PAGES))


class SecurityHeaders:
    """Adds the headers above to the web pages (not to the API or its docs); a page that
    sets its own Content-Security-Policy keeps it (render(csp=...))."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == "/api" or path.startswith(NOT_PAGES):
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                own = {name.lower() for name, _ in headers}
                message["headers"] = headers + [h for h in SECURITY_HEADERS if h[0] not in own]
            await send(message)

        await self.app(scope, receive, sending)


def install(app: FastAPI, ctx: Context) -> None:
    """Add the pages, their static files and error pages to the app."""
    key = ctx.settings.server.secret_key
    app.state.web_env = make_env(ctx.clock)
    app.state.sign_in_throttles = SignInThrottles(ctx)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        SessionCookies,
        secret_key=key.get_secret_value() if key else secrets.token_urlsafe(32),
        cookie=SESSION_COOKIE,
        max_age=int(IDLE.total_seconds()),
    )
    _error_pages(app)


def _error_pages(app: FastAPI) -> None:
    """Pages get HTML error pages; the API keeps its problem+json handlers."""

    def either(kind: type[Exception], page: Any) -> None:
        api = app.exception_handlers.get(kind)

        async def handle(request: Request, exc: Exception) -> Response:
            if api is not None and not is_page(request):
                response = api(request, exc)
                return await response if inspect.isawaitable(response) else response
            result: Response = await page(request, exc)
            return result

        app.add_exception_handler(kind, handle)

    either(LoginRequired, _login_required)
    either(Forbidden, _forbidden)
    either(CsrfFailed, _csrf_failed)
    either(StarletteHTTPException, _http_error)
    either(BopoError, _bopo_error)
    for refused in (IntegrityError, DataError, OperationalError):
        either(refused, _database_error)
    either(Exception, _unexpected)


async def _error(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    if getattr(request.state, "user", None) is None and "session" in request.scope:
        with contextlib.suppress(Exception):  # the menu, when someone is signed in
            await run_in_threadpool(current_user, request)
    return render(request, "error.html", status, title=title, detail=detail)


async def _login_required(request: Request, exc: Exception) -> Response:
    target = local_path(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    if request.method != "GET" or target == "/":
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    return await _error(request, 403, "Not for your role", str(exc))


async def _csrf_failed(request: Request, exc: Exception) -> Response:
    # Usually a form left open past the session's end; nothing was changed.
    flash(request, "error", "That form had expired, so nothing was changed. Please try again.")
    if request.url.path == "/login":
        back = "/login"
    else:
        back = referer_path(request.headers.get("referer"), request.url.scheme, request.url.netloc)
    return RedirectResponse(back, status_code=303)


async def _database_error(request: Request, exc: Exception) -> Response:
    """Said in words; the driver's message (tables, constraints) goes to the log only.
    A form goes back to its page with the message, as a refused action does."""
    assert isinstance(exc, DBAPIError)
    said = refusal(exc)
    log.log(
        logging.ERROR if said.status == 503 else logging.INFO,
        "refused by the database on %s: %s",
        request.url.path,
        said.detail,
    )
    if request.method == "POST":
        flash(request, "error", f"Nothing was changed: {said.message}.")
        back = referer_path(request.headers.get("referer"), request.url.scheme, request.url.netloc)
        return RedirectResponse(back, status_code=303)
    return await _error(request, said.status, "Cannot show this page", said.message + ".")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return await _error(request, 404, "Not found", "There is no page at this address.")
    if exc.status_code == 405:
        return await _error(request, 405, "Not here", "This page cannot be used that way.")
    return await _error(request, exc.status_code, "Cannot show this page", str(exc.detail))


async def _bopo_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BopoError)
    if isinstance(exc, NotFound):
        return await _error(request, 404, "Not found", say(exc).capitalize() + ".")
    if isinstance(exc, ConfigError):
        log.error("configuration problem: %s", exc)
        return await _error(request, 500, "bopo is not configured correctly", "See the log.")
    return await _error(request, 409, "Cannot do that", say(exc))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path, exc_info=exc)
    return HTMLResponse(
        "<!doctype html><title>Error - bopo</title><h1>Something went wrong</h1>"
        "<p>An unexpected error; it has been logged. <a href='/'>Back to the dashboard</a></p>",
        status_code=500,
    )
