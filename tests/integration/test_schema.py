"""The schema: migrations match the models, and the database refuses impossible data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from bopo.db.base import Base
from bopo.db.models import Association, PoLine, SalesOrder, SoLine, StockItem
from bopo.services.context import Context
from bopo.services.orders.intake import take_order
from tests.helpers import day, given_po, given_status, given_stock, order

NOW = datetime(2026, 11, 25, tzinfo=UTC)


# SQLite's reflection cannot read an index on an expression (the search indexes on
# lower(column)); Alembic then leaves them out of the comparison, on both sides.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_the_migrations_match_the_models(ctx: Context) -> None:
    with ctx.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def _so_line(ctx: Context, qty: int = 4) -> tuple[int, int]:
    """A sales-order line waiting for qty units of item A, and an open PO line of 10."""
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", qty)), actor="test")
    with ctx.db.read() as conn:
        return conn.scalar(select(SoLine.id)) or 0, conn.scalar(select(PoLine.id)) or 0


def _associate(ctx: Context, so_line: int, po_line: int, qty: int, state: str = "active") -> None:
    with ctx.db.write() as conn:
        conn.execute(
            insert(Association).values(
                so_line_id=so_line,
                po_line_id=po_line,
                qty=qty,
                state=state,
                created_at=NOW,
                created_by="test",
            )
        )


def _associated(ctx: Context) -> int:
    with ctx.db.read() as conn:
        return conn.scalar(select(PoLine.qty_associated)) or 0


def test_the_database_keeps_each_po_lines_associated_count(make_ctx) -> None:  # type: ignore[no-untyped-def]
    ctx = make_ctx(allocate_existing_pos=False)
    so_line, po_line = _so_line(ctx)
    _associate(ctx, so_line, po_line, 4)
    assert _associated(ctx) == 4
    with ctx.db.write() as conn:
        conn.execute(update(Association).values(qty=6))
    assert _associated(ctx) == 6
    with ctx.db.write() as conn:
        conn.execute(update(Association).values(state="released"))
    assert _associated(ctx) == 0
    _associate(ctx, so_line, po_line, 2, state="fulfilled")
    assert _associated(ctx) == 0


def test_the_database_refuses_to_over_associate_a_po_line(make_ctx) -> None:  # type: ignore[no-untyped-def]
    ctx = make_ctx(allocate_existing_pos=False)
    so_line, po_line = _so_line(ctx)
    with pytest.raises(IntegrityError, match="associated_within_outstanding"):
        _associate(ctx, so_line, po_line, 11)
    _associate(ctx, so_line, po_line, 7)
    with (
        pytest.raises(IntegrityError, match="associated_within_outstanding"),
        ctx.db.write() as conn,
    ):
        conn.execute(update(PoLine).values(qty_delivered=5))
    assert _associated(ctx) == 7


def test_one_active_association_per_sales_order_line_and_po_line(ctx: Context) -> None:
    """A split line may have several active associations, never two on one PO line."""
    so_line, po_line = _so_line(ctx)  # linked by intake already
    with pytest.raises(IntegrityError):
        _associate(ctx, so_line, po_line, 1)


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (SoLine, {"qty": 0}),
        (SoLine, {"qty_assigned": -1}),
        (SoLine, {"qty_assigned": 5}),
        (PoLine, {"qty_ordered": -3}),
        (StockItem, {"on_hand": -1}),
        (StockItem, {"assigned": 99}),
        (SalesOrder, {"number": None}),
    ],
)
def test_the_database_refuses_impossible_quantities(
    ctx: Context, model: type, values: dict
) -> None:  # type: ignore[type-arg]
    _so_line(ctx)
    with pytest.raises(IntegrityError), ctx.db.write() as conn:
        conn.execute(update(model).values(**values))


def test_a_refused_association_does_not_change_any_count(ctx: Context) -> None:
    _so_line(ctx, qty=4)
    before = _associated(ctx)
    with pytest.raises(IntegrityError), ctx.db.write() as conn:
        conn.execute(update(Association).values(qty=4))  # still fits
        conn.execute(update(Association).values(qty=40))  # does not: all rolls back
    assert _associated(ctx) == before == 4


def test_a_line_written_without_its_orders_fields_gets_them_from_the_order(ctx: Context) -> None:
    """The worklist is served on each line's copies of its order's source, priority and
    delivery date; a writer that leaves them out (not intake) has them filled in."""
    _so_line(ctx)
    with ctx.db.write() as conn:
        order_id, item = conn.execute(select(SoLine.sales_order_id, SoLine.stock_item_id)).one()
        conn.execute(
            insert(SoLine).values(sales_order_id=order_id, line_no=2, stock_item_id=item, qty=1)
        )
        conn.execute(update(SalesOrder).values(priority=3, source="shop"))
    with ctx.db.read() as conn:
        copies = conn.execute(
            select(SoLine.order_source, SoLine.order_priority, SoLine.order_delivery_date)
        ).all()
        delivery = conn.scalar(select(SalesOrder.delivery_date))
    assert copies == [("shop", 3, delivery)] * 2
