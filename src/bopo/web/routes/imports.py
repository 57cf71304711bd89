"""Import: upload a CSV or JSON file and see what each row or order came to."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile

from bopo.config import Settings
from bopo.domain.roles import Role, allows
from bopo.errors import InvalidInput
from bopo.services.files import formats, imports
from bopo.services.files.formats.detect import choose as choose_format
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
    return _page(request, user, "sales-orders", "")


def _page(
    request: Request, user: Operator, kind: str, fmt: str, status: int = 200, **shown: Any
) -> HTMLResponse:
    """The import page: the form as it was filled in, with a report or an error if any."""
    return render(
        request,
        "import.html",
        status,
        section="import",
        kinds=_kinds(user.role),
        kind=kind,
        formats=_formats(request),
        format=fmt,
        **({"summary": None, "error": None} | shown),
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
    if kind not in _kinds(user.role):
        return _page(request, user, kind, fmt, 422, error="Choose what the file holds.")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, user, kind, fmt, 422, error="Choose a file to import.")
    name = Path(upload.filename).name
    ctx = context_of(request)
    problem = _refusal(name, kind, fmt, ctx.settings)
    if problem is not None:
        return _page(request, user, kind, fmt, 422, error=problem)

    def save_and_import() -> Any:
        """The report, or None for a file over the limit."""
        with tempfile.TemporaryDirectory(prefix="bopo-import-") as folder:
            path = Path(folder) / f"upload{Path(name).suffix.lower()}"
            if not _saved(upload, path):
                return None
            if kind == "sales-orders":
                return formats.import_orders(
                    ctx, path, format=fmt or None, actor=user.actor, name=name
                )
            return KINDS[kind][2](ctx, path, actor=user.actor)

    summary = await in_long_thread(request, save_and_import)
    if summary is None:
        error = f"{name} is over {MAX_UPLOAD_BYTES // 1024 // 1024} MB."
        return _page(request, user, kind, fmt, 413, error=error)
    return _page(request, user, kind, fmt, summary=summary, file=name)


def _refusal(name: str, kind: str, fmt: str, settings: Settings) -> str | None:
    """Why a file of this name cannot be imported as `kind` in `fmt`, if it cannot."""
    sales_orders = kind == "sales-orders"
    allowed = {".csv", ".json"} | ({".tsv", ".txt", ".xlsx"} if sales_orders else set())
    if Path(name).suffix.lower() not in allowed:
        return f"{name}: the file must end in {', '.join(sorted(allowed))}."
    if sales_orders and fmt:
        try:
            choose_format(fmt, settings)
        except InvalidInput as exc:
            return str(exc.errors[0].message)
    return None


def _saved(upload: UploadFile, path: Path) -> bool:
    """Write the upload to `path`, a chunk at a time; False once it is over the limit."""
    written = 0
    with path.open("wb") as out:
        while chunk := upload.file.read(1024 * 1024):
            written += len(chunk)
            if written > MAX_UPLOAD_BYTES:
                return False
            out.write(chunk)
    return True
