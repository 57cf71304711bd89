"""The web suite's data set above the normal scale (BOPO_BENCH_SCALE > 1), on PostgreSQL:
one normal-sized world loaded through bopo (import with allocation, emails, the outbox
spread), then copied in SQL, set-based, until the database holds the scale asked for.

Each copy is a world of its own: its stock items, PO lines, sales orders, lines,
associations, emails and decision records get ids (and SKUs, PO and order numbers) past
the ones before, numbered as bench/generate.py numbers them at that scale (SKU-49999 and
SO-0999999 at BOPO_BENCH_SCALE=10), so each copy's counters (qty_associated, assigned)
stay true of its own rows, and so do its order lines' copies of their order's source,
priority and delivery date (0013): copied as they are, as the orders' are. Customers
and suppliers are shared, as generate.py draws them from fixed pools. Triggers and
foreign-key checks are off while copying (`session_replication_role = replica`): the
copied counters are already right, and the copied rows point only at rows copied with
them.

The database is kept (`bopo_bench_web_<orders>_<migration head>`) and reused by the next
run at the same scale; BOPO_BENCH_REBUILD=1 builds it afresh.
"""

from __future__ import annotations

import os
import time
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url

from bench.common import PG_ADMIN_URL, Scale
from bopo.db.engine import Database
from bopo.db.migrate import upgrade

# Per copy k (1..copies-1): the columns of each table that change, as SQL of the base
# row; the others are copied as they are. {o_x} is table x's id offset per copy,
# {items}/{orders}/{pos} the base's counts.
SKU = "lpad((substr(sku, 5)::int + k * {items})::text, 5, '0')"
COPIES: dict[str, dict[str, str]] = {
    "stock_items": {
        "id": "id + k * {o_stock_items}",
        "sku": f"'SKU-' || {SKU}",
        "name": f"'Item SKU-' || {SKU}",
    },
    "purchase_orders": {
        "id": "id + k * {o_purchase_orders}",
        "number": "'PO-' || lpad((substr(number, 4)::int + k * {pos})::text, 6, '0')",
    },
    "po_lines": {
        "id": "id + k * {o_po_lines}",
        "purchase_order_id": "purchase_order_id + k * {o_purchase_orders}",
        "stock_item_id": "stock_item_id + k * {o_stock_items}",
    },
    "sales_orders": {
        "id": "id + k * {o_sales_orders}",
        "number": "'SO-' || lpad((substr(number, 4)::int + k * {orders})::text, 7, '0')",
    },
    "so_lines": {
        "id": "id + k * {o_so_lines}",
        "sales_order_id": "sales_order_id + k * {o_sales_orders}",
        "stock_item_id": "stock_item_id + k * {o_stock_items}",
    },
    "associations": {
        "id": "id + k * {o_associations}",
        "so_line_id": "so_line_id + k * {o_so_lines}",
        "po_line_id": "po_line_id + k * {o_po_lines}",
    },
    "pending_emails": {
        "id": "id + k * {o_pending_emails}",
        "sales_order_id": "sales_order_id + k * {o_sales_orders}",
        "message_id": "'c' || k || '.' || message_id",
        "superseded_by_id": "superseded_by_id + k * {o_pending_emails}",
    },
    "pending_email_associations": {
        "email_id": "email_id + k * {o_pending_emails}",
        "association_id": "association_id + k * {o_associations}",
    },
    # candidates: [po_line_id, due_in, free, taken, ...], the ids moved with their lines.
    "allocation_decisions": {
        "id": "id + k * {o_allocation_decisions}",
        "so_line_id": "so_line_id + k * {o_so_lines}",
        "candidates": "(SELECT json_agg(CASE WHEN n % 4 = 1 THEN v + k * {o_po_lines} "
        "ELSE v END ORDER BY n) FROM json_array_elements_text(candidates) WITH ORDINALITY "
        "AS c(e, n), LATERAL (SELECT e::int AS v) AS x)",
    },
    "audit_log": {
        "id": "id + k * {o_audit_log}",
        "entity_id": "entity_id + k * CASE entity WHEN 'po_line' THEN {o_po_lines} "
        "WHEN 'association' THEN {o_associations} ELSE {o_stock_items} END",
    },
}
AUDIT_COPIED = "entity IN ('po_line', 'association', 'stock_item')"
SEQUENCED = [t for t in COPIES if t != "pending_email_associations"]


def database_name(scale: Scale) -> str:
    revisions = [f for f in os.listdir(_versions()) if f[:1].isdigit() and f.endswith(".py")]
    head = max(revisions).split("_")[0]
    return f"bopo_bench_web_{scale.orders}_{head}"


def _versions() -> str:
    from bopo.db import migrations

    return os.path.join(os.path.dirname(migrations.__file__), "versions")


def prepared(scale: Scale, load: Any) -> tuple[str, float | None]:
    """The URL of the kept database at `scale`, built now (`load(url, base_scale)` loads
    the base world) unless a complete one is there; the build's seconds, or None."""
    name = database_name(scale)
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if exists and not os.environ.get("BOPO_BENCH_REBUILD") and _complete(url):
                return url, None
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    start = time.perf_counter()
    db = Database(url)
    upgrade(db)
    db.dispose()
    copies = max(1, round(scale.orders / Scale().orders))
    base = Scale(scale.items // copies, scale.po_lines // copies, scale.orders // copies)
    load(url, base)
    replicate(url, base, copies)
    return url, round(time.perf_counter() - start, 1)


def _complete(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.scalar(text("SELECT to_regclass('bench_built') IS NOT NULL")))
    finally:
        engine.dispose()


def replicate(url: str, base: Scale, copies: int) -> None:
    """Copies 1..copies-1 of the base world, then fresh statistics and visibility maps."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        offsets = {
            f"o_{t}": conn.scalar(text(f"SELECT coalesce(max(id), 0) FROM {t}")) or 0
            for t in SEQUENCED
        }
        names = offsets | {
            "items": base.items,
            "orders": base.orders,
            "pos": -(-base.po_lines // 10),
        }
        conn.execute(text("SET session_replication_role = replica"))
        for table, changed in COPIES.items():  # each its own statement; bench_built last
            moved = {c: sql.format(**names) for c, sql in changed.items()}
            _copy(conn, table, moved, copies)
        conn.execute(text("SET session_replication_role = DEFAULT"))
        for table in SEQUENCED:
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
        conn.execute(text("VACUUM ANALYZE"))  # as autovacuum would after a bulk load
        conn.execute(text("CREATE TABLE bench_built (at timestamptz DEFAULT now())"))
    engine.dispose()


def _copy(conn: Connection, table: str, moved: dict[str, str], copies: int) -> None:
    columns = list(
        conn.scalars(
            text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name = :t ORDER BY ordinal_position"
            ),
            {"t": table},
        )
    )
    values = ", ".join(moved.get(c, c) for c in columns)
    where = f" WHERE {AUDIT_COPIED}" if table == "audit_log" else ""
    conn.execute(
        text(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} FROM {table} "
            f"CROSS JOIN generate_series(1, {copies - 1}) AS k{where}"
        )
    )
