"""The API's JSON shapes for keeping the promise: why a line got what it got (explain),
what a change would do before it is made (what-if), and an order's priority.

What-if answers are the service's WhatIf itself. Explain keeps read shapes of its own:
the API names a candidate's free quantity `free_on_order` where the CLI's JSON (the
service's result) says `free`; they are filled from `to_json(OrderExplanation)`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from bopo.api.schemas import LineOutcomeRead
from bopo.domain.statuses import Priority
from bopo.services.common import inputs

PriorityName = Literal["low", "normal", "high", "urgent"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- priority --------------------------------------------------------------------------


class SalesOrderUpdate(_Body):
    """A sales order's new priority."""

    priority: Priority = Field(
        description="Urgent orders are served first, then high, normal and low; "
        "each by delivery date"
    )


class SeenPoLineRead(_Read):
    """An open PO line a decision looked at, as it was at that moment."""

    po_line: str = Field(description="e.g. `PO-2 line 1`")
    po_number: str | None = Field(description="null if the PO line is no longer found")
    po_line_no: int | None
    due_date: date | None = Field(description="Its due date then")
    free_on_order: int = Field(
        validation_alias=AliasChoices("free_on_order", "free"),
        description="Its free on order then (goods in: the quantity received)",
    )
    taken: int = Field(description="What the decision linked to it (goods in: what the line got)")
    chosen: bool


class DecisionRead(_Read):
    """One allocation decision: what it looked at, what it chose, or why it chose nothing."""

    at: datetime
    kind: Literal["intake", "worklist", "manual_link", "reallocation", "goods_in"]
    policy: str | None = Field(
        description="earliest_due, oldest_first or best_fit; null at goods in"
    )
    split_allowed: bool
    need: int = Field(description="The backorder quantity to place (goods in: what it waited for)")
    from_stock: int = Field(description="Taken from free stock")
    reason: str | None = Field(description="Why nothing was linked, if nothing was")
    candidates: list[SeenPoLineRead] = Field(
        description="The chosen first, then those that also fitted, then the others (at most 8)"
    )
    considered: int = Field(description="How many open PO lines it looked at")
    text: str = Field(description="The decision in words")


class LineExplanationRead(LineOutcomeRead):
    now: str = Field(description="Where the line stands, in words")
    decisions: list[DecisionRead] = Field(description="Oldest first")
    text: str = Field(description="Where it stands and each decision, in words")


class ExplanationRead(_Read):
    """Why each line of a sales order got what it got."""

    id: int
    source: str
    number: str
    priority: PriorityName
    delivery_date: date
    lines: list[LineExplanationRead]


# --- what-if ---------------------------------------------------------------------------


class WhatIfDueDate(_Body):
    """The due date the PO line would get; null: no date."""

    due_date: inputs.OptionalIsoDate = Field(description="YYYY-MM-DD, or null")


class WhatIfQty(_Body):
    """The PO line's ordered quantity it would get."""

    qty: inputs.Qty


class WhatIfReceipt(_Body):
    """Goods that would be received on the PO line."""

    qty: inputs.Qty
