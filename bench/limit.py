"""The yardstick: the least work a correct intake does, timed on bopo's own bench data.

Single orders: each order is one transaction, written in plain psycopg 3 /
sqlite3, no SQLAlchemy: insert the order and its lines; for each line pick the
earliest-due open PO line of its item whose free quantity on order
(outstanding - associated) covers the whole line, locked (FOR UPDATE on
PostgreSQL; BEGIN IMMEDIATE on SQLite); insert the association (the schema's
own trigger adds it to the PO line's qty_associated; its CHECK refuses too
much); a line no PO line covers waits on the worklist. On PostgreSQL all of it
is one statement: one round trip per order. On SQLite the connection is set
up as bopo's (WAL, synchronous=NORMAL, foreign keys on).

Bulk: the same sales-order file bopo imports, into a database that holds the
same stock items and PO lines. PostgreSQL: COPY into a staging table, orders,
customers and lines inserted set-based, then one recursive statement walks each
item's lines in file order against its PO lines' free quantities (the same
earliest-due, whole-or-skip rule) and links them. SQLite: the file read in
Python, the same walk in memory, executemany for the rows.

Left out, as bopo's rules beyond this minimum: free stock taken first, the
default status given to a PO line without one, audit trail, decision records,
emails, the reason a line was skipped, and per-order checks of the input. The
orders of one run have distinct items, as the bench generates them.
"""

from __future__ import annotations

import csv
import sqlite3
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.common import Gate, Timer, psycopg_url, run_workers, sqlite_path

SOURCE = "limit"  # orders of the yardstick, next to bopo's own ("bench", "web")
WAITING = "no open purchase order"
SINGLE_ORDERS = 2_000  # per run, as bopo's (bench.intake.SINGLE_ORDERS)

# --- single orders ---------------------------------------------------------------------

PG_ORDER = """
WITH so AS (
    INSERT INTO sales_orders (source, number, customer_id, order_date, delivery_date,
                              created_at, created_by)
    SELECT %(source)s, %(number)s, c.id, %(order_date)s, %(delivery_date)s, now(), 'limit'
    FROM customers c WHERE c.code = %(customer)s
    RETURNING id
), wanted AS MATERIALIZED (
    SELECT nextval('so_lines_id_seq') AS id, u.line_no, s.id AS item, u.qty
    FROM unnest(%(line_nos)s::int[], %(skus)s::text[], %(qtys)s::int[]) AS u(line_no, sku, qty)
    JOIN stock_items s ON s.sku = u.sku
    ORDER BY s.id
), pick AS MATERIALIZED (
    SELECT w.id, w.line_no, w.item, w.qty, p.id AS po_line_id
    FROM wanted w LEFT JOIN LATERAL (
        SELECT id FROM po_lines
        WHERE stock_item_id = w.item
          AND qty_ordered - qty_delivered - qty_cancelled > 0
          AND qty_ordered - qty_delivered - qty_cancelled - qty_associated >= w.qty
        ORDER BY due_date NULLS LAST, id
        LIMIT 1
        FOR UPDATE
    ) p ON true
), lines AS (
    INSERT INTO so_lines (id, sales_order_id, line_no, stock_item_id, qty,
                          backorder_reason, backorder_since,
                          order_source, order_priority, order_delivery_date)
    SELECT pick.id, so.id, pick.line_no, pick.item, pick.qty,
           CASE WHEN pick.po_line_id IS NULL THEN %(waiting)s END,
           CASE WHEN pick.po_line_id IS NULL THEN now() END,
           %(source)s, 1, %(delivery_date)s
    FROM pick, so
)
INSERT INTO associations (so_line_id, po_line_id, qty, created_at, created_by)
SELECT id, po_line_id, qty, now(), 'limit' FROM pick WHERE po_line_id IS NOT NULL
"""


def _pg_params(order: Any) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "number": order.number,
        "customer": order.customer.code,
        "order_date": order.order_date,
        "delivery_date": order.delivery_date,
        "line_nos": [line.line_no for line in order.lines],
        "skus": [line.sku for line in order.lines],
        "qtys": [line.qty for line in order.lines],
        "waiting": WAITING,
    }


