"""The shapes of new data, validated the same way whatever brings them in
(CSV or JSON file, API, web form, CLI). Error messages name the field.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from bopo.domain.addresses import BadAddress, parse_address
from bopo.domain.statuses import Priority

MAX_QTY = 1_000_000  # per line: anything larger is a typo, and it keeps sums in range

# Numbers, dates and patterns are checked by pydantic's own (compiled) validators;
# the few Python validators below only refuse what those would let through.


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number, not {value!r}")
    return value


def _iso_date(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"must be a date as YYYY-MM-DD, not {value!r}") from None
    if isinstance(value, date):
        return value
    raise ValueError(f"must be a date as YYYY-MM-DD, not {value!r}")


def _optional_iso_date(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _iso_date(value)


def _priority(value: Any) -> Any:
    """A priority by name, any case; blank or missing is normal."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return Priority.NORMAL
    if isinstance(value, str) and value.strip().lower() in Priority.__members__.values():
        return Priority(value.strip().lower())
    if isinstance(value, Priority):
        return value
    raise ValueError(f"must be one of {', '.join(Priority)}, not {value!r}")


def _email(value: str) -> str:
    """A customer's address, as email-validator reads it; stored normalised."""
    try:
        return parse_address(value).normalized
    except BadAddress as exc:
        raise ValueError(str(exc)) from None


# Control characters (NUL, tab, line breaks, C1 controls), Unicode line and paragraph
# separators, and lone surrogates (text no database can store): no name, code, SKU,
# email address or order number has a use for one, and each would be invisible, cut
# a line in two, or be refused by the database later (PostgreSQL refuses NUL).
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_CHAR_NAMES = {"\x00": "NUL", "\t": "a tab", "\n": "a line break", "\r": "a line break"}


def _one_line(value: str) -> str:
    """Refuse a value with a character that has no place on one line of text."""
    bad = _NOT_ONE_LINE.search(value)
    if bad is None:
        return value
    char = bad.group()
    name = _CHAR_NAMES.get(char, f"U+{ord(char):04X}")
    raise ValueError(f"must not contain control characters: {name} at character {bad.start() + 1}")


def _blank_is_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


Qty = Annotated[int, BeforeValidator(_not_bool), Field(gt=0, le=MAX_QTY)]
StockQty = Annotated[int, BeforeValidator(_not_bool), Field(ge=0, le=1_000_000_000)]
LineNo = Annotated[int, BeforeValidator(_not_bool), Field(gt=0, le=100_000)]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
OptionalIsoDate = Annotated[date | None, BeforeValidator(_optional_iso_date)]
OneLine = AfterValidator(_one_line)
Code = Annotated[str, Field(min_length=1, max_length=64), OneLine]
Name = Annotated[str, Field(min_length=1, max_length=200), OneLine]
EmailAddress = Annotated[str, Field(min_length=1, max_length=320), OneLine, AfterValidator(_email)]
Source = Annotated[str, Field(min_length=1, max_length=40), OneLine]
OrderPriority = Annotated[Priority, BeforeValidator(_priority)]
OptionalCode = Annotated[
    Annotated[str, Field(max_length=40), OneLine] | None, BeforeValidator(_blank_is_none)
]


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _unique_line_numbers(numbers: list[int]) -> None:
    if len(set(numbers)) == len(numbers):
        return
    seen: set[int] = set()
    for n in numbers:
        if n in seen:
            raise ValueError(f"line_no {n} appears more than once")
        seen.add(n)


class NewCustomer(_Input):
    code: Code
    name: Name
    email: EmailAddress


class NewSalesOrderLine(_Input):
    line_no: LineNo
    sku: Code
    qty: Qty


class NewSalesOrder(_Input):
    source: Source = "manual"
    number: Code
    customer: NewCustomer
    order_date: IsoDate
    delivery_date: IsoDate
    lines: Annotated[list[NewSalesOrderLine], Field(min_length=1, max_length=1000)]
    priority: OrderPriority = Priority.NORMAL

    @model_validator(mode="before")
    @classmethod
    def _number_lines(cls, data: Any) -> Any:
        """Lines given without line_no are numbered 1, 2, ... in the order given."""
        lines = data.get("lines") if isinstance(data, dict) else None
        if (
            lines
            and isinstance(lines, list)
            and isinstance(lines[0], dict)
            and not lines[0].get("line_no")
            and all(isinstance(x, dict) and x.get("line_no") in (None, "") for x in lines)
        ):
            data = {**data, "lines": [{**x, "line_no": i} for i, x in enumerate(lines, 1)]}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _unique_line_numbers([line.line_no for line in self.lines])
        if self.delivery_date < self.order_date:
            raise ValueError("delivery_date is before order_date")
        return self


class NewStockItem(_Input):
    sku: Code
    name: Name
    on_hand: StockQty = 0


class NewPurchaseOrderLine(_Input):
    line_no: LineNo
    sku: Code
    qty: Qty
    due_date: OptionalIsoDate = None
    status: OptionalCode = None


class NewPurchaseOrder(_Input):
    number: Code
    supplier_code: Code
    supplier_name: Annotated[
        Annotated[str, Field(max_length=200), OneLine] | None, BeforeValidator(_blank_is_none)
    ] = None
    order_date: OptionalIsoDate = None
    lines: Annotated[list[NewPurchaseOrderLine], Field(min_length=1, max_length=10_000)]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _unique_line_numbers([line.line_no for line in self.lines])
        return self
