"""The FastAPI application: every router under /api, errors as problem+json, and the
web UI's pages (bopo.web) beside them.

`create_app(settings)` builds one app with its own database context, token
cache and metrics, so tests and workers never share state through globals.
`app_from_env()` is the factory `bopo serve --workers N` hands uvicorn: each
worker process reads the settings again from BOPO_CONFIG and the environment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bopo import __version__
from bopo.api import errors
from bopo.api.deps import TokenCache
from bopo.api.metrics import LatencyMiddleware, Metrics
from bopo.api.request_id import RequestIdMiddleware
from bopo.api.routes import ROUTERS, sales_orders
from bopo.api.routes.ops import metrics_router
from bopo.config import Settings, load_settings
from bopo.services.context import Context
from bopo.web import app as web
from bopo.web.routes import ROUTERS as WEB_ROUTERS

PREFIX = "/api"

DESCRIPTION = """
Link back-ordered sales-order lines to undelivered purchase-order lines.

Every route but `/api/health` needs a bearer token (`bopo tokens create USER`).
Roles: **viewer** reads, explains orders and asks what a change would do
(`/api/what-if/...`); **operator** also takes orders, works the worklist and
sends or cancels emails; **admin** also keeps system data (statuses, email
templates) and reads settings. Errors are
`application/problem+json` (RFC 9457); a 422 lists each bad field.
Lists take `limit` and `offset` and return `total` and `next_offset`.
"""


DOCS = "/docs"


def create_app(settings: Settings, *, ctx: Context | None = None) -> FastAPI:
    """The API on the database the settings name (or on a context given)."""
    context = ctx or Context.from_settings(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Requests beyond these threads wait their turn, first come first served
        # (imports have threads of their own: bopo.threads).
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = context.settings.server.request_threads
        await _build_routes(app)
        yield
        if ctx is None:  # ours to close
            context.db.dispose()

    # The docs page's scripts and styles are served from the package, not a CDN.
    app = FastAPIOffline(
        title="bopo",
        version=__version__,
        description=DESCRIPTION,
        docs_url=DOCS,
        static_url=f"{DOCS}/assets",
        openapi_url="/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.ctx = context
    app.state.tokens = TokenCache()
    app.state.metrics = Metrics()
    errors.install(app)
    # FastAPI looks for a request's route through each router in turn, every route of
    # each; taking orders, the busiest path, is looked for first. The schema and the
    # docs keep the routers' own order (below, where this one is included again).
    app.include_router(sales_orders.router, prefix=PREFIX, include_in_schema=False)
    for router in ROUTERS:
        app.include_router(router, prefix=PREFIX)
    app.include_router(metrics_router)  # /metrics, where Prometheus looks by default
    web.install(app, context)  # the pages, on the same context and services
    templates = {
        route.endpoint: prefix + route.path
        for routers, prefix in ((ROUTERS, PREFIX), (WEB_ROUTERS, ""))
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
    }
    app.add_middleware(LatencyMiddleware, metrics=app.state.metrics, templates=templates)
    proxies = context.settings.server.trusted_proxies
    if proxies:  # outside all but the request id: the app sees the client and scheme it says
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(proxies))
    # Added last, so outermost: the id is set before anything else sees the request.
    app.add_middleware(RequestIdMiddleware)

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


async def _build_routes(app: FastAPI) -> None:
    """FastAPI works out each router's routes when a request first looks through them
    (~0.3 s of CPU for bopo's); a path that matches nothing looks through them all, here
    at start-up, rather than in some customer's first requests."""
    scope: dict[str, Any] = {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/.routes", "raw_path": b"/.routes", "root_path": "", "query_string": b"",
        "headers": [], "client": None, "server": None, "state": {},
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: Any) -> None:  # the 404's messages, which go nowhere
        return None

    await app.router(scope, receive, send)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The schema, built once, with errors as application/problem+json."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        app.openapi_schema = errors.problem_content_types(schema)
    return app.openapi_schema


def app_from_env() -> FastAPI:
    """Build the app from BOPO_CONFIG and BOPO_<SECTION>__<KEY> (uvicorn's factory)."""
    return create_app(load_settings())