def _pg_customer(conn: psycopg.Connection[Any], order: Any) -> None:
    c = order.customer
    conn.execute(
        "INSERT INTO customers (code, name, email, created_at) VALUES (%s, %s, %s, now()) "
        "ON CONFLICT (code) DO NOTHING",
        (c.code, c.name, c.email),
    )


def _pg_worker(url: str, worker: int, count: int, items: int, gate: Gate) -> None:
    from bench.intake import _orders  # the same orders bopo's workers take

    orders = _orders(worker, count, items)
    retries = 0
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        _pg_customer(conn, orders[0])
        conn.execute(PG_ORDER, _pg_params(orders[0]), prepare=True)  # warm up, as bopo's do
        gate.ready()
        cpu, started = time.process_time(), time.perf_counter()
        for order in orders[1:]:
            params = _pg_params(order)
            while True:  # one statement, its own transaction: a deadlock undoes all of it
                try:
                    conn.execute(PG_ORDER, params, prepare=True)
                    break
                except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                    retries += 1
        gate.report(
            len(orders) - 1,
            time.perf_counter() - started,
            time.process_time() - cpu,
            retries=retries,
        )


def pg_single(url: str, workers: int, items: int) -> dict[str, Any]:
    """The yardstick's orders/s with `workers` processes, each on its own connection."""
    before = _taken(url)
    result = run_workers(
        url,
        _pg_worker,
        [(url, w + 10 * workers, SINGLE_ORDERS // workers, items) for w in range(workers)],
    )
    _check(url, before, result["orders"] + workers)
    return result


def _taken(url: str) -> tuple[int, int]:
    """The yardstick's orders and lines so far."""
    sql = (
        "SELECT count(DISTINCT o.id), count(l.id) FROM sales_orders o "
        f"JOIN so_lines l ON l.sales_order_id = o.id WHERE o.source = '{SOURCE}'"
    )
    if url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(url)) as conn:
            row = conn.execute(sql).fetchone()
    else:
        with psycopg.connect(psycopg_url(url)) as pg:
            row = pg.execute(sql).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _check(url: str, before: tuple[int, int], orders: int) -> None:
    """Every order of the run went in whole; and most lines found a PO line (the work
    measured is allocation, not skipping)."""
    after = _taken(url)
    assert after[0] - before[0] == orders, (before, after, orders)
    sql = (
        "SELECT count(*) FROM associations a JOIN so_lines l ON l.id = a.so_line_id "
        f"JOIN sales_orders o ON o.id = l.sales_order_id WHERE o.source = '{SOURCE}'"
    )
    if url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(url)) as conn:
            linked = conn.execute(sql).fetchone()[0]
    else:
        with psycopg.connect(psycopg_url(url)) as pg:
            linked = pg.execute(sql).fetchone()[0]  # type: ignore[index]
    assert linked > after[1] // 2, (linked, after)


def _sqlite_connect(url: str) -> sqlite3.Connection:
    """A connection set up as bopo's (bopo.db.engine): WAL, synchronous=NORMAL, foreign keys."""
    conn = sqlite3.connect(sqlite_path(url), timeout=60, isolation_level=None)
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "busy_timeout=60000",
        "cache_size=-65536",
    ):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def _stamp(now: datetime) -> str:
    """A timestamp as bopo stores it on SQLite."""
    return now.strftime("%Y-%m-%d %H:%M:%S.%f")


SQLITE_CANDIDATE = """
SELECT id FROM po_lines
WHERE stock_item_id = ?
  AND qty_ordered - qty_delivered - qty_cancelled > 0
  AND qty_ordered - qty_delivered - qty_cancelled - qty_associated >= ?
ORDER BY due_date IS NULL, due_date, id
LIMIT 1
"""


