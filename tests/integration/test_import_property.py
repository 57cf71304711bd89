"""Importing a file that overlaps what was taken before is the same as importing only
what is new: for random new and already-taken orders (sent again the same or changed),
shuffled together and taken in small batches, the store ends exactly as if the file
had held only the new ones.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import aliased

from bopo.config import BackorderSettings, DatabaseSettings, EmailSettings, Settings
from bopo.db.bulk import COPY_FROM_ROWS
from bopo.db.engine import Database
from bopo.db.models import (
    AllocationDecision,
    Association,
    AuditEvent,
    Customer,
    PendingEmail,
    PoLine,
    PoLineStatus,
    PurchaseOrder,
    SalesOrder,
    SoLine,
    StockItem,
)
from bopo.domain.intake import Intake
from bopo.logs import request_id
from bopo.services.context import Context
from bopo.services.files.imports import ImportSummary, import_sales_orders
from bopo.services.orders import intake
from bopo.services.worklist.backorders import list_backorders
from tests.conftest import _empty_pg
from tests.helpers import day, given_po, given_status, given_stock, given_template

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CUSTOMERS = ("C0", "C1", "C2", "C3")

Order = tuple[str, tuple[tuple[str, int], ...], int]  # customer, lines (sku, qty), delivery day

orders = st.tuples(
    st.sampled_from(CUSTOMERS),
    st.lists(st.tuples(st.sampled_from(("A", "B")), st.integers(1, 4)), min_size=1, max_size=2).map(
        tuple
    ),
    st.integers(1, 10),
)


def _changed(o: Order, how: str) -> Order:
    """The order as sent again: the same, or with one thing changed."""
    customer, lines, delivery = o
    if how == "qty":
        return customer, ((lines[0][0], lines[0][1] + 1), *lines[1:]), delivery
    if how == "date":
        return customer, lines, delivery + 1
    if how == "line":
        return customer, (*lines, ("A", 1)), delivery
    if how == "customer":
        return CUSTOMERS[(CUSTOMERS.index(customer) + 1) % len(CUSTOMERS)], lines, delivery
    return o


def _write(path: Path, numbered: list[tuple[str, Order]]) -> Path:
    """The orders as a file, CSV or JSON by the path's extension."""
    docs = [
        {
            "source": "web",
            "order_number": number,
            "customer_code": customer,
            "customer_name": f"Customer {customer}",
            "customer_email": f"{customer.lower()}@example.com",
            "order_date": "2026-11-25",
            "delivery_date": day(delivery).isoformat(),
            "lines": [{"line_no": n, "sku": s, "qty": q} for n, (s, q) in enumerate(lines, 1)],
        }
        for number, (customer, lines, delivery) in numbered
    ]
    if path.suffix == ".json":
        path.write_text(json.dumps({"orders": docs}))
        return path
    head = [k for k in docs[0] if k != "lines"] if docs else []
    rows = [",".join([*head, "line_no", "sku", "qty"])]
    for doc in docs:
        for line in doc["lines"]:
            rows.append(",".join([*(str(doc[k]) for k in head), *map(str, line.values())]))
    path.write_text("\n".join(rows) + "\n")
    return path


def _context(url: str) -> Context:
    settings = Settings(
        database=DatabaseSettings(url=url),
        backorders=BackorderSettings(allocate_existing_pos=True),
        email=EmailSettings(company_name="Test Shop", from_address="shop@example.com"),
    )
    return Context(Database(url), settings, clock=lambda: T0)


def _set_the_scene(ctx: Context) -> None:
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    given_stock(ctx, A=3, B=1)
    given_po(ctx, "PO-1", ("A", 4, day(5), "ON ORDER"), ("B", 5, day(3), "ON ORDER"))
    given_po(ctx, "PO-2", ("B", 3, day(9)), ("A", 2, day(2), "ON ORDER"))


