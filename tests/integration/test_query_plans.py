"""The queries that find open PO lines by item use the open-lines index on SQLite.

SQLite keeps no statistics here, so its plan is the same on a handful of rows as
on the benchmark's 20,000 PO lines: a plan that reads every PO line would turn
each order's candidate lookup from a few index entries into a scan of the table.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from bopo.config import DatabaseSettings, Settings
from bopo.db.engine import Database
from bopo.db.workset import WorksetQuery, load_workset
from bopo.services.context import Context
from tests.clock import T0, Clock
from tests.helpers import day, given_po, given_status, given_stock


@pytest.fixture
def loaded(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    """Ten items, each on a few PO lines, some of them delivered in full."""
    path = tmp_path / "plans.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    ctx = Context(Database(url), Settings(database=DatabaseSettings(url=url)), clock=Clock())
    given_stock(ctx, **{f"I{n}": 0 for n in range(10)})
    given_status(ctx, "ON ORDER")
    for po in range(20):
        given_po(ctx, f"PO-{po}", *((f"I{n}", 5, day(n + po), "ON ORDER") for n in range(10)))
    with ctx.db.write() as conn:
        conn.exec_driver_sql("UPDATE po_lines SET qty_delivered = 5 WHERE id % 3 = 0")
    yield ctx.db
    ctx.db.dispose()


def _plans(conn: Connection, run: Any) -> list[tuple[str, str]]:
    """Each SELECT on po_lines that `run(conn)` sends, with SQLite's plan for it.

    Caught by sqlite3 itself (its parameters written in), as some reads go to it
    straight, not through SQLAlchemy's execution."""
    raw = conn.connection.driver_connection
    assert raw is not None
    sent: list[str] = []

    def capture(statement: str) -> None:
        if statement.lstrip().startswith("SELECT") and "po_lines" in statement:
            sent.append(statement)

    raw.set_trace_callback(capture)
    try:
        run(conn)
    finally:
        raw.set_trace_callback(None)
    return [
        (sql, "\n".join(r[3] for r in raw.execute(f"EXPLAIN QUERY PLAN {sql}"))) for sql in sent
    ]


def _assert_indexed(plans: list[tuple[str, str]]) -> None:
    assert plans
    for sql, plan in plans:
        assert "SCAN po_lines" not in plan, (sql, plan)
        assert "po_lines USING INDEX ix_po_lines_open_item" in plan, (sql, plan)


def _intakes_supply(items: list[int]) -> Any:
    """Intake's read of the open PO lines of the items it is short of (its stock held)."""

    def run(conn: Connection) -> None:
        query = WorksetQuery.of(items, open_supply=True, supply_items=items, lock_supply=False)
        load_workset(conn, query, now=T0, actor="t", locked={})

    return run


def test_intakes_candidate_lookup_searches_the_open_lines_index(loaded: Database) -> None:
    with loaded.read() as conn:
        _assert_indexed(_plans(conn, _intakes_supply([3])))
        _assert_indexed(_plans(conn, _intakes_supply([2, 5, 7])))


def test_the_open_supply_of_a_change_searches_the_open_lines_index(loaded: Database) -> None:
    def workset(conn: Connection) -> None:
        query = WorksetQuery.of([2, 5], open_supply=True, lock=False)
        load_workset(conn, query, now=T0, actor="t")

    with loaded.read() as conn:
        _assert_indexed(_plans(conn, workset))
