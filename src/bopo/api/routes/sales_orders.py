"""Sales orders: take one (with allocation), import a file, list, show; change its
priority, cancel an order or a line, reduce a line, ship."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Form, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from pydantic import TypeAdapter

from bopo.api.deps import CtxDep, Operator, PagingDep, Viewer
from bopo.api.errors import ApiProblem, ProblemField, responses
from bopo.api.exports import EXPORT_RESPONSES, file_response, wanted
from bopo.api.schemas import Page, SalesOrderCreate, SalesOrderImportRead, page_of
from bopo.api.schemas_lifecycle import ShipmentCreate, SoLineUpdate
from bopo.api.schemas_promise import SalesOrderUpdate
from bopo.domain.statuses import Priority, SalesOrderStatus
from bopo.errors import InvalidInput
from bopo.services.common.lookup import OrderKey, sales_order_key
from bopo.services.files import exports, formats, imports
from bopo.services.files.formats.detect import choose as choose_format
from bopo.services.orders import demand_changes, despatch, intake, sales
from bopo.services.orders.demand_changes import DemandChangeResult
from bopo.services.orders.despatch import Shipment
from bopo.services.orders.outcomes import OrderResult, OrderStatus
from bopo.services.orders.sales import PriorityChange, SalesOrderSummary, SalesOrderView
from bopo.threads import in_long_thread

router = APIRouter(
    prefix="/sales-orders", tags=["sales orders"], responses=responses(401, 403, 422)
)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
_SUFFIX = {
    "text/csv": ".csv",
    "application/json": ".json",
    "text/tab-separated-values": ".tsv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}
_SUFFIXES = {".csv", ".json", ".tsv", ".txt", ".xlsx"}
OrderId = Annotated[int, PathParam(ge=1, le=2_147_483_647, description="The order's id")]
LineNo = Annotated[int, PathParam(ge=1, le=100_000, description="The line's number")]
Text = Annotated[str | None, Query(max_length=64)]


# The order's result as JSON, written where the order was taken: returning a Response
# spares FastAPI validating the result again on another trip through the request threads,
# where it would queue behind the orders waiting to be taken. `response_model` keeps the
# schema; the bytes are those FastAPI would write (pydantic's JSON, by alias).
_RESULT_JSON = TypeAdapter(OrderResult)


@router.post(
    "",
    status_code=201,
    response_model=OrderResult,
    responses=responses(409)
    | {200: {"model": OrderResult, "description": "Exists already; nothing changed"}},
)
def create_sales_order(
    ctx: CtxDep, user: Operator, body: SalesOrderCreate, request: Request
) -> Response:
    """Take a sales order: stock first, then a PO line per backorder line; the outcome per line.

    201 when taken; 200 with the order as it stands when the same order was taken
    before (nothing changes); 409 naming each difference when the same source and
    number was taken with other content (nothing changes: amend an order with its
    change operations); 422 with each problem (an unknown SKU...).
    """
    with request.app.state.metrics.timed_intake():
        result = intake.take_order(ctx, body, actor=user.actor)
    request.app.state.metrics.count_order(result)
    if result.status is OrderStatus.REJECTED:
        raise InvalidInput(result.errors)
    if result.status is OrderStatus.CHANGED:
        raise ApiProblem(
            409,
            f"{result.source}/{result.number} was taken before with other content; "
            "nothing changed (amend it with the order's change operations)",
            kind="changed",
            headers={"Location": f"/api/sales-orders/{result.id}"},
            errors=[ProblemField(field=d.field, message=str(d)) for d in result.differences],
        )
    return Response(
        _RESULT_JSON.dump_json(result, by_alias=True),
        status_code=200 if result.status is OrderStatus.DUPLICATE else 201,
        media_type="application/json",
        headers={"Location": f"/api/sales-orders/{result.id}"},
    )


@router.post("/import", responses=responses(413))
async def import_sales_orders(
    ctx: CtxDep,
    user: Operator,
    file: UploadFile,
    request: Request,
    format: Annotated[
        str | None,
        Form(
            max_length=60,
            description="bopo, shopify, amazon or mapped:PROFILE; found from the header if empty",
        ),
    ] = None,
) -> SalesOrderImportRead:
    """Take the orders in a file, in file order: the same summary as the CLI.

    bopo's CSV or JSON, Shopify's orders export, an Amazon order report, or a file
    a mapping profile reads (CSV or .xlsx). Each bad order is reported with its
    place and the good ones are taken; a file that cannot be read at all is
    refused with 422.
    """
    name = Path(file.filename or "upload").name
    suffix = Path(name).suffix.lower()
    if suffix not in _SUFFIXES:
        suffix = _SUFFIX.get((file.content_type or "").split(";")[0].strip(), ".csv")
    choose_format(format, ctx.settings)  # an unknown format: 422 before the upload

    def save_and_import() -> imports.ImportSummary:
        with tempfile.TemporaryDirectory(prefix="bopo-import-") as folder:
            path = Path(folder) / f"upload{suffix}"
            _save(file, path)
            return formats.import_orders(ctx, path, format=format, actor=user.actor, name=name)

    summary = await in_long_thread(request, save_and_import)
    data = summary.as_dict() | {"file": name}
    unreadable = [e for e in summary.errors if e.field == "file"]
    if unreadable:
        raise ApiProblem(
            422,
            f"{name}: the file cannot be read",
            kind="validation",
            errors=[ProblemField(field="file", message=e.message) for e in unreadable],
        )
    return SalesOrderImportRead.model_validate(data)


def _save(file: UploadFile, path: Path) -> None:
    """Copy the upload to a file, refusing it once it passes the size limit."""
    written = 0
    with path.open("wb") as out:
        while chunk := file.file.read(1024 * 1024):
            written += len(chunk)
            if written > MAX_UPLOAD_BYTES:
                raise ApiProblem(
                    413, f"the file is over {MAX_UPLOAD_BYTES} bytes", kind="too-large"
                )
            out.write(chunk)


@router.get("", response_model=Page[SalesOrderSummary], responses=EXPORT_RESPONSES)
def find_sales_orders(
    ctx: CtxDep,
    _: Viewer,
    request: Request,
    paging: PagingDep,
    status: SalesOrderStatus | None = None,
    source: Annotated[str | None, Query(max_length=40)] = None,
    number: Text = None,
    customer: Annotated[str | None, Query(max_length=64, description="Customer code")] = None,
    sku: Annotated[str | None, Query(max_length=64, description="Has a line of this SKU")] = None,
    ordered_from: date | None = None,
    ordered_to: date | None = None,
    delivery_from: date | None = None,
    delivery_to: date | None = None,
    waiting: Annotated[
        bool | None, Query(description="true: has a line on the backorder worklist")
    ] = None,
    priority: Priority | None = None,
) -> Any:
    """Sales orders, newest first; date ranges are inclusive.

    With `Accept: text/csv` every order the filters keep, as a file (with
    `waiting=true`: the sales orders waiting on the worklist)."""
    filters: dict[str, Any] = {
        "status": status.value if status else None,
        "source": source,
        "number": number,
        "customer": customer,
        "sku": sku,
        "ordered_from": ordered_from,
        "ordered_to": ordered_to,
        "delivery_from": delivery_from,
        "delivery_to": delivery_to,
        "waiting": waiting,
        "priority": priority.value if priority else None,
    }
    fmt = wanted(request)
    if fmt is not None:
        return file_response(ctx, exports.waiting_orders_export(ctx, **filters), fmt)
    page = sales.find_sales_orders(
        ctx, **filters, limit=paging.limit, offset=paging.offset, after=paging.after
    )
    return page_of(page)


@router.get("/{order_id}", responses=responses(404))
def get_sales_order(ctx: CtxDep, _: Viewer, order_id: OrderId) -> SalesOrderView:
    """One sales order and where each line stands."""
    return sales.get_sales_order(ctx, order_id)


def _order(ctx: CtxDep, order_id: OrderId) -> OrderKey:
    # The changes below name an order by source and number, which never change.
    return sales_order_key(ctx, order_id)


# Declared after the caller's role, so a request without the role never learns what exists.
Order = Annotated[OrderKey, Depends(_order)]


@router.patch("/{order_id}", responses=responses(404))
def update_sales_order(
    ctx: CtxDep, user: Operator, order: Order, body: SalesOrderUpdate
) -> PriorityChange:
    """Change an order's priority; nothing moves at once, the next allocation serves it so."""
    change = sales.set_order_priority(
        ctx, order.number, body.priority.value, source=order.source, actor=user.actor
    )
    return change


