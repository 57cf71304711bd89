"""Downloads: each list page's rows, with the page's filters, as CSV or .xlsx."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from bopo.api.exports import file_response
from bopo.services.files import exports
from bopo.web.session import Viewer, context_of

router = APIRouter(prefix="/export", include_in_schema=False)


@router.get("/{name}")
def download(
    request: Request,
    user: Viewer,
    name: str,
    format: Annotated[str, Query(pattern="^(csv|xlsx)$")] = "csv",
) -> Response:
    """The whole list, every page of it, filtered as the page was (its query string)."""
    ctx = context_of(request)
    filters = {k: v for k, v in request.query_params.items() if k != "format"}
    if name == "emails" and filters.get("state") == "all":
        filters.pop("state")
    export = exports.build(ctx, name, filters)
    return file_response(ctx, export, "xlsx" if format == "xlsx" else "csv")
