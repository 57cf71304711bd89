"""Who am I, settings, health and metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response

from bopo.api.deps import Admin, CtxDep, MetricsAccess, Viewer
from bopo.api.errors import ApiProblem, responses
from bopo.api.metrics import CONTENT_TYPE, Metrics
from bopo.api.schemas import Health, MeRead, SettingsRead
from bopo.services.admin.monitoring import database_problem

log = logging.getLogger(__name__)
router = APIRouter(tags=["system"])


@router.get("/me", responses=responses(401))
def me(user: Viewer) -> MeRead:
    """The user behind the token, and their role."""
    return MeRead(name=user.name, role=user.role, token_id=user.token_id)


@router.get("/settings", responses=responses(401, 403))
def settings(ctx: CtxDep, _: Admin) -> SettingsRead:
    """The settings in effect, by INI section; secrets are masked."""
    return ctx.settings.masked()


@router.get("/health", responses=responses(503))
def health(ctx: CtxDep) -> Health:
    """Whether bopo and its database answer. Needs no token."""
    problem = database_problem(ctx)
    if problem is not None:
        log.warning("health check: %s", problem)
        raise ApiProblem(503, "the database is not available", kind="unavailable")
    return Health(status="ok", database="ok")


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}},
        **responses(401),
    },
)
def metrics(ctx: CtxDep, _: MetricsAccess, request: Request) -> Response:
    """Prometheus metrics (as at /metrics): orders, links, worklist, emails, jobs, latency."""
    collected: Metrics = request.app.state.metrics
    return Response(collected.exposition(ctx), media_type=CONTENT_TYPE)
