"""An order that changes a stored customer's name or email says so: never silently."""

from __future__ import annotations

from pathlib import Path

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
