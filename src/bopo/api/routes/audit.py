"""The audit trail (admins)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from bopo.api.deps import Admin, CtxDep, PagingDep
from bopo.api.errors import responses
from bopo.api.schemas import Page, page_of
from bopo.services.admin import audit
from bopo.services.admin.audit import AuditRow

router = APIRouter(prefix="/audit", tags=["audit"], responses=responses(401, 403, 422))
Text = Annotated[str | None, Query(max_length=64)]


@router.get("", response_model=Page[AuditRow])
def list_audit(
    ctx: CtxDep,
    _: Admin,
    paging: PagingDep,
    actor: Annotated[str | None, Query(max_length=64, description="Part of who did it")] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="An action, or its group: email")
    ] = None,
    entity: Annotated[
        str | None, Query(max_length=32, description="A kind: sales_order, po_line, ...")
    ] = None,
    entity_id: Annotated[int | None, Query(ge=0, le=2_000_000_000)] = None,
    since: Annotated[date | None, Query(description="From this day (UTC), inclusive")] = None,
    until: Annotated[date | None, Query(description="To this day (UTC), inclusive")] = None,
) -> dict[str, object]:
    """Every change, newest first: who made it, when, before and after."""
    page = audit.find_audit(
        ctx,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        since=since,
        until=until,
        limit=paging.limit,
        offset=paging.offset,
        after=paging.after,
    )
    return page_of(page)