def _store(conn: Connection) -> dict[str, Any]:
    """Everything intake writes, by natural keys (ids differ from one database to another)."""
    po_line = aliased(PoLine)
    return {
        "customers": sorted(conn.execute(select(Customer.code, Customer.name, Customer.email))),
        "orders": sorted(
            conn.execute(
                select(
                    SalesOrder.source,
                    SalesOrder.number,
                    Customer.code,
                    SalesOrder.order_date,
                    SalesOrder.delivery_date,
                    SalesOrder.status,
                    SalesOrder.priority,
                ).join(Customer, Customer.id == SalesOrder.customer_id)
            )
        ),
        "lines": sorted(
            conn.execute(
                select(
                    SalesOrder.number,
                    SoLine.line_no,
                    StockItem.sku,
                    SoLine.qty,
                    SoLine.qty_assigned,
                    SoLine.qty_shipped,
                    SoLine.qty_cancelled,
                    SoLine.backorder_reason,
                )
                .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
                .join(StockItem, StockItem.id == SoLine.stock_item_id)
            )
        ),
        "stock": sorted(conn.execute(select(StockItem.sku, StockItem.on_hand, StockItem.assigned))),
        "po_lines": sorted(
            conn.execute(
                select(
                    PurchaseOrder.number, PoLine.line_no, PoLine.qty_associated, PoLineStatus.code
                )
                .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
                .outerjoin(PoLineStatus, PoLineStatus.id == PoLine.status_id)
            )
        ),
        "links": sorted(
            conn.execute(
                select(
                    SalesOrder.number,
                    SoLine.line_no,
                    PurchaseOrder.number,
                    po_line.line_no,
                    Association.qty,
                    Association.state,
                )
                .join(SoLine, SoLine.id == Association.so_line_id)
                .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
                .join(po_line, po_line.id == Association.po_line_id)
                .join(PurchaseOrder, PurchaseOrder.id == po_line.purchase_order_id)
            )
        ),
        "emails": sorted(
            conn.execute(
                select(
                    SalesOrder.number,
                    PendingEmail.event,
                    PendingEmail.to_address,
                    PendingEmail.to_name,
                    PendingEmail.subject,
                    PendingEmail.body_text,
                    PendingEmail.state,
                ).join(SalesOrder, SalesOrder.id == PendingEmail.sales_order_id)
            )
        ),
    }


def _worklist(ctx: Context) -> list[tuple[Any, ...]]:
    return sorted((b.number, b.line_no, b.reason, b.waiting) for b in list_backorders(ctx))


def _import(
    url: str,
    folder: Path,
    before: list[tuple[str, Order]],
    file: list[tuple[str, Order]],
    *,
    fmt: str,
    batch_size: int,
) -> tuple[ImportSummary, dict[str, Any]]:
    """Take `before` (yesterday's file), then import `file`; the summary and the store."""
    ctx = _context(url)
    try:
        _set_the_scene(ctx)
        if before:
            earlier = import_sales_orders(ctx, _write(folder / f"before.{fmt}", before))
            assert (earlier.ok, earlier.orders_taken) == (True, len(before)), earlier.errors
        summary = import_sales_orders(
            ctx, _write(folder / f"today.{fmt}", file), batch_size=batch_size
        )
        with ctx.db.read() as conn:
            store = _store(conn)
        return summary, store | {"worklist": _worklist(ctx)}
    finally:
        ctx.db.dispose()


@pytest.fixture
def fresh_database(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[], str]:
    made = [0]

    def fresh() -> str:
        made[0] += 1
        if db_url.startswith("sqlite"):
            path = tmp_path / f"import-{made[0]}.db"
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
            return f"sqlite:///{path}"
        _empty_pg(db_url)
        return db_url

    return fresh


def test_an_overlapping_file_leaves_the_store_as_the_new_orders_alone_would(
    fresh_database: Callable[[], str], tmp_path: Path
) -> None:
    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        taken=st.lists(orders, max_size=5),
        new=st.lists(orders, min_size=1, max_size=6),
        changes=st.lists(st.sampled_from(("same", "same", "qty", "date", "line", "customer"))),
        data=st.data(),
        batch_size=st.integers(1, 4),
        fmt=st.sampled_from(("csv", "json")),
    )
    def check(
        taken: list[Order],
        new: list[Order],
        changes: list[str],
        data: st.DataObject,
        batch_size: int,
        fmt: str,
    ) -> None:
        old = [(f"OLD-{i}", o) for i, o in enumerate(taken)]
        hows = (changes + ["same"] * len(old))[: len(old)]
        again = [(n, _changed(o, how)) for (n, o), how in zip(old, hows, strict=True)]
        fresh = [(f"NEW-{i}", o) for i, o in enumerate(new)]
        mixed = data.draw(st.permutations(again + fresh), label="file")
        in_file_order = [x for x in mixed if x[0].startswith("NEW-")]
        changed = sum(1 for (_, o), (_, a) in zip(old, again, strict=True) if o != a)

        summary, store = _import(
            fresh_database(), tmp_path, old, mixed, fmt=fmt, batch_size=batch_size
        )
        assert not summary.errors
        assert (
            summary.orders_taken,
            summary.orders_duplicate,
            summary.orders_changed,
            summary.ok,
        ) == (len(new), len(old) - changed, changed, not changed)
        assert [r.number for r in summary.results] == [n for n, _ in mixed]

        _, alone = _import(
            fresh_database(), tmp_path, old, in_file_order, fmt=fmt, batch_size=batch_size
        )
        assert store == alone

    check()


