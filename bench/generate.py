"""Generate the benchmark data set: stock items, open PO lines, sales orders (CSV files),
and, when asked, the same sales orders as Shopify's orders export."""

from __future__ import annotations

import csv
import random
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

STATUSES = ["ON ORDER", "CONFIRMED", "DELAYED"]
SO_HEADER = [
    "source",
    "order_number",
    "customer_code",
    "customer_name",
    "customer_email",
    "order_date",
    "delivery_date",
    "line_no",
    "sku",
    "qty",
]


def generate(
    out: Path,
    *,
    items: int = 5_000,
    po_lines: int = 20_000,
    orders: int = 100_000,
    seed: int = 7,
    today: date = date(2026, 11, 25),
    shopify: bool = False,
) -> dict[str, Path]:
    """Write stock_items.csv, purchase_orders.csv and sales_orders.csv under `out`;
    with `shopify`, also orders_export.csv: the same sales orders as Shopify exports them.

    Stock is low against demand so that most lines need a PO line: the path
    under test is allocation, not stock assignment.
    """
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "stock": out / "stock_items.csv",
        "po": out / "purchase_orders.csv",
        "so": out / "sales_orders.csv",
    }
    if shopify:
        paths["shopify"] = out / "orders_export.csv"
    skus = [f"SKU-{i:05d}" for i in range(items)]
    with paths["stock"].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sku", "name", "on_hand"])
        for sku in skus:
            w.writerow([sku, f"Item {sku}", rng.choice([0, 0, 0, 5, 20, 100])])
    with paths["po"].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["po_number", "supplier_code", "line_no", "sku", "qty", "due_date", "status"])
        lines_per_po = 10
        for n in range(po_lines):
            po, line_no = divmod(n, lines_per_po)
            w.writerow(
                [
                    f"PO-{po:06d}",
                    f"SUP-{po % 50:03d}",
                    line_no + 1,
                    skus[n % items],
                    rng.randint(20, 400),
                    (today + timedelta(days=rng.randint(3, 90))).isoformat(),
                    rng.choice([*STATUSES, ""]),
                ]
            )
    with ExitStack() as files:
        w = csv.writer(files.enter_context(paths["so"].open("w", newline="")))
        w.writerow(SO_HEADER)
        shop = None
        if shopify:
            shop = csv.writer(files.enter_context(paths["shopify"].open("w", newline="")))
            shop.writerow(SHOPIFY_HEADER)
        for n in range(orders):
            customer = rng.randint(1, 20_000)
            delivery = (today + timedelta(days=rng.randint(1, 30))).isoformat()
            lines = [(sku, rng.randint(1, 4)) for sku in rng.sample(skus, rng.randint(1, 5))]
            number, email = f"SO-{n:07d}", f"c{customer}@example.com"
            for line_no, (sku, qty) in enumerate(lines, 1):
                w.writerow(
                    [
                        "web",
                        number,
                        f"C{customer:05d}",
                        f"Customer {customer}",
                        email,
                        today.isoformat(),
                        delivery,
                        line_no,
                        sku,
                        qty,
                    ]
                )
            if shop is not None:
                shop.writerows(
                    _shopify_rows(n, number, email, f"Customer {customer}", today, lines)
                )
    return paths


# Shopify's orders export ("Plain CSV file"): its columns, in its order.
SHOPIFY_HEADER = [
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Fulfillment Status",
    "Fulfilled at",
    "Accepts Marketing",
    "Currency",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Total",
    "Discount Code",
    "Discount Amount",
    "Shipping Method",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem compare at price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Billing Name",
    "Billing Street",
    "Billing Address1",
    "Billing Address2",
    "Billing Company",
    "Billing City",
    "Billing Zip",
    "Billing Province",
    "Billing Country",
    "Billing Phone",
    "Shipping Name",
    "Shipping Street",
    "Shipping Address1",
    "Shipping Address2",
    "Shipping Company",
    "Shipping City",
    "Shipping Zip",
    "Shipping Province",
    "Shipping Country",
    "Shipping Phone",
    "Notes",
    "Note Attributes",
    "Cancelled at",
    "Payment Method",
    "Payment Reference",
    "Refunded Amount",
    "Vendor",
    "Id",
    "Tags",
    "Risk Level",
    "Source",
    "Lineitem discount",
]
_AT = {c: i for i, c in enumerate(SHOPIFY_HEADER)}
# Filled on every row of an order; the rest only on its first row, as Shopify writes them.
_LINE = (
    "Name",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Vendor",
    "Lineitem discount",
)


def _shopify_rows(
    n: int, number: str, email: str, name: str, day: date, lines: list[tuple[str, int]]
) -> list[list[str]]:
    """One order of the bopo-format file as Shopify's export rows: the same number (`Name`),
    customer (`Email`), order date (`Created at`), items and quantities; every line pending
    and shipped. Prices and times come from the order's place, not the random generator,
    so that the bopo-format file stays as it was."""
    price = {sku: 5 + int(sku[-3:]) % 95 for sku, _ in lines}
    subtotal = sum(price[sku] * qty for sku, qty in lines)
    seconds = 8 * 3600 + n * 7 % (12 * 3600)  # the shop's day, 08:00 to 20:00
    created = f"{day.isoformat()} {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    created += " +0100"
    order = {
        "Email": email,
        "Financial Status": "paid",
        "Paid at": created,
        "Fulfillment Status": "pending",
        "Accepts Marketing": "no",
        "Currency": "EUR",
        "Subtotal": f"{subtotal:.2f}",
        "Shipping": "4.90",
        "Taxes": f"{subtotal * 0.19 / 1.19:.2f}",
        "Total": f"{subtotal + 4.90:.2f}",
        "Discount Amount": "0.00",
        "Shipping Method": "Standard",
        "Created at": created,
        "Billing Name": name,
        "Billing Street": "Hauptstrasse 5",
        "Billing Address1": "Hauptstrasse 5",
        "Billing City": "Berlin",
        "Billing Zip": "10115",
        "Billing Country": "DE",
        "Shipping Name": name,
        "Shipping Street": "Hauptstrasse 5",
        "Shipping Address1": "Hauptstrasse 5",
        "Shipping City": "Berlin",
        "Shipping Zip": "10115",
        "Shipping Country": "DE",
        "Payment Method": "Shopify Payments",
        "Payment Reference": f"c{5_920_000_000 + n}.1",
        "Refunded Amount": "0.00",
        "Id": str(5_920_000_000 + n),
        "Risk Level": "Low",
        "Source": "web",
    }
    rows = []
    for k, (sku, qty) in enumerate(lines):
        line = {
            "Name": number,
            "Lineitem quantity": str(qty),
            "Lineitem name": f"Item {sku}",
            "Lineitem price": f"{price[sku]:.2f}",
            "Lineitem sku": sku,
            "Lineitem requires shipping": "true",
            "Lineitem taxable": "true",
            "Lineitem fulfillment status": "pending",
            "Vendor": "Bench Supplies",
            "Lineitem discount": "0.00",
        }
        row = [""] * len(SHOPIFY_HEADER)
        for column, value in (order | line if k == 0 else line).items():
            row[_AT[column]] = value
        rows.append(row)
    return rows


if __name__ == "__main__":
    import sys

    print(generate(Path(sys.argv[1] if len(sys.argv) > 1 else "bench/data")))
