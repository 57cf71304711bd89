"""The audit trail (admins): every change, filtered by who, what, which kind and when."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from bopo.services.admin import audit
from bopo.web.forms import query_date
from bopo.web.render import pager, render
from bopo.web.session import Admin, context_of

router = APIRouter(prefix="/audit", include_in_schema=False)
PAGE_SIZE = 50
Text = Annotated[str | None, Query(max_length=64)]


@router.get("")
def audit_page(
    request: Request,
    user: Admin,
    actor: Text = None,
    action: Text = None,
    entity: Text = None,
    entity_id: Annotated[int | None, Query(ge=0)] = None,
    since: Annotated[str | None, Query(max_length=10)] = None,
    until: Annotated[str | None, Query(max_length=10)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> HTMLResponse:
    page = audit.find_audit(
        context_of(request),
        actor=actor or None,
        action=action or None,
        entity=entity if entity in audit.ENTITIES else None,
        entity_id=entity_id,
        since=query_date(since),
        until=query_date(until),
        limit=PAGE_SIZE,
        offset=offset,
        after=after,
    )
    return render(
        request,
        "audit.html",
        section="audit",
        page=page,
        pager=pager(page),
        entities=audit.ENTITIES,
        filters={
            "actor": actor or "",
            "action": action or "",
            "entity": entity if entity in audit.ENTITIES else "",
            "since": since or "",
            "until": until or "",
        },
    )
