"""Shops' own files (Shopify, Amazon, an ERP's CSV or workbook) taken like bopo's own.

Each file in tests/files is written in its shop's published layout, with the awkward
parts of real exports: a byte-order mark, CRLF, semicolons, cp1252, names in many
scripts, fulfilled and cancelled lines, lines without a SKU.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from bopo.config import load_settings
from bopo.db.models import Customer, SalesOrder
from bopo.errors import InvalidInput
from bopo.services.context import Context
from bopo.services.files.formats import import_orders
from bopo.services.files.imports import import_purchase_orders, import_stock_items
from bopo.services.orders import sales
from tests.helpers import given_status

FILES = Path(__file__).parents[1] / "files"
EXAMPLES = Path(__file__).parents[2] / "examples"

README = Path(__file__).parents[2] / "README.md"


def readme_profile() -> str:
    """The README's worked mapping profile, as written there."""
    text = README.read_text()
    block = next(b for b in text.split("```ini\n")[1:] if "[format:erp]" in b)
    return block.split("```")[0]


ERP_PROFILE = readme_profile() + "\n[format:shopify]\ndelivery_lead_days = 5\n"


@pytest.fixture
def shop(ctx: Context, tmp_path: Path) -> Context:
    """The examples' stock and POs (KET-01 4 on hand, MUG-12 40; PAN-28 and BRD-40 on order)."""
    given_status(ctx, "ON ORDER")
    import_stock_items(ctx, EXAMPLES / "stock_items.csv")
    import_purchase_orders(ctx, EXAMPLES / "purchase_orders.csv")
    ini = tmp_path / "bopo.ini"
    ini.write_text(ERP_PROFILE)
    loaded = load_settings(ini, env={})
    ctx.settings = ctx.settings.model_copy(
        update={"formats": loaded.formats, "import_": loaded.import_}
    )
    return ctx


def outcome(ctx: Context, source: str, number: str) -> dict[int, str]:
    view = sales.show_sales_order(ctx, number, source)
    return {line.line_no: line.describe() for line in view.lines}


def test_a_shopify_export_is_detected_and_taken_with_what_is_left_out_said(
    shop: Context,
) -> None:
    summary = import_orders(shop, FILES / "shopify_orders.csv")

    assert summary.read_as["format"] == "shopify (detected from the header)"
    assert summary.read_as["encoding"] == "utf-8-sig"
    assert summary.read_as["delimiter"] == "comma"
    assert (summary.orders_taken, summary.orders_rejected) == (2, 2)
    # #1001: kettle from stock, skillet linked to PO-2001; #1003: the board linked to PO-2002
    assert (summary.lines_from_stock, summary.lines_linked) == (1, 2)
    errors = [(e.row, e.order_number, e.field, e.message) for e in summary.errors]
    assert (10, "#1004", "Lineitem quantity", "must be more than 0") in errors
    assert (11, "#1005", "sku", "unknown SKU 'POT-99'") in errors
    warnings = "\n".join(summary.warnings)
    assert "row 4, order #1002: Cancelled at: cancelled in the shop" in warnings
    assert "row 5, order #1003: Lineitem fulfillment status: line 'Stoneware mug" in warnings
    assert "row 6, order #1003: Lineitem sku: line 'Gift card €25' has no SKU" in warnings
    assert "row 7, order #1003: Lineitem requires shipping: line 'Gift wrapping'" in warnings

    with shop.db.read() as conn:
        placed = conn.execute(
            select(SalesOrder.number, SalesOrder.order_date, SalesOrder.delivery_date).where(
                SalesOrder.source == "shopify"
            )
        ).all()
        customer = conn.execute(
            select(Customer.code, Customer.name).where(Customer.email == "zoe.angstrom@example.com")
        ).one()
    # 23:30 in New York on the 24th is the 24th, whatever the server's time zone;
    # [format:shopify] delivery_lead_days = 5
    assert sorted(placed) == [
        ("#1001", date(2026, 11, 24), date(2026, 11, 29)),
        ("#1003", date(2026, 11, 25), date(2026, 11, 30)),
    ]
    assert tuple(customer) == ("zoe.angstrom@example.com", "Zoë Ångström")
    assert "linked to PO-2001 line 1" in outcome(shop, "shopify", "#1001")[2]
    assert list(outcome(shop, "shopify", "#1003")) == [4]  # its place among the shop's lines