def _history(conn: Connection) -> dict[str, Any]:
    """The decision records and the audit trail, as written; an association's id by its
    rank (a small batch on PostgreSQL reserves a link id for every line ahead, so the
    ids taken one by one have gaps where a line needed none)."""
    rank = {
        a: n for n, a in enumerate(conn.scalars(select(Association.id).order_by(Association.id)))
    }
    decisions = select(
        AllocationDecision.so_line_id,
        AllocationDecision.kind,
        AllocationDecision.policy,
        AllocationDecision.need,
        AllocationDecision.from_stock,
        AllocationDecision.reason,
        AllocationDecision.candidates,
        AllocationDecision.considered,
    ).order_by(AllocationDecision.so_line_id)
    audit = select(
        AuditEvent.actor,
        AuditEvent.action,
        AuditEvent.entity,
        AuditEvent.entity_id,
        AuditEvent.before,
        AuditEvent.after,
    )
    return {
        "decisions": [tuple(r) for r in conn.execute(decisions)],
        "audit": sorted(
            tuple(
                json.dumps(rank[v] if k == 3 and r.entity == "association" else v, sort_keys=True)
                for k, v in enumerate(r)
            )
            for r in conn.execute(audit)
        ),
    }


# Sixty orders, two lines each: more than COPY_FROM_ROWS links and decision records.
SIXTY: list[tuple[str, Order]] = [
    (f"N-{n}", (CUSTOMERS[n % 4], (("A", 1 + n % 4), ("B", 1 + n % 3)), 1 + n % 10))
    for n in range(60)
]


def _import_sixty(ctx: Context, path: Path, batch_size: int) -> ImportSummary:
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    given_stock(ctx, A=3, B=1)
    given_po(ctx, "PO-1", ("A", 200, day(5), "ON ORDER"), ("B", 80, day(3)))
    given_po(ctx, "PO-2", ("B", 90, day(9), "ON ORDER"), ("A", 40, day(2), "ON ORDER"))
    return import_sales_orders(ctx, _write(path, SIXTY), batch_size=batch_size)


def _everything(ctx: Context) -> dict[str, Any]:
    with ctx.db.read() as conn:
        return _store(conn) | _history(conn) | {"worklist": _worklist(ctx)}


