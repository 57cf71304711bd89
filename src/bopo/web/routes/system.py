"""System data (PO line statuses) and the settings in effect."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bopo.services import catalog
from bopo.web.forms import act, text
from bopo.web.render import render
from bopo.web.session import Admin, Form, Viewer, context_of

router = APIRouter(include_in_schema=False)


@router.get("/system")
def system_page(request: Request, user: Viewer) -> HTMLResponse:
    ctx = context_of(request)
    return render(
        request,
        "system.html",
        section="system",
        statuses=catalog.list_statuses(ctx),
        default_status=ctx.settings.backorders.default_po_line_status,
    )


@router.post("/system/statuses")
def add_status(request: Request, user: Admin, form: Form) -> RedirectResponse:
    ctx = context_of(request)

    def run() -> str:
        made = catalog.add_status(
            ctx, text(form, "code", max_length=40), text(form, "name"), actor=user.actor
        )
        return f"Added the PO line status {made.code} ({made.name})."

    return act(request, "/system", run)


@router.get("/settings")
def settings_page(request: Request, user: Admin) -> HTMLResponse:
    settings = context_of(request).settings
    return render(
        request,
        "settings.html",
        section="settings",
        settings=settings.masked(),
        source=settings.source,
        backorders=settings.backorders,
    )
