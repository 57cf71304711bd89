"""Email templates (system data): the editor, with a preview against a real order.

Admins write templates; everyone else reads them and previews them as saved.
The page's script keeps the preview current while an admin types, through
`POST /system/templates/preview` (the form as it stands, CSRF-checked, answered
with JSON); without the script, the Preview button re-renders the page.
A template that does not parse or render is refused, the error (part and line)
shown next to its field. Every page here renders the template (a preview, or the
check made when saving), so each runs on the long-request threads: a slow
template never holds up orders and pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import FormData

from bopo.domain.templating import TemplateSource, TemplateType
from bopo.errors import Conflict, InvalidInput, NotFound
from bopo.services.context import Context
from bopo.services.email import templates
from bopo.services.email.templates import Preview, TemplateView
from bopo.threads import in_long_thread
from bopo.web.forms import say
from bopo.web.render import EMAIL_FRAME_CSP, redirect, render
from bopo.web.session import Admin, Form, Viewer, WebUser, context_of

router = APIRouter(prefix="/system/templates", include_in_schema=False)
FIELDS = ("name", "type", "subject", "body_text", "body_html")
LIMITS = {"name": 400, "type": 40, "subject": 2_000, "body_text": 200_000, "body_html": 200_000}
STARTER = {
    "name": "",
    "type": TemplateType.BACK_ORDER.value,
    "subject": "Your order {{ order.number }}: expected dates",
    "body_text": (
        "Dear {{ customer.name }},\n\n"
        "These items on your order {{ order.number }} are on their way to us:\n\n"
        "{{ table(lines) }}\n\n"
        "{{ company.name }}\n"
    ),
    "body_html": "",
}


@dataclass(frozen=True, slots=True)
class Shown:
    """What the preview pane shows: the email, which order it is for, the template's errors."""

    preview: Preview | None
    note: str
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        p = self.preview
        return {
            "ok": p is not None,
            "note": self.note,
            "errors": self.errors,
            "to": p.to if p else None,
            "subject": p.subject if p else None,
            "body_text": p.body_text if p else None,
            "body_html": p.body_html if p else None,
        }


def template_url(template_id: int) -> str:
    return f"/system/templates/{template_id}"


def _values(form: FormData) -> dict[str, str]:
    """The form as typed; a browser sends a textarea's lines ending in CRLF."""
    values = {}
    for name in FIELDS:
        raw = form.get(name)
        values[name] = (raw if isinstance(raw, str) else "")[: LIMITS[name]].replace("\r\n", "\n")
    values["name"] = values["name"].strip()
    values["type"] = values["type"].strip() or TemplateType.BACK_ORDER.value
    return values


def _html(values: dict[str, str]) -> str | None:
    """The HTML body, or None when the field is left empty (text only)."""
    return values["body_html"] if values["body_html"].strip() else None


def _source(values: dict[str, str]) -> TemplateSource:
    return TemplateSource(values["subject"], values["body_text"], _html(values))


def _order(raw: object) -> str:
    return raw.strip()[:110] if isinstance(raw, str) else ""


def _errors(exc: InvalidInput) -> dict[str, str]:
    found: dict[str, str] = {}
    for e in exc.errors:
        found.setdefault(e.field, e.message)
    return found


def preview(ctx: Context, kind: str, source: TemplateSource, order: str) -> Shown:
    """Render against the order named (its number, or source/number as bopo shows it),
    else the sample order, saying which and why."""
    try:
        if not order:
            sample = templates.preview_source(ctx, kind, source)
            return Shown(sample, "The sample order: choose one of yours to see it for real.")
        try:
            return _for(templates.preview_source(ctx, kind, source, order_number=order))
        except NotFound as exc:
            problem: NotFound | Conflict = exc
            if "/" in order:  # "web/W-5003": a source, then the number
                src, number = order.split("/", 1)
                try:
                    return _for(
                        templates.preview_source(
                            ctx, kind, source, order_number=number, order_source=src
                        )
                    )
                except (NotFound, Conflict) as again:
                    problem = again
        except Conflict as exc:
            problem = exc
        sample = templates.preview_source(ctx, kind, source)
        return Shown(sample, f"The sample order: {say(problem)}.")
    except InvalidInput as exc:
        return Shown(
            None, "The template does not render: see the errors by its fields.", _errors(exc)
        )


def _for(p: Preview) -> Shown:
    return Shown(p, f"{p.order}, as {p.to} will get it.")


def _default_order(ctx: Context) -> str:
    """The order most recently linked, so that the preview starts with real data."""
    recent = templates.preview_orders(ctx, limit=1)
    return f"{recent[0].source}/{recent[0].number}" if recent else ""