@pytest.mark.parametrize("part", [intake.PIPELINE_ORDERS, 7])
def test_a_batch_written_in_bulk_leaves_the_store_of_orders_taken_one_by_one(
    fresh_database: Callable[[], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part: int
) -> None:
    """Sixty orders in one batch go by COPY (rows, links, decision records, audit rows,
    emails); taken one by one, each batch's rows go in the pipeline (or, on SQLite, in
    executemany all the same). Both leave the same store, decisions and audit trail. On
    PostgreSQL a batch of more orders than a part is decided and written in parts (here
    also nine parts of seven, each decided while the last is written)."""
    monkeypatch.setattr(intake, "PIPELINE_ORDERS", part)
    stores = []
    for batch_size in (100, 1):
        ctx = _context(fresh_database())
        try:
            summary = _import_sixty(ctx, tmp_path / f"bulk-{batch_size}.csv", batch_size)
            assert (summary.ok, summary.orders_taken) == (True, 60), summary.errors
            assert summary.lines_linked >= COPY_FROM_ROWS
            stores.append(_everything(ctx))
        finally:
            ctx.db.dispose()
    assert len(stores[0]["decisions"]) >= COPY_FROM_ROWS
    assert stores[0]["emails"]
    assert stores[0] == stores[1]


_REFUSE_N30 = [
    """CREATE FUNCTION test_refuse_n30() RETURNS trigger AS $$
    BEGIN
        IF NEW.number = 'N-30' THEN
            RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER test_refuse_n30 BEFORE INSERT ON sales_orders
    FOR EACH ROW EXECUTE FUNCTION test_refuse_n30()""",
]


@pytest.mark.postgres_only
def test_an_order_refused_in_a_later_part_is_rejected_and_the_rest_of_its_batch_taken(
    fresh_database: Callable[[], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database refuses one order of a batch written in parts (its part's insert
    fails while the next part is decided): the batch rolls back whole and is taken
    order by order, as any batch the database refuses, so only that order is rejected
    and the store is the one the orders taken one by one leave (with as many decision
    records and audit rows of each kind)."""
    monkeypatch.setattr(intake, "PIPELINE_ORDERS", 7)
    url = fresh_database()
    db = Database(url)
    try:
        with db.write() as conn:
            for ddl in _REFUSE_N30:
                conn.execute(text(ddl))
        stores = []
        for batch_size in (100, 1):
            ctx = _context(fresh_database())
            try:
                summary = _import_sixty(ctx, tmp_path / f"refused-{batch_size}.csv", batch_size)
                assert (summary.orders_taken, summary.orders_rejected) == (59, 1)
                assert [e.order_number for e in summary.errors] == ["N-30"]
                with ctx.db.read() as conn:  # the failed batch used ids: by natural keys
                    actions = Counter(conn.scalars(select(AuditEvent.action)))
                    decided = conn.scalar(select(func.count()).select_from(AllocationDecision))
                    stores.append(_store(conn) | {"actions": actions, "decided": decided})
            finally:
                ctx.db.dispose()
        assert stores[0] == stores[1]
    finally:
        with db.write() as conn:
            conn.execute(text("DROP TRIGGER test_refuse_n30 ON sales_orders"))
            conn.execute(text("DROP FUNCTION test_refuse_n30()"))
        db.dispose()


def test_an_error_deciding_a_later_part_leaves_nothing_of_its_batch(
    fresh_database: Callable[[], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch written in parts fails while its fifth part is decided (the fourth being
    written meanwhile): the error stops the import, after the writer has let go of the
    connection, and the transaction rolls back whole: no order, line, link, customer,
    decision record, audit row or email of the batch, the stock as it was. The same
    connection then takes the file as usual."""
    monkeypatch.setattr(intake, "PIPELINE_ORDERS", 7)
    take = Intake.take

    def failing(self: Intake, index: int, lines: Any) -> Any:
        if index == 30:
            raise RuntimeError("failed deciding order 30")
        return take(self, index, lines)

    ctx = _context(fresh_database())
    try:
        monkeypatch.setattr(Intake, "take", failing)
        with pytest.raises(RuntimeError, match="order 30"):
            _import_sixty(ctx, tmp_path / "failing.csv", 100)
        with ctx.db.read() as conn:
            written = [
                conn.scalar(select(func.count()).select_from(model))
                for model in (SalesOrder, SoLine, Association, Customer, PendingEmail)
            ]
            assert written == [0, 0, 0, 0, 0]
            assert conn.scalar(select(func.count()).select_from(AllocationDecision)) == 0
            actions = conn.scalars(select(AuditEvent.action).where(AuditEvent.actor == "import"))
            assert list(actions) == []
            assert sorted(conn.execute(select(StockItem.sku, StockItem.assigned))) == [
                ("A", 0),
                ("B", 0),
            ]
        monkeypatch.setattr(Intake, "take", take)
        summary = import_sales_orders(ctx, tmp_path / "failing.csv", batch_size=100)
        assert (summary.ok, summary.orders_taken) == (True, 60), summary.errors
    finally:
        ctx.db.dispose()


def test_audit_rows_written_in_parts_carry_the_request_they_were_made_in(
    fresh_database: Callable[[], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer thread sends the parts' rows in the importing request's context: every
    audit row of an import in parts carries its request id, as one written at once."""
    monkeypatch.setattr(intake, "PIPELINE_ORDERS", 7)
    ctx = _context(fresh_database())
    token = request_id.set("import-42")
    try:
        summary = _import_sixty(ctx, tmp_path / "request.csv", 100)
        assert (summary.ok, summary.orders_taken) == (True, 60), summary.errors
    finally:
        request_id.reset(token)
    try:
        with ctx.db.read() as conn:
            rows = conn.execute(
                select(AuditEvent.action, AuditEvent.request_id).where(AuditEvent.actor == "import")
            )
            marked = Counter((r.action, r.request_id) for r in rows)
        assert {r for _, r in marked} == {"import-42"}
        assert {a for a, _ in marked} >= {"stock.assign", "association.create"}
    finally:
        ctx.db.dispose()
