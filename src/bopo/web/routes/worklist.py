"""The backorder worklist: each waiting line with the PO lines that could take it,
linking by hand (one click, or the chosen lines at once) and retrying allocation.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from bopo.domain.records import SalesLineRef
from bopo.domain.statuses import SkipReason
from bopo.errors import FieldError, InvalidInput
from bopo.services.worklist import backorders, manual_links
from bopo.services.worklist.manual_links import LinkRequest
from bopo.web import messages
from bopo.web.forms import act, query_date, text, whole
from bopo.web.render import PAGE_SIZES, page_size, pager, render
from bopo.web.session import Form, Operator, Viewer, context_of
from bopo.web.urls import local_path

router = APIRouter(prefix="/worklist", include_in_schema=False)
PAGE_SIZE = 50
SHOWN_CANDIDATES = 3
REASONS = [r.value for r in SkipReason]
Text = Annotated[str | None, Query(max_length=64)]


@router.get("")
def list_page(
    request: Request,
    user: Viewer,
    reason: Annotated[str | None, Query(max_length=64)] = None,
    sku: Text = None,
    customer: Text = None,
    source: Annotated[str | None, Query(max_length=40)] = None,
    delivery_to: Annotated[str | None, Query(max_length=10)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    size: Annotated[int, Query(ge=1, le=100)] = PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> HTMLResponse:
    page = manual_links.find_candidates(
        context_of(request),
        reason=reason if reason in REASONS else None,
        sku=sku or None,
        customer=customer or None,
        source=source or None,
        delivery_to=query_date(delivery_to),
        q=q or None,
        limit=page_size(size),
        offset=offset,
        after=after,
    )
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return render(
        request,
        "worklist.html",
        section="worklist",
        page=page,
        pager=pager(page),
        reasons=REASONS,
        shown=SHOWN_CANDIDATES,
        back=here,
        pick=_pick,
        filters={
            "reason": reason or "",
            "sku": sku or "",
            "customer": customer or "",
            "source": source or "",
            "delivery_to": delivery_to or "",
            "q": q or "",
        },
        sizes=PAGE_SIZES,
    )


def _pick(line: SalesLineRef, po_number: str, po_line_no: int) -> str:
    """A checkbox's value: the line and the PO line chosen for it."""
    return json.dumps([line.source, line.number, line.line_no, po_number, po_line_no])


def _back(form: FormData) -> str:
    back = form.get("back")
    return local_path(back if isinstance(back, str) else None, "/worklist")


@router.post("/link")
def link(request: Request, user: Operator, form: Form) -> RedirectResponse:
    """One click: link a line to the PO line shown next to it (a late line: re-link it
    there, unlinked and linked in one go)."""
    ctx = context_of(request)
    day = request.app.state.web_env.filters["day"]

    def run() -> str:
        result = manual_links.link_line(
            ctx,
            text(form, "number", max_length=64),
            whole(form, "line_no", high=100_000),
            text(form, "po_number", max_length=64),
            whole(form, "po_line_no", high=100_000),
            source=text(form, "source", max_length=40),
            relink=form.get("relink") == "yes",
            actor=user.actor,
        )
        return messages.link(result, day)

    return act(request, _back(form), run)


@router.post("/link-selected")
def link_selected(request: Request, user: Operator, form: Form) -> RedirectResponse:
    """The ticked lines, each to the PO line ticked for it; each refusal said with its reason."""
    ctx = context_of(request)

    def run() -> str:
        requests = []
        for raw in form.getlist("pick")[:500]:
            try:
                source, number, line_no, po_number, po_line_no = json.loads(str(raw))
                requests.append(
                    LinkRequest(
                        SalesLineRef(str(source), str(number), int(line_no)),
                        str(po_number),
                        int(po_line_no),
                    )
                )
            except (ValueError, TypeError):
                raise InvalidInput([FieldError("pick", "not a line and PO line")]) from None
        if not requests:
            raise InvalidInput([FieldError("lines", "tick at least one line to link")])
        return messages.link_batch(manual_links.link_lines(ctx, requests, actor=user.actor))

    return act(request, _back(form), run)


@router.post("/retry")
def retry(request: Request, user: Operator, form: Form) -> RedirectResponse:
    """Offer every waiting line free stock, then a PO line, oldest delivery date first."""
    ctx = context_of(request)
    return act(
        request,
        _back(form),
        lambda: messages.retry(backorders.allocate_worklist(ctx, actor=user.actor)),
    )
