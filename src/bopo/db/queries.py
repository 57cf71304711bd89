"""Queries shared by the use cases.

Locking order, everywhere: stock_items, then po_lines, each by ascending id.
Every writer that needs both takes them in this order, so concurrent
transactions wait for each other instead of deadlocking.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, Integer, Select, bindparam, insert, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite

from bopo.db.bulk import (
    in_list,
    one_of,
    rows_json,
    sqlite_connection,
    sqlite_driver,
    sqlite_insert,
)
from bopo.db.models import AuditEvent, PoLine, SoLine, StockItem
from bopo.domain.allocation import StockPosition
from bopo.logs import current_request_id

# What a PO line still brings: ordered, less delivered and cancelled.
OPEN_QTY = PoLine.qty_ordered - PoLine.qty_delivered - PoLine.qty_cancelled
OUTSTANDING = OPEN_QTY.label("outstanding")


def waiting_qty(line: Any = SoLine) -> Any:
    """What an SO line (or an alias of so_lines) still wants: neither shipped, assigned nor
    cancelled; on order or waiting."""
    return line.qty - line.qty_shipped - line.qty_assigned - line.qty_cancelled


# Written exactly as the partial index ix_po_lines_open_item is (models.PO_LINE_OPEN_SQL),
# so both PostgreSQL and SQLite use it: with a literal 0, as a bound parameter would
# not match the index's predicate in PostgreSQL's generic plans.
IS_OPEN = PoLine.qty_ordered - PoLine.qty_delivered - PoLine.qty_cancelled > literal_column(
    "0", Integer
)


AnySelect = Select[*tuple[Any, ...]]


class StockRow(NamedTuple):
    id: int
    sku: str
    on_hand: int
    assigned: int
    name: str


@functools.cache
def stock_by_sku_sql(dialect: str) -> Any:
    """Stock items by SKU (parameter `skus`), locked in id order; built once per dialect."""
    return (
        select(StockItem.id, StockItem.sku, StockItem.on_hand, StockItem.assigned, StockItem.name)
        .where(in_list(dialect, StockItem.sku, "skus"))
        .order_by(StockItem.id)
        .with_for_update(key_share=True)
    )


def lock_stock_by_sku(conn: Connection, skus: Collection[str]) -> dict[str, StockRow]:
    if not skus:
        return {}
    stmt = stock_by_sku_sql(conn.dialect.name)
    return stock_rows(conn.execute(stmt, {"skus": sorted(skus)}).all())


def stock_rows(rows: Iterable[Any]) -> dict[str, StockRow]:
    """By SKU, the rows of stock_by_sku_sql (SQLAlchemy's, or the driver's own named
    rows when they come from a pipeline)."""
    return {r.sku: StockRow(r.id, r.sku, r.on_hand, r.assigned, r.name) for r in rows}


def lock_stock_by_id(
    conn: Connection, ids: Collection[int], *, lock: bool = True
) -> dict[int, StockRow]:
    """Stock items by id, locked (lock=False: only read, for a what-if)."""
    if not ids:
        return {}
    stmt = (
        select(StockItem.id, StockItem.sku, StockItem.on_hand, StockItem.assigned, StockItem.name)
        .where(one_of(conn, StockItem.id, sorted(ids)))
        .order_by(StockItem.id)
    )
    rows = conn.execute(stmt.with_for_update(key_share=True) if lock else stmt)
    return {r.id: StockRow(**r._mapping) for r in rows.all()}


def stock_positions(rows: Iterable[StockRow]) -> dict[int, StockPosition]:
    return {r.id: StockPosition(r.id, r.on_hand, r.assigned) for r in rows}


@functools.cache
def by_code_sql(dialect: str, model: Any, update: tuple[str, ...] = ()) -> Any:
    """Stored rows (id, code and the `update` columns) by code (parameter `codes`)."""
    table = model.__table__
    cols = [table.c[c] for c in update]
    return select(table.c.id, table.c.code, *cols).where(in_list(dialect, table.c.code, "codes"))


def ensure_codes(
    conn: Connection,
    model: Any,
    rows: Mapping[str, Mapping[str, Any]],
    *,
    update: Sequence[str] = (),
    known: Sequence[Any] | None = None,
) -> dict[str, int]:
    """The ids of rows keyed by a unique `code`: missing ones inserted, `update` columns kept up.

    Two transactions may add the same new code at once (two orders of a new
    customer): ON CONFLICT makes the second wait for the first and reuse its row.
    `known` is what by_code_sql already found, when the caller ran it with other reads;
    it may hold more codes than `rows` (intake reads the customers of a whole batch
    before it knows which orders are new), and those are left alone.
    """
    if not rows:
        return {}
    table = model.__table__
    if known is None:
        stmt = by_code_sql(conn.dialect.name, model, tuple(update))
        known = conn.execute(stmt, {"codes": sorted(rows)}).all()
    known = [r for r in known if r.code in rows]
    ids = {r.code: r.id for r in known}
    changed = [
        {"_id": r.id, **{f"_{c}": rows[r.code][c] for c in update}}
        for r in known
        if any(getattr(r, c) != rows[r.code][c] for c in update)
    ]
    if changed:
        conn.execute(
            table.update()
            .where(table.c.id == bindparam("_id"))
            .values({c: bindparam(f"_{c}") for c in update}),
            changed,
        )
    new = sorted(set(rows) - set(ids))
    if new and (update or conn.dialect.name == "sqlite"):
        ids.update(_upsert(conn, table, new, rows, update))
    elif new:
        dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        stmt = dialect_insert(table)
        stmt = (
            stmt.on_conflict_do_update(
                index_elements=["code"], set_={c: stmt.excluded[c] for c in update}
            )
            if update
            else stmt.on_conflict_do_nothing(index_elements=["code"])
        )
        conn.execute(stmt, [{"code": code, **rows[code]} for code in new])
        ids.update(
            (r.code, r.id)
            for r in conn.execute(
                select(table.c.id, table.c.code).where(one_of(conn, table.c.code, new))
            )
        )
    return ids


def _upsert(
    conn: Connection,
    table: Any,
    codes: Sequence[str],
    rows: Mapping[str, Mapping[str, Any]],
    update: Sequence[str],
) -> list[tuple[str, int]]:
    """New codes (sorted: two transactions insert shared ones in the same order) in one
    statement, on PostgreSQL their rows as one JSON parameter (made at C speed, where
    psycopg makes an array in Python, value by value), on SQLite straight to sqlite3 in one
    executemany (an import brings thousands of new customers); on a code stored
    meanwhile, its `update` columns are set. Returns (code, id) of every one of them."""
    columns = list(rows[codes[0]])
    sets = ", ".join(f"{c} = excluded.{c}" for c in update)
    if conn.dialect.name == "sqlite":
        values = [(code, *(rows[code][c] for c in columns)) for code in codes]
        conflict = f"ON CONFLICT (code) DO {f'UPDATE SET {sets}' if sets else 'NOTHING'}"
        sqlite_insert(conn, table, ["code", *columns], values, on_conflict=conflict)
        _, found = sqlite_driver(
            sqlite_connection(conn),
            f"SELECT code, id FROM {table.name} WHERE code IN (SELECT value FROM json_each(?))",
            [orjson.dumps(list(codes)).decode()],
        )
        return found
    named = ", ".join(["code", *columns])
    sql = (
        f"INSERT INTO {table.name} ({named}) SELECT {named} "
        f"FROM json_populate_recordset(NULL::{table.name}, %(rows)s::json) "
        f"ON CONFLICT (code) DO UPDATE SET {sets} RETURNING code, id"
    )
    given = rows_json([{"code": code, **rows[code]} for code in codes])
    return [(r[0], r[1]) for r in conn.exec_driver_sql(sql, {"rows": given})]


def record_audit(conn: Connection, events: Sequence[dict[str, Any]]) -> None:
    """Append audit events: dicts with at, actor, action, entity, entity_id, before, after.

    Each carries the id of the request it was written in (none outside a request).
    """
    if events:
        rid = current_request_id()
        conn.execute(insert(AuditEvent), [{"request_id": rid, **e} for e in events])


def pairs(result: Iterable[Any]) -> dict[Any, Any]:
    """The first two columns of each row as a mapping."""
    return {row[0]: row[1] for row in result}