def _sqlite_order(conn: sqlite3.Connection, order: Any) -> None:
    now = _stamp(datetime.now(UTC))
    conn.execute("BEGIN IMMEDIATE")
    try:
        order_id = conn.execute(
            "INSERT INTO sales_orders (source, number, customer_id, order_date, delivery_date, "
            "status, created_at, created_by, priority) "
            "VALUES (?, ?, (SELECT id FROM customers WHERE code = ?), ?, ?, 'open', ?, 'limit', 1)",
            (
                SOURCE,
                order.number,
                order.customer.code,
                order.order_date.isoformat(),
                order.delivery_date.isoformat(),
                now,
            ),
        ).lastrowid
        for line in order.lines:
            (item,) = conn.execute(
                "SELECT id FROM stock_items WHERE sku = ?", (line.sku,)
            ).fetchone()
            pick = conn.execute(SQLITE_CANDIDATE, (item, line.qty)).fetchone()
            line_id = conn.execute(
                "INSERT INTO so_lines (sales_order_id, line_no, stock_item_id, qty, "
                "qty_assigned, qty_shipped, qty_cancelled, backorder_reason, backorder_since, "
                "order_source, order_priority, order_delivery_date) "
                "VALUES (?, ?, ?, ?, 0, 0, 0, ?, ?, ?, 1, ?)",
                (
                    order_id,
                    line.line_no,
                    item,
                    line.qty,
                    None if pick else WAITING,
                    None if pick else now,
                    SOURCE,
                    order.delivery_date.isoformat(),
                ),
            ).lastrowid
            if pick:
                conn.execute(
                    "INSERT INTO associations (so_line_id, po_line_id, qty, state, created_at, "
                    "created_by) VALUES (?, ?, ?, 'active', ?, 'limit')",
                    (line_id, pick[0], line.qty, now),
                )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _sqlite_worker(url: str, worker: int, count: int, items: int, gate: Gate) -> None:
    from bench.intake import _orders

    orders = _orders(worker, count, items)
    conn = _sqlite_connect(url)
    c = orders[0].customer
    conn.execute(
        "INSERT INTO customers (code, name, email, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (code) DO NOTHING",
        (c.code, c.name, c.email, _stamp(datetime.now(UTC))),
    )
    _sqlite_order(conn, orders[0])
    gate.ready()
    cpu, started = time.process_time(), time.perf_counter()
    for order in orders[1:]:
        _sqlite_order(conn, order)
    gate.report(len(orders) - 1, time.perf_counter() - started, time.process_time() - cpu)
    conn.close()


def sqlite_single(url: str, items: int) -> dict[str, Any]:
    """The yardstick's orders/s on SQLite, one connection."""
    before = _taken(url)
    result = run_workers(url, _sqlite_worker, [(url, 10, SINGLE_ORDERS, items)])
    _check(url, before, result["orders"] + 1)
    return result


# --- bulk --------------------------------------------------------------------------------

