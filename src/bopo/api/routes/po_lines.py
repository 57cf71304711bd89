"""Open PO lines with the sales-order lines linked to each: a list to export."""

from __future__ import annotations

from datetime import date
from itertools import islice
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from bopo.api.deps import CtxDep, PagingDep, Viewer
from bopo.api.errors import responses
from bopo.api.exports import EXPORT_RESPONSES, file_response, wanted
from bopo.services.files import exports

router = APIRouter(prefix="/po-lines", tags=["purchase orders"], responses=responses(401, 403))


@router.get("", responses=responses(422) | EXPORT_RESPONSES)
def list_open_po_lines(
    ctx: CtxDep,
    _: Viewer,
    paging: PagingDep,
    request: Request,
    supplier: Annotated[str | None, Query(max_length=64, description="Supplier code")] = None,
    sku: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=64, description="PO line status code")] = None,
    number: Annotated[str | None, Query(max_length=64, description="PO number")] = None,
    due_before: date | None = None,
) -> Any:
    """Open PO lines, oldest first, one row per sales-order line linked to each.

    JSON: `limit` rows from `offset`, as objects named like the export's columns.
    With `Accept: text/csv` (or the .xlsx type): every row, as a file."""
    fmt = wanted(request)
    export = exports.po_lines_export(
        ctx,
        supplier=supplier,
        sku=sku,
        status=status,
        number=number,
        due_before=due_before,
        rows=None if fmt is not None else paging.offset + paging.limit,
    )
    if fmt is not None:
        return file_response(ctx, export, fmt)
    rows = islice(export.rows, paging.offset, paging.offset + paging.limit)
    return {"items": [dict(zip(export.columns, r, strict=True)) for r in rows]}
