"""What a supply change reports: each PO line before and after, the links it released,
the lines offered again, late supply flagged or cleared, due-date notices."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field
from typing_extensions import TypedDict  # pydantic reads only this one on Python < 3.12

from bopo.domain.records import ChangeLog, PoLineRow, SalesLineRef
from bopo.services.common.record_json import LoggedChange
from bopo.services.email.notices import NoticePlan


class PoLineValues(TypedDict):
    ordered: int
    delivered: int
    cancelled: int
    outstanding: int
    due_date: str | None  # YYYY-MM-DD


@dataclass(frozen=True, slots=True)
class PoLineChange:
    line_no: int
    before: PoLineValues
    after: PoLineValues


@dataclass
class SupplyChangeResult(LoggedChange):
    """What a supply change did: PO lines changed, links released, lines re-allocated."""

    po_number: str
    lines: list[PoLineChange] = field(default_factory=list)
    log: Annotated[ChangeLog, Field(exclude=True)] = field(default_factory=ChangeLog)
    late_supply: Annotated[
        list[SalesLineRef],
        Field(description="Linked lines now due after their delivery date (on the worklist)"),
    ] = field(default_factory=list)  # flagged by a due date
    on_time_again: list[SalesLineRef] = field(default_factory=list)
    notices: Annotated[
        list[NoticePlan], Field(description="Due-date emails it queued, merged or cancelled")
    ] = field(default_factory=list)


def line_values(po: PoLineRow) -> PoLineValues:
    return {
        "ordered": po.ordered,
        "delivered": po.delivered,
        "cancelled": po.cancelled,
        "outstanding": po.outstanding,
        "due_date": po.due_date.isoformat() if po.due_date else None,
    }