PG_STAGE = """
CREATE TEMP TABLE staged (
    seq bigint GENERATED ALWAYS AS IDENTITY,
    source text, order_number text, customer_code text, customer_name text,
    customer_email text, order_date date, delivery_date date, line_no int, sku text, qty int
) ON COMMIT DROP
"""
PG_COPY = (
    "COPY staged (source, order_number, customer_code, customer_name, customer_email, "
    "order_date, delivery_date, line_no, sku, qty) FROM STDIN WITH (FORMAT csv, HEADER true)"
)
PG_CUSTOMERS = """
INSERT INTO customers (code, name, email, created_at)
SELECT DISTINCT ON (customer_code) customer_code, customer_name, customer_email, now()
FROM staged ORDER BY customer_code, seq DESC
ON CONFLICT (code) DO UPDATE SET name = excluded.name, email = excluded.email
"""
PG_ORDERS = """
INSERT INTO sales_orders (source, number, customer_id, order_date, delivery_date,
                          created_at, created_by)
SELECT o.source, o.order_number, c.id, o.order_date, o.delivery_date, now(), 'limit'
FROM (SELECT DISTINCT ON (source, order_number) * FROM staged
      ORDER BY source, order_number, seq) o
JOIN customers c ON c.code = o.customer_code
ORDER BY o.seq
"""
PG_LINES = """
INSERT INTO so_lines (sales_order_id, line_no, stock_item_id, qty,
                      order_source, order_priority, order_delivery_date)
SELECT o.id, s.line_no, i.id, s.qty, o.source, o.priority, o.delivery_date
FROM staged s
JOIN sales_orders o ON o.number = s.order_number AND o.source = s.source
JOIN stock_items i ON i.sku = s.sku
ORDER BY s.seq
"""
# Each item's new lines in file order (ids were given in file order) walk its open PO
# lines, earliest due first: line n takes the first PO line whose free quantity covers
# it, or none. A walk row carries the item's free quantities after line n.
PG_ALLOCATE = """
WITH RECURSIVE supply AS MATERIALIZED (
    SELECT stock_item_id AS item,
           array_agg(id ORDER BY due_date NULLS LAST, id) AS po_ids,
           array_agg(qty_ordered - qty_delivered - qty_cancelled - qty_associated
                     ORDER BY due_date NULLS LAST, id) AS free
    FROM po_lines
    WHERE qty_ordered - qty_delivered - qty_cancelled > 0
    GROUP BY stock_item_id
), demand AS MATERIALIZED (
    SELECT stock_item_id AS item, array_agg(id ORDER BY id) AS ids,
           array_agg(qty ORDER BY id) AS qtys
    FROM so_lines WHERE id > %(after)s
    GROUP BY stock_item_id
), walk (item, n, po_ids, free, so_line_id, qty, k) AS (
    SELECT s.item, 0, s.po_ids, s.free, NULL::int, NULL::int, NULL::int
    FROM supply s JOIN demand d ON d.item = s.item
    UNION ALL
    SELECT w.item, w.n + 1, w.po_ids,
           CASE WHEN f.k IS NULL THEN w.free
                ELSE w.free[:f.k - 1] || (w.free[f.k] - d.qtys[w.n + 1]) || w.free[f.k + 1:]
           END,
           d.ids[w.n + 1], d.qtys[w.n + 1], f.k
    FROM walk w
    JOIN demand d ON d.item = w.item AND w.n < cardinality(d.ids)
    CROSS JOIN LATERAL (
        SELECT min(i) AS k FROM generate_subscripts(w.free, 1) AS i
        WHERE w.free[i] >= d.qtys[w.n + 1]
    ) f
), linked AS (
    INSERT INTO associations (so_line_id, po_line_id, qty, created_at, created_by)
    SELECT so_line_id, po_ids[k], qty, now(), 'limit' FROM walk WHERE k IS NOT NULL
    RETURNING so_line_id
)
UPDATE so_lines l SET backorder_reason = %(waiting)s, backorder_since = now()
WHERE l.id > %(after)s AND l.id NOT IN (SELECT so_line_id FROM linked)
"""


def pg_bulk(url: str, sales_orders: Path) -> dict[str, Any]:
    """The sales-order file in: COPY, set-based inserts, one recursive allocation."""
    with psycopg.connect(psycopg_url(url)) as conn, Timer() as t, conn.transaction():
        after = conn.execute("SELECT coalesce(max(id), 0) FROM so_lines").fetchone()
        # The allocation's estimated cost crosses jit_above_cost; compiling it costs more
        # than it saves at this size.
        conn.execute("SET LOCAL jit = off")
        conn.execute(PG_STAGE)
        with conn.cursor().copy(PG_COPY) as copy, sales_orders.open("rb") as f:
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        conn.execute(PG_CUSTOMERS)
        orders = conn.execute(PG_ORDERS).rowcount
        lines = conn.execute(PG_LINES).rowcount
        waiting = conn.execute(
            PG_ALLOCATE, {"after": after[0] if after else 0, "waiting": WAITING}
        ).rowcount
    return {
        "orders": orders,
        "lines": lines,
        "linked": lines - waiting,
        "seconds": round(t.seconds, 2),
        "lines_per_s": round(lines / t.seconds),
    }


