"""One page of a list: the rows asked for and how many there are in all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Select, func, select

T = TypeVar("T")
AnySelect = Select[*tuple[Any, ...]]

MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def fetch_page(
    conn: Connection,
    stmt: AnySelect,
    make: Callable[..., T],
    *,
    limit: int,
    offset: int,
) -> Page[T]:
    """Count the whole selection, then read one ordered slice of it; `make` is given each
    row's columns by their labels."""
    limit = max(1, min(limit, MAX_LIMIT))
    offset = max(0, offset)
    total = conn.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = (
        [make(**r._mapping) for r in conn.execute(stmt.limit(limit).offset(offset))]
        if total
        else []
    )
    return Page(items, total, limit, offset)
