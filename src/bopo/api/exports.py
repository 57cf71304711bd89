"""A list route answers `Accept: text/csv` (or .xlsx's type) with the whole list, streamed."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from bopo.services.context import Context
from bopo.services.files import exports
from bopo.services.files.exports import Export, ExportFormat

# What the list routes say in OpenAPI besides their JSON page.
EXPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            exports.XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "The page as JSON; with `Accept: text/csv` (or the .xlsx type) the "
        "whole list, every page, filters applied, as a file",
    }
}


def wanted(request: Request) -> ExportFormat | None:
    """The file format the client asks for, or None for the JSON page."""
    accept = request.headers.get("accept", "").lower()
    if "text/csv" in accept:
        return "csv"
    if exports.XLSX_TYPE in accept:
        return "xlsx"
    return None


def file_response(ctx: Context, export: Export, fmt: ExportFormat) -> Response:
    name = export.filename(fmt, ctx.clock().date())
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "xlsx":
        return Response(exports.xlsx_bytes(export), media_type=exports.XLSX_TYPE, headers=headers)
    return StreamingResponse(
        exports.csv_chunks(export), media_type=exports.CSV_TYPE, headers=headers
    )
