"""Bulk writes read back exactly as SQLAlchemy would have written them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, literal, select, text
from sqlalchemy.exc import DBAPIError

from bopo.db.base import Base
from bopo.db.bulk import (
    COPY_FROM_ROWS,
    SQLITE_INLINE_MAX,
    Writes,
    fetch_all,
    in_list,
    one_of,
    pg_type,
)
from bopo.db.models import AuditEvent, Customer, StockItem
from bopo.services.context import Context

AWKWARD = ["plain", "tab\there", "new\nline", "back\\slash", "quote ' \" ", "Ünïcödé ✓", r"\N"]


@pytest.mark.parametrize("count", [3, COPY_FROM_ROWS + 5], ids=["pipeline", "copy"])
def test_rows_written_in_bulk_read_back_unchanged(ctx: Context, count: int) -> None:
    now = datetime(2026, 11, 25, 10, 30, 15, 123456, tzinfo=UTC)
    with ctx.db.write() as conn:
        writes = Writes(conn)
        ids = writes.reserve_ids({Customer: count, AuditEvent: count})
        customers = [
            {
                "id": i,
                "code": f"C{i}",
                "name": AWKWARD[n % len(AWKWARD)],
                "email": f"c{i}@example.com",
                "created_at": now + timedelta(seconds=n),
            }
            for n, i in enumerate(ids[Customer])
        ]
        events = [
            {
                "id": i,
                "at": now,
                "actor": "test",
                "action": "x",
                "entity": "customer",
                "entity_id": n,
                "before": None,
                "after": {
                    "name": AWKWARD[n % len(AWKWARD)],
                    "when": date(2026, 1, 2).isoformat(),
                    "nested": [1, {"a": None}],
                },
            }
            for n, i in enumerate(ids[AuditEvent])
        ]
        writes.insert(Customer, customers)
        writes.insert(AuditEvent, events)
        writes.flush()
    with ctx.db.read() as conn:
        got = conn.execute(
            select(Customer.id, Customer.name, Customer.created_at).order_by(Customer.id)
        ).all()
        audit = conn.execute(
            select(AuditEvent.before, AuditEvent.after).order_by(AuditEvent.id)
        ).all()
    assert [(r.id, r.name, r.created_at) for r in got] == [
        (c["id"], c["name"], c["created_at"]) for c in customers
    ]
    assert [(r.before, r.after) for r in audit] == [(e["before"], e["after"]) for e in events]


def test_reserved_ids_do_not_collide_with_rows_inserted_later(ctx: Context) -> None:
    now = datetime.now(UTC)
    with ctx.db.write() as conn:
        writes = Writes(conn)
        first = writes.reserve_ids({StockItem: 2})[StockItem]
        second = writes.reserve_ids({StockItem: 2})[StockItem]
        writes.insert(
            StockItem,
            [
                {
                    "id": i,
                    "sku": f"S{i}",
                    "name": "n",
                    "on_hand": 0,
                    "assigned": 0,
                    "created_at": now,
                }
                for i in first + second
            ],
        )
        writes.flush()
    assert len(set(first + second)) == 4
    with ctx.db.write() as conn:
        writes = Writes(conn)
        third = writes.reserve_ids({StockItem: 1})[StockItem]
    assert third[0] not in first + second


def test_updates_by_id_change_only_the_given_rows(ctx: Context) -> None:
    now = datetime.now(UTC)
    with ctx.db.write() as conn:
        writes = Writes(conn)
        ids = writes.reserve_ids({StockItem: 3})[StockItem]
        writes.insert(
            StockItem,
            [
                {
                    "id": i,
                    "sku": f"S{i}",
                    "name": "n",
                    "on_hand": 10,
                    "assigned": 0,
                    "created_at": now,
                }
                for i in ids
            ],
        )
        writes.update_by_id(
            StockItem, [{"id": ids[0], "assigned": 4}, {"id": ids[2], "assigned": 7}]
        )
        writes.flush()
    with ctx.db.read() as conn:
        assigned = {
            r.id: r.assigned for r in conn.execute(select(StockItem.id, StockItem.assigned))
        }
    assert assigned == {ids[0]: 4, ids[1]: 0, ids[2]: 7}


@pytest.mark.parametrize("count", [3, SQLITE_INLINE_MAX + 5], ids=["short", "long"])
def test_one_of_finds_the_rows_of_a_list_of_any_length(ctx: Context, count: int) -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    with ctx.db.write() as conn:
        conn.execute(
            StockItem.__table__.insert(),
            [
                {"sku": f"S-{n}", "name": AWKWARD[n % len(AWKWARD)], "created_at": now}
                for n in range(2 * count)
            ],
        )
    wanted = [f"S-{n}" for n in range(0, 2 * count, 2)] + ["unknown", AWKWARD[1]]
    with ctx.db.read() as conn:
        by_sku = dict(
            conn.execute(
                select(StockItem.sku, StockItem.id).where(one_of(conn, StockItem.sku, wanted))
            ).all()
        )
        by_id = conn.scalars(
            select(StockItem.sku).where(one_of(conn, StockItem.id, sorted(by_sku.values())))
        ).all()
    assert sorted(by_sku) == sorted(wanted[:-2])
    assert sorted(by_id) == sorted(wanted[:-2])


def test_reads_run_together_come_back_as_sqlalchemy_reads_them(ctx: Context) -> None:
    """fetch_all's rows (straight from the driver) equal SQLAlchemy's: timestamps aware,
    dates as dates, JSON parsed, a list parameter and a fixed one sent as SQLAlchemy sends
    them, the columns named alike."""
    now = datetime(2026, 11, 25, 10, 30, 15, 123456, tzinfo=UTC)
    after = {"a": [1, None]}
    with ctx.db.write() as conn:
        conn.execute(
            Customer.__table__.insert(),
            [
                {"code": f"C{n}", "name": name, "email": "c@example.com", "created_at": now}
                for n, name in enumerate(AWKWARD)
            ],
        )
        conn.execute(
            AuditEvent.__table__.insert(),
            [
                {
                    "at": now,
                    "actor": "t",
                    "action": "x",
                    "entity": "e",
                    "entity_id": 1,
                    "after": after,
                }
            ],
        )
    with ctx.db.read() as conn:
        customers = (
            select(Customer.code, Customer.name, Customer.created_at, literal(date(2026, 1, 2)))
            .where(in_list(conn.dialect.name, Customer.code, "codes"))
            .order_by(Customer.id)
        )
        audit = select(AuditEvent.at, AuditEvent.after.label("changed")).where(
            AuditEvent.action == "x"
        )
        plain = text("SELECT code AS c FROM customers WHERE name = :name").bindparams(
            name=AWKWARD[1]
        )
        queries = [(customers, {"codes": ["C1", "C3", "nobody"]}), (audit, {}), (plain, {})]
        together = fetch_all(conn, queries)
        alone = [conn.execute(stmt, params) for stmt, params in queries]
        assert [[tuple(r) for r in rows] for rows in together] == [
            [tuple(r) for r in result.all()] for result in alone
        ]
        assert [rows[0]._fields for rows in together] == [tuple(r.keys()) for r in alone]
    assert together[0][0].created_at == now
    assert together[1][0].changed == after


def test_ids_reserved_ahead_are_used_first_and_the_rest_reserved(ctx: Context) -> None:
    with ctx.db.write() as conn:
        ahead = Writes(conn).reserve_ids({Customer: 2, AuditEvent: 1})
        ids = Writes(conn).reserve_ids({Customer: 3, AuditEvent: 1, StockItem: 0}, ahead)
    assert ids[Customer][:2] == ahead[Customer]  # the two reserved ahead, then one more
    assert len(set(ids[Customer])) == 3
    assert ids[AuditEvent] == ahead[AuditEvent]
    assert ids[StockItem] == []


def test_a_naive_timestamp_is_refused_and_an_offset_one_kept(ctx: Context) -> None:
    """Rows in the pipeline go as JSON: a timestamp must say its zone, as SQLAlchemy's
    type insists; one given at another offset is stored as the same instant."""
    elsewhere = datetime(2026, 11, 25, 12, 0, tzinfo=timezone(timedelta(hours=5)))

    def customer(i: int, at: datetime) -> dict[str, object]:
        return {"id": i, "code": f"T{i}", "name": "n", "email": "t@example.com", "created_at": at}

    with pytest.raises(ValueError, match="naive"), ctx.db.write() as conn:
        writes = Writes(conn)
        (i,) = writes.reserve_ids({Customer: 1})[Customer]
        writes.insert(Customer, [customer(i, datetime(2026, 11, 25, 12, 0))])
        writes.flush()
    with ctx.db.write() as conn:
        writes = Writes(conn)
        (i,) = writes.reserve_ids({Customer: 1})[Customer]
        writes.insert(Customer, [customer(i, elsewhere)])
        writes.flush()
    with ctx.db.read() as conn:
        stored = conn.scalar(select(Customer.created_at).where(Customer.id == i))
    assert stored == elsewhere
    assert stored is not None
    assert stored.utcoffset() == timedelta(0)


def _stock_rows(ids: list[int], now: datetime, on_hand: int = 0) -> list[dict[str, object]]:
    return [
        {"id": i, "sku": f"S{i}", "name": "n", "on_hand": on_hand, "assigned": 0, "created_at": now}
        for i in ids
    ]


@pytest.mark.parametrize("count", [3, COPY_FROM_ROWS + 5], ids=["pipeline", "copy"])
def test_a_value_that_does_not_fit_its_column_is_refused_not_wrapped(
    ctx: Context, count: int
) -> None:
    """However the rows are sent, an integer too big for its column is refused as the
    server refuses it (binary COPY alone would wrap it), and a naive timestamp is
    refused (binary COPY, or JSON, would read it in the session's zone)."""
    if ctx.db.is_sqlite:
        pytest.skip("SQLite's integers are 64 bits whatever the column")
    now = datetime(2026, 11, 25, tzinfo=UTC)
    with pytest.raises(DBAPIError), ctx.db.write() as conn:
        writes = Writes(conn)
        ids = writes.reserve_ids({StockItem: count})[StockItem]
        rows = _stock_rows(ids, now)
        rows[-1]["on_hand"] = 2**32 + 5
        writes.insert(StockItem, rows)
        writes.flush()
    with pytest.raises(ValueError, match="naive"), ctx.db.write() as conn:
        writes = Writes(conn)
        ids = writes.reserve_ids({StockItem: count})[StockItem]
        rows = _stock_rows(ids, now)
        rows[-1]["created_at"] = datetime(2026, 11, 25)
        writes.insert(StockItem, rows)
        writes.flush()
    with ctx.db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(StockItem)) == 0


def test_every_column_has_a_copy_type() -> None:
    """COPY formats each value for its column's type: every type in the schema has one."""
    from sqlalchemy.dialects.postgresql import psycopg as pg

    dialect = pg.dialect()  # type: ignore[no-untyped-call]
    for table in Base.metadata.sorted_tables:
        for column in table.c:
            assert pg_type(table, column.name, dialect)