def test_the_same_shopify_file_again_changes_nothing(shop: Context) -> None:
    import_orders(shop, FILES / "shopify_orders.csv", format="shopify")
    again = import_orders(shop, FILES / "shopify_orders.csv", format="shopify")
    assert (again.orders_taken, again.orders_duplicate) == (0, 2)
    assert again.read_as["format"] == "shopify"


def test_an_amazon_report_in_cp1252_is_read_by_its_own_columns(shop: Context) -> None:
    summary = import_orders(shop, FILES / "amazon_orders.txt")

    assert summary.read_as["format"] == "amazon (detected from the header)"
    assert summary.read_as["delimiter"] == "tab"
    assert summary.read_as["encoding"] != "utf-8"
    assert summary.orders_taken == 2
    assert [(e.row, e.order_number, e.field) for e in summary.errors] == [
        (5, "302-5555555-5555555", "buyer-email")
    ]
    lines = outcome(shop, "amazon", "302-1234567-1234567")
    assert "from stock" in lines[1]
    assert "PO-2002" in lines[2]
    with shop.db.read() as conn:
        names = set(conn.scalars(select(Customer.name)))
    assert {"Hélène Müller", "François Dupré"} <= names


def test_an_erp_file_through_its_mapping_profile(shop: Context) -> None:
    summary = import_orders(shop, FILES / "erp_orders.csv")

    assert summary.read_as["format"] == "mapped:erp (detected from the header)"
    assert summary.read_as["encoding"] == "cp1252"
    assert summary.read_as["delimiter"] == "semicolon"
    assert summary.orders_taken == 2
    assert [(e.row, e.order_number, e.field) for e in summary.errors] == [(5, "A-5003", "Datum")]
    assert "as %d/%m/%Y or YYYY-MM-DD, not '31/11/2026'" in summary.errors[0].message
    with shop.db.read() as conn:
        dates = dict(
            conn.execute(
                select(SalesOrder.number, SalesOrder.delivery_date).where(
                    SalesOrder.source == "erp"
                )
            ).all()
        )
    # A-5001 gives its own date; A-5002 has none: 25 Nov + the profile's 3 days
    assert dates == {"A-5001": date(2026, 12, 1), "A-5002": date(2026, 11, 28)}
    # A-5001: 3 kettles from the 4 in stock, 4 skillets linked to PO-2001 line 1;
    # A-5002: the last kettle and 1 waiting (counted as waiting): PO-2001's kettle line has
    # no status
    assert (summary.lines_from_stock, summary.lines_linked) == (1, 1)
    assert dict(summary.lines_skipped) == {"purchase order line has no status": 1}
    assert outcome(shop, "erp", "A-5001")[10].startswith("3 from stock")
    assert "PO-2001 line 1" in outcome(shop, "erp", "A-5001")[20]
    assert "purchase order line has no status" in outcome(shop, "erp", "A-5002")[10]


def test_a_workbook_through_the_same_profile(shop: Context) -> None:
    summary = import_orders(shop, FILES / "erp_orders.xlsx", format="mapped:erp")

    assert summary.ok, summary.errors
    assert summary.read_as["type"] == "xlsx"
    assert summary.orders_taken == 1
    assert outcome(shop, "erp", "A-6001")[10].startswith("5 from stock")


def test_bopo_files_saved_with_semicolons_in_cp1252_keep_their_row_numbers(
    shop: Context,
) -> None:
    summary = import_orders(shop, FILES / "bopo_semicolons.csv")

    assert summary.read_as["format"] == "bopo (detected from the header)"
    assert summary.orders_taken == 1
    assert [(e.row, e.field) for e in summary.errors] == [(4, "sku")]
    with shop.db.read() as conn:
        assert conn.scalar(select(Customer.name).where(Customer.code == "C-ZOE")) == "Zoë Lefèvre"


