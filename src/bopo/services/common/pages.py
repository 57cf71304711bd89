"""One page of a list: the rows asked for and how many there are in all.

Counting every match of a large list reads every match, however small the page:
counts stop at COUNT_CAP rows past the page's end instead, and a page says when its
total is only a floor ("more than 10,050"). Reaching a page deep in the list by its
offset reads the rows before it anyway, so counting on to just past it costs little more.

A list in id order also pages by key: `after` (the last id of the page before) seeks
the next page on the primary key, so that a page deep in the list costs what the
first one does; the offset then only says where the page is, and the count runs on
from the key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Select, func, literal, select

T = TypeVar("T")
AnySelect = Select[*tuple[Any, ...]]

MAX_LIMIT = 500
COUNT_CAP = 10_000


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    # True: more than `total` match; the count stopped there rather than read them all.
    total_capped: bool = False
    # For a list in id order: the `after` of the next page (None on the last page).
    next_after: int | None = None

    @property
    def has_next(self) -> bool:
        return self.total_capped or self.offset + len(self.items) < self.total


def count_capped(conn: Connection, stmt: AnySelect, *, offset: int, limit: int) -> tuple[int, bool]:
    """How many rows `stmt` selects, counting no further than COUNT_CAP rows past the
    page that ends at `offset + limit`: (the count, whether it stopped there)."""
    cap = offset + limit + COUNT_CAP
    stmt = stmt.order_by(None)
    if not stmt._distinct and not stmt._group_by_clauses:  # the rows, not what they show
        stmt = stmt.with_only_columns(literal(1), maintain_column_froms=True)
    rows = stmt.limit(cap + 1).subquery()
    found = conn.scalar(select(func.count()).select_from(rows)) or 0
    return (cap, True) if found > cap else (found, False)


def fetch_page(
    conn: Connection,
    stmt: AnySelect,
    make: Callable[..., T],
    *,
    limit: int,
    offset: int,
    key: Any = None,
    newest_first: bool = False,
    after: int | None = None,
) -> Page[T]:
    """Count the selection (up to the cap), then read one ordered slice of it; `make` is
    given each row's columns by their labels. With `key` (the id column the list is
    ordered by, descending if `newest_first`), `after` seeks past that id instead of
    skipping `offset` rows, and the page carries the next page's `after`."""
    limit = max(1, min(limit, MAX_LIMIT))
    offset = max(0, offset)
    seek = 0 if key is not None and after is not None else offset
    if key is not None and after is not None:
        stmt = stmt.where(key < after if newest_first else key > after)
    total, capped = count_capped(conn, stmt, offset=seek, limit=limit)
    total += offset - seek
    rows = list(conn.execute(stmt.limit(limit).offset(seek))) if total > offset - seek else []
    items = [make(**r._mapping) for r in rows]
    page = Page(items, total, limit, offset, capped)
    if key is not None and rows and page.has_next:
        page = replace(page, next_after=rows[-1]._mapping[key.key])
    return page


def fetch_page_by_id(
    conn: Connection,
    ids: AnySelect,
    rows: AnySelect,
    make: Callable[..., T],
    *,
    key: Any,
    limit: int,
    offset: int,
    newest_first: bool = False,
    after: int | None = None,
) -> Page[T]:
    """A page of a list paged on its primary key: `ids` (selecting `key` alone, in the
    list's order) is counted and sliced on the list's own table, however deep the page,
    and only the page's ids are read whole through `rows` (which selects `key`)."""
    page = fetch_page(
        conn,
        ids,
        lambda **r: r[key.key],
        limit=limit,
        offset=offset,
        key=key,
        newest_first=newest_first,
        after=after,
    )
    found = {}
    if page.items:
        found = {
            r._mapping[key.key]: make(**r._mapping)
            for r in conn.execute(rows.where(key.in_(page.items)))
        }
    return replace(page, items=[found[i] for i in page.items])
