"""What templates are for, and what they are made of: their types, the events that make
emails, and a template's parts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TemplateType(StrEnum):
    """What a template is for; each type has its own context."""

    BACK_ORDER = "BACK_ORDER"
    # A PO line's due date moved: later (by at least [backorders] notify_delay_days),
    # or earlier when a template of that type exists. Each line shows its old date
    # as `previous_expected`.
    BACK_ORDER_UPDATE = "BACK_ORDER_UPDATE"
    BACK_ORDER_EARLIER = "BACK_ORDER_EARLIER"


# The types used for due-date notices; one template of each type is used (the oldest).
NOTICE_TYPES = (TemplateType.BACK_ORDER_UPDATE, TemplateType.BACK_ORDER_EARLIER)


class EmailEvent(StrEnum):
    """What made an email: recorded on it, and given to its template as `event`."""

    INTAKE = "intake"  # a new sales order was linked
    WORKLIST = "worklist"  # a worklist retry linked a waiting line
    MANUAL_LINK = "manual_link"  # an operator linked a line by hand
    REALLOCATION = "reallocation"  # a released line found another PO line
    STATUS_CHANGE = "status_change"  # the PO line's status changed
    DUE_DATE = "due_date"  # the PO line's due date moved (a BACK_ORDER_UPDATE/EARLIER notice)


PARTS = ("subject", "body_text", "body_html")
MAX_PART_CHARS = 100_000


@dataclass(frozen=True, slots=True)
class TemplateSource:
    subject: str
    body_text: str
    body_html: str | None = None


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body_text: str
    body_html: str | None