@router.post("/{order_id}/cancel", responses=responses(404, 409))
def cancel_sales_order(ctx: CtxDep, user: Operator, order: Order) -> DemandChangeResult:
    """Cancel an order: its stock and quantity on order are offered to waiting lines."""
    result = demand_changes.cancel_sales_order(
        ctx, order.number, source=order.source, actor=user.actor
    )
    return result


@router.post("/{order_id}/lines/{line_no}/cancel", responses=responses(404, 409))
def cancel_so_line(
    ctx: CtxDep, user: Operator, order: Order, line_no: LineNo
) -> DemandChangeResult:
    """Cancel one line: its stock and quantity on order are offered to waiting lines."""
    result = demand_changes.cancel_so_line(
        ctx, order.number, line_no, source=order.source, actor=user.actor
    )
    return result


@router.patch("/{order_id}/lines/{line_no}", responses=responses(404, 409))
def update_so_line(
    ctx: CtxDep, user: Operator, order: Order, line_no: LineNo, body: SoLineUpdate
) -> DemandChangeResult:
    """Reduce a line to `qty` in all: what is not in stock yet goes first, then its stock."""
    result = demand_changes.change_so_line_qty(
        ctx, order.number, line_no, body.qty, source=order.source, actor=user.actor
    )
    return result


@router.post("/{order_id}/ship", responses=responses(404, 409))
def ship_sales_order(
    ctx: CtxDep,
    user: Operator,
    order: Order,
    body: Annotated[ShipmentCreate | None, Body()] = None,
) -> Shipment:
    """Ship the assigned stock of an order's lines (all, or those given): on-hand goes down."""
    shipment = despatch.ship(
        ctx,
        order.number,
        source=order.source,
        line_nos=body.lines if body else None,
        actor=user.actor,
    )
    return shipment
