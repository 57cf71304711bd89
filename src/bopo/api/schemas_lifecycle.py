"""The API's request shapes for what happens after intake: goods in, supply and demand
changes, manual links and despatch (answers are the services' own results).
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bopo.services.common import inputs

Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
ReducedQty = Annotated[inputs.StockQty, Field(le=inputs.MAX_QTY)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PoLineUpdate(_Body):
    """A new ordered quantity, due date and/or status; what is left out stays.

    Quantity and due date change together in one transaction; a status given
    with them is set in a second one, after them, so the emails it queues
    announce the links that still fit, with the new due date. An unknown
    status refuses the whole request before anything changes.
    """

    qty: inputs.Qty | None = Field(
        default=None,
        description="The new ordered quantity; links that no longer fit are released",
    )
    due_date: inputs.OptionalIsoDate = Field(
        default=None, description="The new due date; null clears it"
    )
    status: Annotated[str, Field(min_length=1, max_length=40)] | None = Field(
        default=None,
        description="A PO line status code; its BACK_ORDER template emails each linked customer",
    )

    @field_validator("status")
    @classmethod
    def _not_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("a PO line's status can be changed, not removed")
        return value

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.qty is None and self.status is None and "due_date" not in self.model_fields_set:
            raise ValueError("give qty, due_date, status or several of them")
        return self

    @property
    def due_date_given(self) -> bool:
        return "due_date" in self.model_fields_set


class ReceiptCreate(_Body):
    """Goods received on a PO line."""

    qty: inputs.Qty


class SoLineUpdate(_Body):
    """A sales-order line's new quantity in all (shipped units included); it can only go down."""

    qty: ReducedQty


class ShipmentCreate(_Body):
    """The lines to ship; left out or null: every line with stock assigned."""

    lines: Annotated[list[inputs.LineNo], Field(min_length=1, max_length=1000)] | None = None


class AssociationCreate(_Body):
    """Link a worklist line's whole backorder quantity to a PO line of the same item."""

    so_line_id: Id = Field(description="The worklist line (`so_line_id` in /api/backorders)")
    po_number: inputs.Code
    po_line_no: inputs.LineNo
    relink: bool = Field(
        default=False,
        description="A linked line (late supply, say): unlink it and link it here in one "
        "transaction",
    )
