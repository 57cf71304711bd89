"""States of bopo's objects and the transitions allowed between them."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from bopo.errors import InvalidTransition


class AssociationState(StrEnum):
    ACTIVE = "active"
    FULFILLED = "fulfilled"
    RELEASED = "released"


class SalesOrderStatus(StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class Priority(StrEnum):
    """How urgently a sales order should be served, apart from its delivery date.

    Goods in, re-allocation and the worklist serve the highest priority first,
    then the earliest delivery date. Stored as its rank (0-3), so it sorts.
    """

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return _PRIORITY_RANKS[self]

    @classmethod
    def of_rank(cls, rank: int) -> Priority:
        return _PRIORITIES[rank]


_PRIORITIES = list(Priority)
_PRIORITY_RANKS = {p: i for i, p in enumerate(_PRIORITIES)}


class EmailState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # A link or date it states changed before it was sent; another email (or none)
    # says what is true instead.
    SUPERSEDED = "superseded"


class SkipReason(StrEnum):
    """Why a backorder line sits on the worklist instead of being linked."""

    FEATURE_OFF = "feature off"
    NO_OPEN_PO = "no open purchase order"
    NOT_ENOUGH_ON_ORDER = "not enough outstanding on order"
    NO_STATUS = "purchase order line has no status"
    RELEASED = "released"
    # The one reason a line is on the worklist while still linked: its PO line
    # is now due after the order's delivery date, and a person should look.
    LATE_SUPPLY = "late supply"


_ALLOWED: dict[type[StrEnum], set[tuple[str, str]]] = {
    AssociationState: {
        ("active", "fulfilled"),
        ("active", "released"),
    },
    SalesOrderStatus: {
        ("open", "cancelled"),
        ("open", "completed"),
    },
    EmailState: {
        ("pending", "sending"),
        ("pending", "cancelled"),
        ("pending", "superseded"),
        ("sending", "sent"),
        ("sending", "pending"),  # a failed attempt with attempts left
        ("sending", "failed"),
        ("failed", "pending"),  # a person retries it
        ("failed", "cancelled"),
    },
}


S = TypeVar("S", bound=StrEnum)


def transition(current: S, wanted: S) -> S:
    """Return `wanted` if `current -> wanted` is allowed, else raise InvalidTransition."""
    if (current.value, wanted.value) not in _ALLOWED[type(current)]:
        raise InvalidTransition(type(current).__name__, current.value, wanted.value)
    return wanted
