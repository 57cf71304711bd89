"""Imports: good orders go in, each bad one is reported with its place and leaves nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bopo.db.models import AuditEvent, Customer, PoLine, SalesOrder, SoLine, StockItem
from bopo.services.common.serial import to_json
from bopo.services.context import Context
from bopo.services.files.imports import (
    import_purchase_orders,
    import_sales_orders,
    import_stock_items,
)
from tests.helpers import given_status

EXAMPLES = Path(__file__).parents[2] / "examples"
HEADER = (
    "source,order_number,customer_code,customer_name,customer_email,order_date,"
    "delivery_date,line_no,sku,qty\n"
)


def row(
    number: str,
    line: int,
    sku: str,
    qty: str = "1",
    *,
    email: str = "a@example.com",
    date: str = "2026-12-01",
) -> str:
    return f"web,{number},C1,Ada,{email},2026-11-25,{date},{line},{sku},{qty}\n"


@pytest.fixture
def shop(ctx: Context) -> Context:
    given_status(ctx, "ON ORDER")
    import_stock_items(ctx, EXAMPLES / "stock_items.csv")
    import_purchase_orders(ctx, EXAMPLES / "purchase_orders.csv")
    return ctx


def counts(ctx: Context) -> tuple[int, int, int]:
    with ctx.db.read() as conn:
        return (
            conn.scalar(select(func.count()).select_from(SalesOrder)) or 0,
            conn.scalar(select(func.count()).select_from(SoLine)) or 0,
            conn.scalar(select(func.sum(StockItem.assigned))) or 0,
        )


def test_the_example_files_import_cleanly(shop: Context) -> None:
    summary = import_sales_orders(shop, EXAMPLES / "sales_orders.csv")
    assert summary.ok, summary.errors
    assert (summary.orders_taken, summary.lines_from_stock, summary.lines_linked) == (3, 1, 2)
    assert dict(summary.lines_skipped) == {"not enough outstanding on order": 1}
    again = import_sales_orders(shop, EXAMPLES / "sales_orders.json")
    assert (again.orders_taken, again.orders_duplicate) == (0, 2)


def test_json_example_files_import_cleanly(ctx: Context) -> None:
    given_status(ctx, "ON ORDER")
    assert import_stock_items(ctx, EXAMPLES / "stock_items.json").created == 2
    summary = import_purchase_orders(ctx, EXAMPLES / "purchase_orders.json")
    assert [e.message for e in summary.errors] == ["unknown SKU 'PAN-28'"]
    assert summary.created == 1


@pytest.mark.parametrize(
    ("bad_row", "field", "message"),
    [
        (row("SO-2", 1, "NOPE"), "sku", "unknown SKU 'NOPE'"),
        (row("SO-2", 1, "KET-01", "0"), "qty", "must be more than 0"),
        (row("SO-2", 1, "KET-01", "-2"), "qty", "must be more than 0"),
        (row("SO-2", 1, "KET-01", "1.5"), "qty", "whole number"),
        (row("SO-2", 1, "KET-01", "5000000"), "qty", "at most 1000000"),
        (row("SO-2", 1, "KET-01", date="2026-02-30"), "delivery_date", "YYYY-MM-DD"),
        (row("SO-2", 1, "KET-01", email=""), "customer_email", "is required"),
        (
            row("SO-2", 1, "KET-01", email="not-an-address"),
            "customer_email",
            "not a valid email address",
        ),
    ],
    ids=[
        "unknown sku",
        "zero",
        "negative",
        "fraction",
        "huge",
        "bad date",
        "no email",
        "bad email",
    ],
)
def test_a_bad_order_is_reported_with_its_row_and_the_good_ones_are_taken(
    shop: Context, tmp_path: Path, bad_row: str, field: str, message: str
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + row("SO-1", 1, "MUG-12") + bad_row + row("SO-3", 1, "MUG-12"))
    summary = import_sales_orders(shop, path)
    assert (summary.orders_taken, summary.orders_rejected) == (2, 1)
    (error,) = summary.errors
    assert (error.row, error.order_number, error.field) == (3, "SO-2", field)
    assert message in error.message
    assert counts(shop) == (2, 2, 2)


def test_customer_addresses_are_read_as_mail_reads_them(shop: Context, tmp_path: Path) -> None:
    """Internationalised addresses are taken; what no mail server could take is refused."""
    path = tmp_path / "orders.csv"
    path.write_text(
        HEADER
        + row("SO-1", 1, "MUG-12", email="ännä@exämple.com")
        + row("SO-2", 1, "MUG-12", email="ada@exämple..com")
        + row("SO-3", 1, "MUG-12", email="ada@example.invalid")
        + row("SO-4", 1, "MUG-12", email="Ada@Example.COM")
    )
    summary = import_sales_orders(shop, path)
    assert (summary.orders_taken, summary.orders_rejected) == (2, 2)
    assert [(e.row, e.order_number, e.field) for e in summary.errors] == [
        (3, "SO-2", "customer_email"),
        (4, "SO-3", "customer_email"),
    ]
    assert all("not a valid email address" in e.message for e in summary.errors)
    assert "special-use or reserved name" in summary.errors[1].message
    with shop.db.read() as conn:
        assert conn.scalar(select(Customer.email)) == "Ada@example.com"  # the last one given


def test_a_rejected_order_leaves_nothing_behind(shop: Context, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + row("SO-1", 1, "KET-01", "2") + row("SO-1", 2, "NOPE"))
    before = counts(shop)
    with shop.db.read() as conn:
        audit_before = conn.scalar(select(func.count()).select_from(AuditEvent))
    summary = import_sales_orders(shop, path)
    assert (summary.orders_taken, summary.orders_rejected) == (0, 1)
    assert [(e.row, e.field) for e in summary.errors] == [(3, "sku")]
    assert counts(shop) == before
    with shop.db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(Customer)) == 0
        assert conn.scalar(select(func.count()).select_from(AuditEvent)) == audit_before
        assert conn.scalar(select(func.sum(PoLine.qty_associated))) == 0


def test_duplicate_line_numbers_reject_the_order(shop: Context, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + row("SO-1", 1, "MUG-12") + row("SO-1", 1, "KET-01"))
    summary = import_sales_orders(shop, path)
    assert [(e.row, e.field) for e in summary.errors] == [(3, "line_no")]
    assert counts(shop)[0] == 0


def test_the_same_order_twice_in_a_file_and_across_files(shop: Context, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        HEADER + row("SO-1", 1, "MUG-12") + row("SO-2", 1, "MUG-12") + row("SO-1", 1, "MUG-12")
    )
    first = import_sales_orders(shop, path)
    assert (first.orders_taken, first.orders_duplicate, first.ok) == (2, 1, True)
    second = import_sales_orders(shop, path)
    assert (second.orders_taken, second.orders_duplicate) == (0, 3)
    assert counts(shop)[:2] == (2, 2)


def test_a_malformed_file_is_refused_whole(shop: Context, tmp_path: Path) -> None:
    for name, content in [
        ("orders.csv", "order_number,sku\nSO-1,MUG-12\n"),
        ("orders.json", '{"orders": [ {"order_number": "SO-1" '),
        ("orders.csv", "\xff\xfe not text"),
        ("orders.xlsx", "whatever"),
    ]:
        path = tmp_path / name
        path.write_bytes(content.encode("latin-1"))
        summary = import_sales_orders(shop, path)
        assert not summary.ok
        assert summary.errors[0].field == "file"
    assert counts(shop) == (0, 0, 0)


def test_stock_import_refuses_on_hand_below_what_is_assigned(shop: Context, tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(HEADER + row("SO-1", 1, "MUG-12", "30"))
    import_sales_orders(shop, orders)
    count = tmp_path / "count.csv"
    count.write_text("sku,name,on_hand\nMUG-12,Mug,10\nKET-01,Kettle,9\n")
    summary = import_stock_items(shop, count)
    assert [(e.row, e.field) for e in summary.errors] == [(2, "on_hand")]
    assert summary.updated == 1
    with shop.db.read() as conn:
        assert dict(conn.execute(select(StockItem.sku, StockItem.on_hand)).all())["MUG-12"] == 40


def test_purchase_order_rows_with_unknown_status_or_sku_are_refused_alone(
    shop: Context, tmp_path: Path
) -> None:
    path = tmp_path / "po.csv"
    path.write_text(
        "po_number,supplier_code,line_no,sku,qty,due_date,status\n"
        "PO-3,NORDIC,1,MUG-12,5,2026-12-10,NOT A STATUS\n"
        "PO-3,NORDIC,2,NOPE,5,2026-12-10,\n"
        "PO-3,NORDIC,3,MUG-12,5,2026-12-10,ON ORDER\n"
        "PO-2001,FORGE,9,MUG-12,5,2026-12-10,\n"
    )
    summary = import_purchase_orders(shop, path)
    assert sorted((e.row, e.field) for e in summary.errors) == [
        (2, "status"),
        (3, "sku"),
        (5, "supplier_code"),
    ]
    assert summary.created == 1
    again = import_purchase_orders(shop, EXAMPLES / "purchase_orders.csv")
    assert (again.created, again.unchanged, again.ok) == (0, 3, True)


def test_a_long_file_is_taken_in_batches_and_reported_in_file_order(
    shop: Context, tmp_path: Path
) -> None:
    rows = [row(f"SO-{n:02d}", 1, "MUG-12") for n in range(10)]
    rows[4] = row("SO-04", 1, "NOPE")
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "".join(rows))
    seen: list[tuple[int, int]] = []
    summary = import_sales_orders(
        shop, path, progress=lambda done, total: seen.append((done, total)), batch_size=3
    )
    assert (summary.orders_taken, summary.orders_rejected) == (9, 1)
    assert [(e.row, e.order_number) for e in summary.errors] == [(6, "SO-04")]
    assert [r.number for r in summary.results] == [f"SO-{n:02d}" for n in range(10)]
    assert seen[-1] == (10, 10)


@pytest.mark.postgres_only
def test_when_taking_fails_midway_the_reader_stops_too(
    shop: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from bopo.services.files import imports

    calls = []

    def failing(*args: object, **kwargs: object) -> list[object]:
        calls.append(1)
        raise RuntimeError("database went away")

    monkeypatch.setattr(imports, "take_orders", failing)
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "".join(row(f"SO-{n}", 1, "MUG-12") for n in range(50)))
    with pytest.raises(RuntimeError, match="went away"):
        import_sales_orders(shop, path, batch_size=2)
    assert calls == [1]
    assert not any(t.name == "bopo-import-parse" for t in threading.enumerate())


@pytest.mark.postgres_only
def test_a_large_import_leaves_the_planner_fresh_statistics(
    shop: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    from bopo.services.files import imports

    monkeypatch.setattr(imports, "ANALYZE_AFTER", 2)
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "".join(row(f"SO-{n}", 1, "MUG-12") for n in range(3)))
    import_sales_orders(shop, path)
    with shop.db.read() as conn:
        analyzed = conn.scalar(
            text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'sales_orders'")
        )
    assert analyzed is not None


def test_a_file_overlapping_one_taken_before_takes_the_new_order_of_another_customer(
    shop: Context, tmp_path: Path
) -> None:
    first = tmp_path / "monday.csv"
    first.write_text(HEADER + row("SO-1", 1, "MUG-12"))
    assert import_sales_orders(shop, first).orders_taken == 1
    second = tmp_path / "tuesday.csv"
    second.write_text(
        HEADER + row("SO-1", 1, "MUG-12") + "web,SO-2,C2,Bob,b@example.com,2026-11-25,"
        "2026-12-01,1,MUG-12,1\n"
    )
    summary = import_sales_orders(shop, second)
    assert (summary.orders_taken, summary.orders_duplicate, summary.ok) == (1, 1, True)
    assert counts(shop)[:2] == (2, 2)


def test_an_order_sent_again_with_other_content_is_reported_field_by_field(
    shop: Context, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        HEADER + row("SO-1", 1, "MUG-12") + row("SO-1", 2, "KET-01", "3") + row("SO-2", 1, "MUG-12")
    )
    assert import_sales_orders(shop, path).orders_taken == 2
    before = counts(shop)
    path.write_text(
        HEADER
        + row("SO-1", 1, "KET-01", date="2026-12-03")
        + row("SO-1", 2, "KET-01", "5", date="2026-12-03")
        + row("SO-1", 3, "MUG-12", date="2026-12-03")
        + row("SO-2", 1, "MUG-12")
        + "web,SO-3,C1,Ada,a@example.com,2026-11-25,2026-12-01,1,MUG-12,1\n"
    )
    summary = import_sales_orders(shop, path)
    assert (
        summary.orders_taken,
        summary.orders_duplicate,
        summary.orders_changed,
        summary.orders_rejected,
    ) == (1, 1, 1, 0)
    assert (summary.ok, summary.exit_code, summary.errors) == (False, 5, [])
    (changed,) = summary.changed
    assert (changed.row, changed.order_number) == (2, "SO-1")
    assert [str(d) for d in changed.differences] == [
        "delivery_date: 2026-12-01 → 2026-12-03",
        "line 1 sku: MUG-12 → KET-01",
        "line 2 qty: 3 → 5",
        "line 3: not in the order taken (1 x MUG-12)",
    ]
    assert summary.warnings == [
        "row 2, order SO-1: taken before with other content; nothing changed: "
        + "; ".join(str(d) for d in changed.differences)
    ]
    assert to_json(summary)["changed"][0]["differences"][2] == {
        "field": "line 2 qty",
        "taken": "3",
        "given": "5",
    }
    assert counts(shop) == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_a_changed_customer_or_a_missing_line_is_a_difference_too(
    shop: Context, tmp_path: Path
) -> None:
    path = tmp_path / "orders.json"
    order = {
        "source": "web",
        "order_number": "SO-1",
        "customer_code": "C1",
        "customer_name": "Ada",
        "customer_email": "a@example.com",
        "order_date": "2026-11-25",
        "delivery_date": "2026-12-01",
        "lines": [{"sku": "MUG-12", "qty": 1}, {"sku": "KET-01", "qty": 1}],
    }
    path.write_text(json.dumps({"orders": [order]}))
    assert import_sales_orders(shop, path).orders_taken == 1
    again = order | {"customer_code": "C2", "order_date": "2026-11-24", "lines": order["lines"][:1]}
    path.write_text(json.dumps({"orders": [again]}))
    summary = import_sales_orders(shop, path)
    (changed,) = summary.changed
    assert changed.path == "orders[0]"
    assert [str(d) for d in changed.differences] == [
        "customer: C1 → C2",
        "order_date: 2026-11-25 → 2026-11-24",
        "line 2: in the order taken (1 x KET-01), not in this one",
    ]
    with shop.db.read() as conn:
        assert conn.scalars(select(Customer.code)).all() == ["C1"]
    assert counts(shop)[:2] == (1, 2)


def test_a_refused_order_comes_in_whole_once_the_file_is_corrected(
    shop: Context, tmp_path: Path
) -> None:
    """A bad middle row and an interrupted order: both refused whole, the rest taken;
    the corrected file brings exactly those two in, and nothing is lost or doubled."""
    path = tmp_path / "orders.csv"
    bad_middle_row = row("SO-1", 2, "KET-01").replace("Ada,", "Ada, Countess,")
    path.write_text(
        HEADER
        + row("SO-1", 1, "MUG-12")
        + bad_middle_row
        + row("SO-1", 3, "BRD-40")
        + row("SO-2", 1, "MUG-12")
        + row("SO-3", 1, "MUG-12")
        + row("SO-4", 1, "KET-01")
        + row("SO-3", 2, "KET-01", "2")
        + row("SO-5", 1, "MUG-12")
    )
    summary = import_sales_orders(shop, path)
    assert (summary.orders_taken, summary.orders_rejected) == (3, 2)
    assert [(e.row, e.order_number, e.field) for e in summary.errors] == [
        (3, "SO-1", "row"),
        (6, "SO-3", "order_number"),
        (8, "SO-3", "order_number"),
    ]
    assert "rows 6, 8" in summary.errors[1].message
    assert counts(shop)[:2] == (3, 3)

    path.write_text(
        HEADER
        + row("SO-1", 1, "MUG-12")
        + row("SO-1", 2, "KET-01")
        + row("SO-1", 3, "BRD-40")
        + row("SO-2", 1, "MUG-12")
        + row("SO-3", 1, "MUG-12")
        + row("SO-3", 2, "KET-01", "2")
        + row("SO-4", 1, "KET-01")
        + row("SO-5", 1, "MUG-12")
    )
    again = import_sales_orders(shop, path)
    assert again.ok, again.errors
    assert (again.orders_taken, again.orders_duplicate, again.orders_changed) == (2, 3, 0)
    assert [(r.number, r.status.value) for r in again.results] == [
        ("SO-1", "taken"),
        ("SO-2", "duplicate"),
        ("SO-3", "taken"),
        ("SO-4", "duplicate"),
        ("SO-5", "duplicate"),
    ]
    with shop.db.read() as conn:
        lines = conn.execute(
            select(SalesOrder.number, func.count(SoLine.id), func.sum(SoLine.qty))
            .join(SoLine, SoLine.sales_order_id == SalesOrder.id)
            .group_by(SalesOrder.number)
            .order_by(SalesOrder.number)
        ).all()
    assert [tuple(r) for r in lines] == [
        ("SO-1", 3, 3),
        ("SO-2", 1, 1),
        ("SO-3", 2, 3),
        ("SO-4", 1, 1),
        ("SO-5", 1, 1),
    ]


def test_a_nul_byte_is_refused_with_its_field_and_row_on_either_database(
    shop: Context, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        HEADER
        + row("SO-1", 1, "MUG-12")
        + row("SO-2", 1, "MUG-12").replace("Ada", "A\x00da")
        + row("SO\x00-3", 1, "MUG-12")
        + row("SO-4", 1, "MUG-12")
    )
    summary = import_sales_orders(shop, path)
    assert (summary.orders_taken, summary.orders_rejected) == (2, 2)
    assert [(e.row, e.field, e.message) for e in summary.errors] == [
        (3, "customer_name", "must not contain control characters: NUL at character 2"),
        (4, "order_number", "must not contain control characters: NUL at character 3"),
    ]
    assert counts(shop)[:2] == (2, 2)


def test_a_json_file_nested_100000_deep_is_a_file_error(shop: Context, tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    path.write_text('{"orders": ' + "[" * 100_000 + "]" * 100_000 + "}")
    summary = import_sales_orders(shop, path)
    assert [e.field for e in summary.errors] == ["file"]
    assert "more than 32 levels deep" in summary.errors[0].message


def test_an_import_keeps_each_items_waiting_counters(shop: Context, tmp_path: Path) -> None:
    # Many lines in one file (on PostgreSQL one COPY), most of them left waiting.
    path = tmp_path / "many.csv"
    path.write_text(
        HEADER
        + "".join(
            row(f"SO-{n}", line, sku, str(n % 7 + 1))
            for n in range(200)
            for line, sku in enumerate(("MUG-12", "KET-01"), 1)
        )
    )
    assert import_sales_orders(shop, path).ok
    waiting = (SoLine.backorder_reason.is_not(None), SoLine.backorder_reason != "late supply")
    units = SoLine.qty - SoLine.qty_shipped - SoLine.qty_assigned - SoLine.qty_cancelled
    with shop.db.read() as conn:
        counted = {
            r.stock_item_id: (r.lines, r.units)
            for r in conn.execute(
                select(
                    SoLine.stock_item_id,
                    func.count().label("lines"),
                    func.sum(units).label("units"),
                )
                .where(*waiting)
                .group_by(SoLine.stock_item_id)
            )
        }
        kept = {
            r.id: (r.waiting_lines, r.waiting_units)
            for r in conn.execute(
                select(StockItem.id, StockItem.waiting_lines, StockItem.waiting_units)
            )
        }
    assert sum(lines for lines, _ in counted.values()) > 100
    assert kept == {item: counted.get(item, (0, 0)) for item in kept}
