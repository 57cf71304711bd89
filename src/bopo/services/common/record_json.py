"""How the results that carry records.py's Released and Offered write them: flat, as
their `as_dict` does, with the shape named for the API's schema. A result that keeps
a ChangeLog takes `LoggedChange` for its `released` and `reallocated` lists.

(The lists are built from `as_dict` rather than typed `list[ReleasedOut]`: pydantic
cannot build a serialiser with one serialised type both as a field and as a computed
field's result, as UnlinkResult has.)
"""

from __future__ import annotations

from typing import Annotated, cast

from pydantic import Field, PlainSerializer, computed_field
from typing_extensions import TypedDict  # pydantic reads only this one on Python < 3.12

from bopo.domain.records import ChangeLog, Released, SalesLineRef


class ReleasedLink(TypedDict):
    """A link a change ended: the sales-order line lost it."""

    source: str
    number: str
    line_no: int
    sku: str
    qty: int
    po_number: str
    po_line_no: int
    reason: str


class ReallocatedPart(TypedDict):
    po_number: str
    po_line_no: int
    qty: int
    expected: str | None


class Reallocated(TypedDict):
    """A line offered to the allocation again: stock taken, its new link, or why it waits."""

    source: str
    number: str
    line_no: int
    sku: str
    from_stock: int
    linked_qty: int
    po_number: str | None
    po_line_no: int | None
    expected: str | None
    waiting: int
    reason: Annotated[str | None, Field(description="Why it waits on the worklist, if it does")]
    parts: list[ReallocatedPart]


ReleasedOut = Annotated[Released, PlainSerializer(Released.as_dict, return_type=ReleasedLink)]


def released_json(log: ChangeLog) -> list[ReleasedLink]:
    return [cast(ReleasedLink, r.as_dict()) for r in log.released]


def reallocated_json(log: ChangeLog) -> list[Reallocated]:
    return [cast(Reallocated, o.as_dict()) for o in log.offered]


class LoggedChange:
    """What a change released and re-allocated, from its `log` (left out of the JSON)."""

    log: ChangeLog

    @computed_field  # type: ignore[prop-decorator]
    @property
    def released(self) -> list[ReleasedLink]:
        return released_json(self.log)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reallocated(self) -> list[Reallocated]:
        return reallocated_json(self.log)


class LineFields:
    """The sales-order line a result is about, written flat: source, number, line_no
    (the `line` itself is left out of the JSON)."""

    line: SalesLineRef

    @computed_field  # type: ignore[prop-decorator]
    @property
    def source(self) -> str:
        return self.line.source

    @computed_field  # type: ignore[prop-decorator]
    @property
    def number(self) -> str:
        return self.line.number

    @computed_field  # type: ignore[prop-decorator]
    @property
    def line_no(self) -> int:
        return self.line.line_no
