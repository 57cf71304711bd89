"""Generate the benchmark data set: stock items, open PO lines, sales orders (CSV files)."""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

STATUSES = ["ON ORDER", "CONFIRMED", "DELAYED"]


def generate(
    out: Path,
    *,
    items: int = 5_000,
    po_lines: int = 20_000,
    orders: int = 100_000,
    seed: int = 7,
    today: date = date(2026, 11, 25),
) -> dict[str, Path]:
    """Write stock_items.csv, purchase_orders.csv and sales_orders.csv under `out`.

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
    with paths["so"].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
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
        )
        for n in range(orders):
            customer = rng.randint(1, 20_000)
            delivery = (today + timedelta(days=rng.randint(1, 30))).isoformat()
            for line_no, sku in enumerate(rng.sample(skus, rng.randint(1, 5)), 1):
                w.writerow(
                    [
                        "web",
                        f"SO-{n:07d}",
                        f"C{customer:05d}",
                        f"Customer {customer}",
                        f"c{customer}@example.com",
                        today.isoformat(),
                        delivery,
                        line_no,
                        sku,
                        rng.randint(1, 4),
                    ]
                )
    return paths


if __name__ == "__main__":
    import sys

    print(generate(Path(sys.argv[1] if len(sys.argv) > 1 else "bench/data")))
