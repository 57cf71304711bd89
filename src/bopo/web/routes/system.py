"""System data (PO line statuses, which email template each sends, the email templates)
and the settings in effect."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bopo.domain.allocation import POLICIES
from bopo.domain.templating import TemplateType
from bopo.services.admin import jobs, runtime_settings, statuses
from bopo.services.email import templates
from bopo.services.supply import catalog
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
        templates=templates.list_templates(ctx),
        sent_by_statuses=TemplateType.BACK_ORDER.value,
        default_status=ctx.backorders().default_po_line_status,
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


@router.post("/system/statuses/rename")
def rename_status(request: Request, user: Admin, form: Form) -> RedirectResponse:
    """Give a PO line status another name."""
    ctx = context_of(request)

    def run() -> str:
        done = statuses.rename_status(
            ctx, text(form, "code", max_length=40), text(form, "name"), actor=user.actor
        )
        return f"{done.code} is now called {done.name}." if done.changed else "Nothing changed."

    return act(request, "/system#statuses", run)


@router.post("/system/statuses/retire")
def retire_status(request: Request, user: Admin, form: Form) -> RedirectResponse:
    """Retire a PO line status: kept where used, given to no new PO line."""
    ctx = context_of(request)

    def run() -> str:
        done = statuses.retire_status(ctx, text(form, "code", max_length=40), actor=user.actor)
        if not done.changed:
            return f"{done.code} was retired already."
        return (
            f"{done.code} retired: it stays on the PO lines that have it and is given to no "
            "new one."
        )

    return act(request, "/system#statuses", run)


@router.post("/system/statuses/template")
def set_template(request: Request, user: Admin, form: Form) -> RedirectResponse:
    """Choose the email template a PO line status sends, or none."""
    ctx = context_of(request)

    def run() -> str:
        code = text(form, "code", max_length=40)
        chosen = text(form, "template", required=False) or None
        view = catalog.set_status_template(ctx, code, chosen, actor=user.actor)
        if view.template is None:
            return f"{view.code} sends no email now."
        return (
            f"{view.code} now sends the email template {view.template}: to each customer "
            "whose back order is linked to a PO line with this status."
        )

    return act(request, "/system#statuses", run)


@router.get("/settings")
def settings_page(request: Request, user: Admin) -> HTMLResponse:
    ctx = context_of(request)
    settings = ctx.settings
    return render(
        request,
        "settings.html",
        section="settings",
        settings=settings.masked(),
        source=settings.source,
        backorders=ctx.backorders(),
        origins={
            o.key: o.origin for o in runtime_settings.origins(ctx) if o.section == "backorders"
        },
        policies=POLICIES,
        statuses=[s for s in catalog.list_statuses(ctx) if s.retired_at is None],
        jobs=jobs.job_statuses(ctx),
    )


@router.post("/settings/allocation")
def change_allocation(request: Request, user: Admin, form: Form) -> RedirectResponse:
    """Switch allocation on or off, choose the policy and the default status: at once,
    for everyone, audited (the preview comes first: /what-if/switch-on)."""

    def run() -> str:
        changed = runtime_settings.change_backorders(
            context_of(request),
            actor=user.actor,
            allocate_existing_pos=text(form, "allocate", max_length=3) == "on",
            policy=text(form, "policy", max_length=40),
            default_po_line_status=text(form, "default_status", required=False, max_length=32),
        )
        if not changed:
            return "Nothing changed: those are the settings in effect."
        said = "; ".join(f"{c.key} {_shown(c.before)} → {_shown(c.after)}" for c in changed)
        return f"Changed for everyone, at once: {said}."

    return act(request, "/settings", run)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value is None else str(value)