def test_a_header_that_fits_nothing_says_what_was_expected_and_found(
    shop: Context, tmp_path: Path
) -> None:
    other = tmp_path / "orders.csv"
    other.write_text("order;customer;item\nA;B;C\n")
    message = import_orders(shop, other, format="shopify").errors[0].message
    assert "not a shopify header: missing Name, Email, Created at" in message
    assert "found: order, customer, item" in message

    commas = tmp_path / "erp.csv"  # the profile says semicolons
    commas.write_text("Auftrag,Kunde,Kundenname,E-Mail,Datum,Liefertermin,Pos,Artikel,Menge\n")
    message = import_orders(shop, commas, format="mapped:erp").errors[0].message
    assert "The header is one column holding 8 commas: is the file comma-separated?" in message

    near = tmp_path / "near.csv"
    near.write_text("Name,Email,Created at,Lineitem quantity,Lineitem SKUs\n")
    assert (
        "'lineitem skus' for 'Lineitem sku'?"
        in import_orders(shop, near, format="shopify").errors[0].message
    )

    shopify_as_amazon = import_orders(shop, FILES / "shopify_orders.csv", format="amazon")
    assert "try --format shopify" in shopify_as_amazon.errors[0].message


def test_nul_bytes_and_unknown_formats_are_refused(shop: Context, tmp_path: Path) -> None:
    binary = tmp_path / "orders.csv"
    binary.write_bytes(b"Name,Email\x00\x01\n")
    assert "NUL bytes" in import_orders(shop, binary).errors[0].message
    with pytest.raises(InvalidInput, match="unknown format 'ebay'"):
        import_orders(shop, FILES / "shopify_orders.csv", format="ebay")
    with pytest.raises(InvalidInput, match="no mapping profile 'sap'"):
        import_orders(shop, FILES / "shopify_orders.csv", format="mapped:sap")


def test_a_header_two_formats_fit_asks_which(shop: Context, tmp_path: Path) -> None:
    ini = tmp_path / "two.ini"
    ini.write_text(
        "[format:lookalike]\norder_number = order_number\nsku = sku\nqty = qty\n"
        "order_date = order_date\ncustomer_email = customer_email\n"
    )
    shop.settings = shop.settings.model_copy(update={"formats": load_settings(ini, env={}).formats})
    summary = import_orders(shop, EXAMPLES / "sales_orders.csv")
    assert "the header fits bopo and mapped:lookalike; choose one with --format" in (
        summary.errors[0].message
    )
    assert import_orders(shop, EXAMPLES / "sales_orders.csv", format="bopo").orders_taken == 3


def test_a_shopify_section_chooses_the_customer_code_column(shop: Context, tmp_path: Path) -> None:
    ini = tmp_path / "shopify.ini"
    ini.write_text("[format:shopify]\ncustomer_code = billing name\nsource = webshop\n")
    shop.settings = shop.settings.model_copy(update={"formats": load_settings(ini, env={}).formats})
    summary = import_orders(shop, FILES / "shopify_orders.csv")
    assert summary.orders_taken == 2
    with shop.db.read() as conn:
        codes = set(
            conn.scalars(
                select(Customer.code)
                .join(SalesOrder, SalesOrder.customer_id == Customer.id)
                .where(SalesOrder.source == "webshop")
            )
        )
    assert codes == {"Zoë Ångström", '=HYPERLINK("http://x")Chloé'}


def test_bopo_files_as_bopo_writes_them_go_through_its_own_reader(
    shop: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bopo.services.files import formats, imports

    called = []
    real = imports.import_sales_orders
    monkeypatch.setattr(
        imports, "import_sales_orders", lambda *a, **k: called.append(a[1]) or real(*a, **k)
    )
    summary = formats.import_orders(shop, EXAMPLES / "sales_orders.csv")
    assert summary.read_as["format"] == "bopo (detected from the header)"
    assert summary.orders_taken == 3
    assert called == [EXAMPLES / "sales_orders.csv"]