def sqlite_bulk(url: str, sales_orders: Path) -> dict[str, Any]:
    """The sales-order file in: read in Python, allocated in memory, executemany."""
    conn = _sqlite_connect(url)
    cpu = time.process_time()
    try:
        with Timer() as t:
            result = _sqlite_bulk(conn, sales_orders)
    finally:
        conn.close()
    cpu = time.process_time() - cpu
    return result | {
        "seconds": round(t.seconds, 2),
        "lines_per_s": round(result["lines"] / t.seconds),
        "cpu_seconds": round(cpu, 2),
        "lines_per_cpu_s": round(result["lines"] / cpu),
    }


def _sqlite_bulk(conn: sqlite3.Connection, sales_orders: Path) -> dict[str, Any]:
    now = _stamp(datetime.now(UTC))
    with sales_orders.open(newline="") as f:
        rows = list(csv.DictReader(f))
    conn.execute("BEGIN IMMEDIATE")
    items = dict(conn.execute("SELECT sku, id FROM stock_items"))
    # Each item's open PO lines, earliest due first: [id, free] pairs, changed as lines link.
    supply: dict[int, list[list[int]]] = defaultdict(list)
    for item, po_line, free in conn.execute(
        "SELECT stock_item_id, id, qty_ordered - qty_delivered - qty_cancelled - qty_associated "
        "FROM po_lines WHERE qty_ordered - qty_delivered - qty_cancelled > 0 "
        "ORDER BY due_date IS NULL, due_date, id"
    ):
        supply[item].append([po_line, free])
    customers = {r["customer_code"]: (r["customer_name"], r["customer_email"]) for r in rows}
    conn.executemany(
        "INSERT INTO customers (code, name, email, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (code) DO UPDATE SET name = excluded.name, email = excluded.email",
        [(code, name, email, now) for code, (name, email) in customers.items()],
    )
    customer_ids = dict(conn.execute("SELECT code, id FROM customers"))
    next_order = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM sales_orders").fetchone()[0]
    next_line = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM so_lines").fetchone()[0]
    order_ids: dict[tuple[str, str], int] = {}
    orders, lines, links = [], [], []
    heads: dict[int, tuple[str, str]] = {}  # what an order's lines carry: source, delivery
    for r in rows:
        key = (r["source"], r["order_number"])
        order_id = order_ids.get(key)
        if order_id is None:
            order_id = order_ids[key] = next_order
            heads[order_id] = (r["source"], r["delivery_date"])
            next_order += 1
            orders.append(
                (
                    order_id,
                    r["source"],
                    r["order_number"],
                    customer_ids[r["customer_code"]],
                    r["order_date"],
                    r["delivery_date"],
                    now,
                )
            )
        item, qty = items[r["sku"]], int(r["qty"])
        pick = next((p for p in supply.get(item, ()) if p[1] >= qty), None)
        if pick is not None:
            pick[1] -= qty
            links.append((next_line, pick[0], qty, now))
        lines.append(
            (
                next_line,
                order_id,
                int(r["line_no"]),
                item,
                qty,
                None if pick else WAITING,
                None if pick else now,
                *heads[order_id],
            )
        )
        next_line += 1
    conn.executemany(
        "INSERT INTO sales_orders (id, source, number, customer_id, order_date, delivery_date, "
        "status, created_at, created_by, priority) "
        "VALUES (?, ?, ?, ?, ?, ?, 'open', ?, 'limit', 1)",
        orders,
    )
    conn.executemany(
        "INSERT INTO so_lines (id, sales_order_id, line_no, stock_item_id, qty, qty_assigned, "
        "qty_shipped, qty_cancelled, backorder_reason, backorder_since, order_source, "
        "order_priority, order_delivery_date) VALUES (?, ?, ?, ?, ?, 0, 0, 0, ?, ?, ?, 1, ?)",
        lines,
    )
    conn.executemany(
        "INSERT INTO associations (so_line_id, po_line_id, qty, state, created_at, created_by) "
        "VALUES (?, ?, ?, 'active', ?, 'limit')",
        links,
    )
    conn.execute("COMMIT")
    return {"orders": len(orders), "lines": len(lines), "linked": len(links)}


# --- the table -------------------------------------------------------------------------------


def ratio(bopo: float, limit: float) -> float:
    return round(bopo / limit, 3) if limit else 0.0
