"""The dashboard: how the work stands today, each figure a link to the list behind it."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bopo.services.worklist import dashboard
from bopo.web.render import render
from bopo.web.session import Viewer, context_of

router = APIRouter(include_in_schema=False)


@router.get("/")
def show(request: Request, user: Viewer) -> HTMLResponse:
    ctx = context_of(request)
    overview = dashboard.overview(ctx)
    yesterday = ctx.clock().date() - timedelta(days=1)
    return render(request, "dashboard.html", section="dashboard", o=overview, yesterday=yesterday)
