"""[format:NAME] sections: how a shop's or an ERP's file maps to a sales order."""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Self

from pydantic import Field, ValidationError, field_validator, model_validator

from bopo.config.sections import _Section

FORMAT_SECTION = "format:"
# The fields of a sales order a mapping profile can fill, each from a column or a constant.
PROFILE_FIELDS = (
    "order_number",
    "customer_code",
    "customer_name",
    "customer_email",
    "order_date",
    "delivery_date",
    "line_no",
    "sku",
    "qty",
    "priority",
)
PROFILE_REQUIRED = ("order_number", "customer_email", "order_date", "sku", "qty")
BUILT_IN_FORMATS = ("bopo", "shopify", "amazon")
# What a [format:shopify] or [format:amazon] section may set: the rest is their own layout.
_BUILT_IN_KEYS = {
    "customer_code",
    "customer_name",
    "source",
    "delivery_lead_days",
    "encoding",
    "delimiter",
}


class FormatProfile(_Section):
    """A [format:NAME] section: how a shop's or an ERP's file maps to a sales order.

    Each field names the column it is read from, or holds a constant in double
    quotes (`customer_code = "BIGCLIENT"`). For shopify and amazon only a few
    choices are open (which column is the customer code, the source, the lead time).
    """

    name: str
    order_number: str | None = None
    customer_code: str | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    order_date: str | None = None
    delivery_date: str | None = None
    line_no: str | None = None
    sku: str | None = None
    qty: str | None = None
    priority: str | None = None
    source: str | None = Field(default=None, max_length=40)
    date_format: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    delivery_lead_days: int | None = Field(default=None, ge=0, le=365)

    @classmethod
    def for_section(cls, name: str, values: Mapping[str, str]) -> FormatProfile:
        data: dict[str, Any] = {k: (v.strip() or None) for k, v in values.items()}
        if name in BUILT_IN_FORMATS:
            extra = sorted(set(data) - _BUILT_IN_KEYS)
            if extra or name == "bopo":
                raise ValidationError.from_exception_data(
                    cls.__name__,
                    [
                        {
                            "type": "value_error",
                            "loc": (k,),
                            "input": data.get(k),
                            "ctx": {"error": ValueError(f"not a choice for the {name} format")},
                        }
                        for k in (extra or ["(section)"])
                    ],
                )
        return cls.model_validate({**data, "name": name})

    @field_validator("name")
    @classmethod
    def _a_name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", v):
            raise ValueError("a format's name is letters, digits, '_', '-' or '.'")
        return v

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(v, v)
        if len(v) != 1:
            raise ValueError("one character, or tab, comma, semicolon, pipe")
        return v

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return codecs.lookup(v).name
        except LookupError:
            raise ValueError(f"unknown encoding {v!r}") from None

    @field_validator("date_format")
    @classmethod
    def _a_date_format(cls, v: str | None) -> str | None:
        if v is None:
            return None
        sample = datetime(2026, 12, 31, 23, 59, 58)
        try:
            back = datetime.strptime(sample.strftime(v), v)
        except ValueError:
            raise ValueError(f"{v!r} does not read back the dates it writes") from None
        if back.date() != sample.date():
            raise ValueError(f"{v!r} must hold the day, month and year (e.g. %d/%m/%Y)")
        return v

    @model_validator(mode="after")
    def _mapped_fields(self) -> Self:
        if self.name in BUILT_IN_FORMATS:
            return self
        missing = [f for f in PROFILE_REQUIRED if getattr(self, f) is None]
        if missing:
            raise ValueError(
                f"a mapping profile needs {', '.join(missing)} (a column name, or a "
                '"constant" in double quotes)'
            )
        return self

    def column(self, fieldname: str) -> str | None:
        """The column a field is read from (None for a constant or an unset field)."""
        value = getattr(self, fieldname)
        if value is None or _is_constant(value):
            return None
        return str(value)

    def constant(self, fieldname: str) -> str | None:
        value = getattr(self, fieldname)
        return value[1:-1] if value is not None and _is_constant(value) else None


def _is_constant(value: str) -> bool:
    return len(value) >= 2 and value[0] == value[-1] == '"'