def _editor(
    request: Request,
    user: WebUser,
    view: TemplateView | None,
    values: dict[str, str],
    order: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    refused: str | None = None,
) -> HTMLResponse:
    ctx = context_of(request)
    shown = preview(ctx, values["type"], _source(values), order)
    problems = (errors or {}) | shown.errors
    return render(
        request,
        "email_template.html",
        status,
        csp=EMAIL_FRAME_CSP,
        section="system",
        view=view,
        values=values,
        order=order,
        orders=templates.preview_orders(ctx),
        shown=shown,
        errors=problems,
        others={k: v for k, v in problems.items() if k not in FIELDS},
        refused=refused,
        editable=user.can("admin"),
        types=[t.value for t in TemplateType],
        action=template_url(view.id) if view else "/system/templates/new",
    )


def _as_values(view: TemplateView) -> dict[str, str]:
    return {
        "name": view.name,
        "type": view.type,
        "subject": view.subject,
        "body_text": view.body_text,
        "body_html": view.body_html or "",
    }


@router.get("/new")
async def new_page(request: Request, user: Admin) -> HTMLResponse:
    return await in_long_thread(request, _new_page, request, user)


def _new_page(request: Request, user: WebUser) -> HTMLResponse:
    order = _default_order(context_of(request))
    return _editor(request, user, None, dict(STARTER), order)


@router.post("/new")
async def create(request: Request, user: Admin, form: Form) -> Response:
    return await in_long_thread(request, _create, request, user, form)


def _create(request: Request, user: WebUser, form: FormData) -> Response:
    ctx = context_of(request)
    values, order = _values(form), _order(form.get("order"))
    if form.get("intent") == "preview":
        return _editor(request, user, None, values, order)
    try:
        made = templates.add_template(
            ctx,
            values["name"],
            values["subject"],
            values["body_text"],
            _html(values),
            kind=values["type"],
            actor=user.actor,
        )
    except (InvalidInput, Conflict) as exc:
        errors = _errors(exc) if isinstance(exc, InvalidInput) else {"name": str(exc)}
        return _editor(
            request, user, None, values, order, status=422, errors=errors, refused=say(exc)
        )
    return redirect(
        _with_order(template_url(made.id), order),
        f"Added the email template {made.name}. It is sent once a PO line status has it: "
        "choose it for a status on System data.",
        request=request,
    )


@router.post("/preview")
async def live_preview(request: Request, user: Admin, form: Form) -> JSONResponse:
    """The preview of the template as typed, for the editor's script."""
    values = _values(form)
    shown = await in_long_thread(
        request,
        preview,
        context_of(request),
        values["type"],
        _source(values),
        _order(form.get("order")),
    )
    return JSONResponse(shown.as_dict())


@router.get("/{template_id:int}")
async def edit_page(
    request: Request,
    user: Viewer,
    template_id: int,
    order: Annotated[str | None, Query(max_length=110)] = None,
) -> HTMLResponse:
    return await in_long_thread(request, _edit_page, request, user, template_id, order)


def _edit_page(
    request: Request, user: WebUser, template_id: int, order: str | None
) -> HTMLResponse:
    ctx = context_of(request)
    view = templates.get_template_by_id(ctx, template_id)
    chosen = _default_order(ctx) if order is None else order.strip()
    return _editor(request, user, view, _as_values(view), chosen)


@router.post("/{template_id:int}")
async def save(request: Request, user: Admin, form: Form, template_id: int) -> Response:
    return await in_long_thread(request, _save, request, user, form, template_id)


def _save(request: Request, user: WebUser, form: FormData, template_id: int) -> Response:
    ctx = context_of(request)
    view = templates.get_template_by_id(ctx, template_id)
    values, order = _values(form) | {"type": view.type}, _order(form.get("order"))
    if form.get("intent") == "preview":
        return _editor(request, user, view, values, order)
    try:
        saved = templates.edit_template(
            ctx,
            view.name,
            new_name=values["name"],
            subject=values["subject"],
            body_text=values["body_text"],
            body_html=_html(values) or "",  # "" removes the HTML body
            actor=user.actor,
        )
    except (InvalidInput, Conflict) as exc:
        errors = _errors(exc) if isinstance(exc, InvalidInput) else {"name": str(exc)}
        return _editor(
            request, user, view, values, order, status=422, errors=errors, refused=say(exc)
        )
    return redirect(
        _with_order(template_url(saved.id), order),
        f"Saved the email template {saved.name}. Emails queued already keep the text "
        "they were written with.",
        request=request,
    )


def _with_order(url: str, order: str) -> str:
    return f"{url}?{urlencode({'order': order})}" if order else url
