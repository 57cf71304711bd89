"""The API's JSON shapes. Create and update shapes wrap services/common/inputs.py, so the
validation rules live in one place; read shapes are built from the services' views.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from bopo.domain.roles import Role
from bopo.services.common import inputs
from bopo.services.common.pages import Page as ServicePage

T = TypeVar("T")


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(_Read, Generic[T]):
    """One page of a list; ask for the next with `offset=next_offset`."""

    items: list[T]
    total: int = Field(
        description="How many match, in all pages; with `total_capped`, more than this many"
    )
    total_capped: bool = Field(
        default=False,
        description="The count stopped 10,000 rows past this page rather than read every match",
    )
    limit: int
    offset: int
    next_offset: int | None = Field(description="The next page's offset; null on the last page")
    next_after: int | None = Field(
        default=None,
        description="For a list in id order: give it as `after` (with `next_offset`) for the "
        "next page, found by id however deep; null on the last page",
    )


def page_of(page: ServicePage[Any]) -> dict[str, Any]:
    """The service's page as the API gives it: with the next page's offset."""
    end = page.offset + len(page.items)
    return {
        "items": page.items,
        "total": page.total,
        "total_capped": page.total_capped,
        "limit": page.limit,
        "offset": page.offset,
        "next_offset": end if page.has_next else None,
        "next_after": page.next_after,
    }


class StockItemCreate(inputs.NewStockItem):
    """A new stock item."""


class StockItemUpdate(BaseModel):
    """New name and/or a stock count; what is left out stays as it is."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: inputs.Name | None = None
    on_hand: inputs.StockQty | None = None


class StatusCreate(BaseModel):
    """A PO line status; the code is upper-cased."""

    model_config = ConfigDict(extra="forbid")

    code: inputs.Source
    name: inputs.Name


class StatusRename(BaseModel):
    """Another name for a PO line status (its code stays)."""

    model_config = ConfigDict(extra="forbid")

    name: inputs.Name


# --- purchase orders -------------------------------------------------------------------


class PurchaseOrderCreate(inputs.NewPurchaseOrder):
    """A new purchase order with its lines; refused whole if any line is bad."""


class SalesOrderCreate(inputs.NewSalesOrder):
    """A new sales order. Lines may leave out line_no (all of them): they are numbered
    1, 2, ... The same source + number again changes nothing and returns the order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "source": "web",
                    "number": "W-9001",
                    "customer": {
                        "code": "C-ADA",
                        "name": "Ada Lovelace",
                        "email": "ada@example.com",
                    },
                    "order_date": "2026-11-25",
                    "delivery_date": "2026-11-30",
                    "lines": [
                        {"line_no": 1, "sku": "KET-01", "qty": 2},
                        {"line_no": 2, "sku": "PAN-28", "qty": 1},
                    ],
                    "priority": "normal",
                }
            ]
        }
    )


class LinkedPartRead(_Read):
    po_number: str
    po_line_no: int
    qty: int
    expected: date | None
    overdue: bool = Field(
        False, description="The due date is past: no date is promised until the supplier's"
    )


class LineOutcomeRead(_Read):
    line_no: int
    sku: str
    qty: int
    outcome: Literal["from stock", "linked", "skipped", "cancelled"]
    from_stock: int
    linked_qty: int
    po_number: str | None
    po_line_no: int | None
    expected: date | None = Field(description="When the linked PO line is due")
    overdue: bool = Field(False, description="Linked to a PO line whose due date is past")
    skipped: str | None = Field(description="Why the line waits on the worklist")
    waiting: int
    shipped: int
    cancelled: int
    parts: list[LinkedPartRead] = Field(
        default_factory=list,
        description="Each PO line the line is linked to; several when it is split",
    )


class ImportIssueRead(BaseModel):
    field: str
    message: str
    row: int | None = None
    order_number: str | None = None
    path: str | None = None


class DifferenceRead(BaseModel):
    """One way an order given again differs from the order as taken (None: no such line)."""

    field: str = Field(
        description="customer, order_date, delivery_date, line N sku, line N qty or line N"
    )
    taken: str | None
    given: str | None


class ChangedOrderRead(BaseModel):
    """An order taken before, given again with other content: nothing of it changed."""

    source: str
    order_number: str
    row: int | None = None
    path: str | None = None
    differences: list[DifferenceRead]


class SalesOrderImportRead(BaseModel):
    """The same summary `bopo import sales-orders --json` prints. `ok` is false when an
    order was rejected or came again changed."""

    kind: str
    file: str
    ok: bool
    read_as: dict[str, str] = Field(
        default_factory=dict,
        description="How the file was read: format (and whether detected), encoding, delimiter",
    )
    orders_taken: int
    orders_duplicate: int
    orders_changed: int
    orders_rejected: int
    lines_from_stock: int
    lines_linked: int
    lines_skipped: dict[str, int]
    errors: list[ImportIssueRead]
    warnings: list[str]
    changed: list[ChangedOrderRead]


# --- the worklist ----------------------------------------------------------------------


class MeRead(_Read):
    name: str
    role: Role
    token_id: int | None


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


SettingsRead = dict[str, dict[str, Any]]
