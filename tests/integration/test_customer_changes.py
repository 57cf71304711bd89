"""An order that changes a stored customer's name or email says so: never silently."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bopo.db.intake import CUSTOMER_FIELDS
from bopo.db.models import Customer
from bopo.db.queries import ensure_codes
from bopo.services.common.inputs import NewCustomer
from bopo.services.context import Context
from bopo.services.files.imports import import_sales_orders
from bopo.services.orders import customers
from bopo.services.orders.intake import take_order
from tests.helpers import given_stock, order

HEADER = (
    "source,order_number,customer_code,customer_name,customer_email,order_date,"
    "delivery_date,line_no,sku,qty\n"
)


def test_an_import_warns_once_per_customer_whose_email_or_name_it_changes(
    ctx: Context, tmp_path: Path
) -> None:
    given_stock(ctx, A=10)
    take_order(ctx, order("SO-1", ("A", 1)), actor="test")  # C1: Customer C1, c1@example.com
    take_order(ctx, order("SO-2", ("A", 1), customer="C2"), actor="test")
    file = tmp_path / "orders.csv"
    file.write_text(
        HEADER
        + "web,SO-3,C1,Customer C1,b@example.com,2026-11-25,2026-12-01,1,A,1\n"
        + "web,SO-4,C1,Customer C1,b@example.com,2026-11-25,2026-12-01,1,A,1\n"
        + "web,SO-5,C2,Ada Lovelace,c2@example.com,2026-11-25,2026-12-01,1,A,1\n"
        + "web,SO-6,C3,New One,c3@example.com,2026-11-25,2026-12-01,1,A,1\n"
    )
    summary = import_sales_orders(ctx, file)
    assert summary.orders_taken == 4
    assert summary.warnings == [
        "customer C1: email c1@example.com → b@example.com",
        "customer C2: name Customer C2 → Ada Lovelace",
    ]
    assert customers.get_customer(ctx, 1).email == "b@example.com"


def test_an_order_taken_one_at_a_time_says_what_it_changed(ctx: Context) -> None:
    given_stock(ctx, A=10)
    take_order(ctx, order("SO-1", ("A", 1)), actor="test")
    same = take_order(ctx, order("SO-2", ("A", 1)), actor="test")
    assert same.warnings == ()
    moved = order("SO-3", ("A", 1))
    moved = moved.model_copy(
        update={"customer": NewCustomer(code="C1", name="Customer C1", email="new@example.com")}
    )
    result = take_order(ctx, moved, actor="test")
    assert result.warnings == ("customer C1: email c1@example.com → new@example.com",)


def test_customers_stored_meanwhile_are_kept_up_and_new_ones_added_in_one_go(
    ctx: Context,
) -> None:
    """ensure_codes on a customer another transaction stored after intake read them (not
    in `known`): its row is updated, not doubled, and every code gets its id."""
    now = datetime(2026, 11, 25, tzinfo=UTC)
    rows = {
        "C1": {"name": "Stored", "email": "c1@example.com", "created_at": now},
    }
    with ctx.db.write() as conn:
        first = ensure_codes(conn, Customer, rows, update=CUSTOMER_FIELDS, known=[])
    given = {
        "C2": {"name": "New", "email": "c2@example.com", "created_at": now},
        "C1": {"name": "Renamed", "email": "b@example.com", "created_at": now},
    }
    with ctx.db.write() as conn:
        ids = ensure_codes(conn, Customer, given, update=CUSTOMER_FIELDS, known=[])
    with ctx.db.read() as conn:
        stored = {r.code: r for r in conn.execute(select(Customer.__table__))}
    assert ids == {code: stored[code].id for code in ("C1", "C2")}
    assert ids["C1"] == first["C1"]
    assert len(stored) == 2
    assert (stored["C1"].name, stored["C1"].email) == ("Renamed", "b@example.com")
    assert (stored["C2"].name, stored["C2"].email) == ("New", "c2@example.com")
    assert stored["C2"].created_at == now  # stored as the model stores it: it reads back


def test_codes_stored_meanwhile_without_columns_to_keep_up_are_left_alone(
    ctx: Context,
) -> None:
    """ensure_codes with nothing to update (a supplier named by a file): a code stored
    meanwhile keeps its row as it is, and gets its id."""
    now = datetime(2026, 11, 25, tzinfo=UTC)
    with ctx.db.write() as conn:
        first = ensure_codes(conn, Customer, {"C1": _customer("Stored", now)})
    given = {"C1": _customer("Other", now), "C2": _customer("New", now)}
    with ctx.db.write() as conn:
        ids = ensure_codes(conn, Customer, given, known=[])
    with ctx.db.read() as conn:
        stored = {r.code: r for r in conn.execute(select(Customer.__table__))}
    assert ids == {code: stored[code].id for code in ("C1", "C2")}
    assert ids["C1"] == first["C1"]
    assert (stored["C1"].name, stored["C2"].name) == ("Stored", "New")


def _customer(name: str, now: datetime) -> dict[str, object]:
    return {"name": name, "email": f"{name.lower()}@example.com", "created_at": now}
