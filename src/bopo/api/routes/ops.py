"""For operators and their machines: probes, recurring jobs, and /metrics for Prometheus."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from bopo.api.deps import CtxDep, MetricsAccess, Viewer
from bopo.api.errors import ApiProblem, responses
from bopo.api.metrics import CONTENT_TYPE, Metrics
from bopo.api.schemas_ops import Live, Ready
from bopo.services.admin.jobs import JobStatus, job_statuses
from bopo.services.admin.monitoring import readiness

log = logging.getLogger(__name__)
router = APIRouter(tags=["system"])
metrics_router = APIRouter(tags=["system"])  # at the root: where Prometheus looks


@router.get("/health/live")
def live() -> Live:
    """The process is up and answering (no database asked). Needs no token."""
    return Live(status="ok")


@router.get("/health/ready", responses=responses(503))
def ready(ctx: CtxDep) -> Ready:
    """The database answers and has the schema this bopo needs; else 503 and why. No token.

    `migrations` is `newer` when a newer bopo has migrated the database during a rolling
    upgrade: this node still works (migrations only add) until it is replaced.
    """
    found = readiness(ctx)
    if found.problem is not None:
        log.warning("not ready: %s", found.problem)
        raise ApiProblem(503, found.problem, kind="unavailable")
    return Ready(status="ok", database="ok", migrations=found.schema)


@router.get("/jobs", responses=responses(401))
def jobs(ctx: CtxDep, _: Viewer) -> list[JobStatus]:
    """Each recurring job (bopo worker): how often it runs here, its last run, its failures."""
    return job_statuses(ctx)


@metrics_router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}},
        **responses(401),
    },
)
async def metrics(ctx: CtxDep, _: MetricsAccess, request: Request) -> Response:
    """Prometheus metrics: intake, outbox, jobs, database pool, request latency."""
    collected: Metrics = request.app.state.metrics
    body = await run_in_threadpool(collected.exposition, ctx)
    return Response(body, media_type=CONTENT_TYPE)
