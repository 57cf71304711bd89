"""Import: upload a CSV or JSON file and see what each row or order came to."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile

from bopo.domain.roles import Role, allows
from bopo.errors import InvalidInput
from bopo.services import formats, imports
from bopo.services.formats.detect import choose as choose_format
from bopo.threads import in_long_thread
from bopo.web.render import render
from bopo.web.session import Form, Operator, context_of

router = APIRouter(prefix="/import", include_in_schema=False)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# kind -> (label, the least role, the import)
KINDS = {
    "sales-orders": ("Sales orders", Role.OPERATOR, formats.import_orders),
    "purchase-orders": ("Purchase orders", Role.OPERATOR, imports.import_purchase_orders),
    "stock-items": ("Stock items (a stock count)", Role.ADMIN, imports.import_stock_items),
}


def _kinds(role: Role) -> dict[str, str]:
    return {k: label for k, (label, least, _) in KINDS.items() if allows(role, least)}


@router.get("")
def upload_page(request: Request, user: Operator) -> HTMLResponse:
    return render(
        request,
        "import.html",
        section="import",
        kinds=_kinds(user.role),
        kind="sales-orders",
        summary=None,
        error=None,
        formats=_formats(request),
        format="",
    )


def _formats(request: Request) -> dict[str, str]:
    """The choices of the sales-order format field: detected, the built-in ones, profiles."""
    profiles = [n for n in context_of(request).settings.formats if n not in ("shopify", "amazon")]
    return {
        "": "Found from the header",
        "bopo": "bopo",
        "shopify": "Shopify orders export",
        "amazon": "Amazon order report",
    } | {f"mapped:{n}": f"Mapped: {n}" for n in profiles}


@router.post("")
async def upload(request: Request, user: Operator, form: Form) -> HTMLResponse:
    """Run the import on the file sent and show its report on the page."""
    kind = str(form.get("kind") or "")
    fmt = str(form.get("format") or "")
    upload = form.get("file")

    def again(error: str, status: int) -> HTMLResponse:
        return render(
            request,
            "import.html",
            status,
            section="import",
            kinds=_kinds(user.role),
            kind=kind,
            summary=None,
            error=error,
            formats=_formats(request),
            format=fmt,
        )

    if kind not in _kinds(user.role):
        return again("Choose what the file holds.", 422)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return again("Choose a file to import.", 422)
    name = Path(upload.filename).name
    suffix = Path(name).suffix.lower()
    sales_orders = kind == "sales-orders"
    allowed = {".csv", ".json"} | ({".tsv", ".txt", ".xlsx"} if sales_orders else set())
    if suffix not in allowed:
        return again(f"{name}: the file must end in {', '.join(sorted(allowed))}.", 422)
    ctx, run = context_of(request), KINDS[kind][2]
    if sales_orders and fmt:
        try:
            choose_format(fmt, ctx.settings)
        except InvalidInput as exc:
            return again(str(exc.errors[0].message), 422)

    def save_and_import() -> Any:
        """The report, or None for a file over the limit."""
        with tempfile.TemporaryDirectory(prefix="bopo-import-") as folder:
            path = Path(folder) / f"upload{suffix}"
            written = 0
            with path.open("wb") as out:
                while chunk := upload.file.read(1024 * 1024):
                    written += len(chunk)
                    if written > MAX_UPLOAD_BYTES:
                        return None
                    out.write(chunk)
            if sales_orders:
                return formats.import_orders(
                    ctx, path, format=fmt or None, actor=user.actor, name=name
                )
            return run(ctx, path, actor=user.actor)

    summary = await in_long_thread(request, save_and_import)
    if summary is None:
        return again(f"{name} is over {MAX_UPLOAD_BYTES // 1024 // 1024} MB.", 413)
    return render(
        request,
        "import.html",
        section="import",
        kinds=_kinds(user.role),
        kind=kind,
        summary=summary,
        file=name,
        error=None,
        formats=_formats(request),
        format=fmt,
    )
