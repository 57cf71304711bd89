"""Intake's pure side on a workset in memory: no database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

from bopo.domain.allocation import AllocationRules, PoLineSupply, StockPosition
from bopo.domain.decisions import DECISION_COLUMNS
from bopo.domain.intake import (
    LINE_COLUMNS,
    AsTaken,
    Intake,
    NewRows,
    customer_changes,
    differences,
    new_orders,
    short_items,
)
from bopo.domain.records import PoLineRow
from bopo.domain.statuses import SkipReason
from bopo.domain.workset import Workset

NOW = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
ON = AllocationRules(enabled=True)


def _workset(on_hand: int, po_qty: int) -> Workset:
    supply = PoLineSupply(10, 1, date(2030, 4, 1), po_qty, 0, 5)
    po = PoLineRow(10, 1, "PO10", 1, po_qty, 0, 0, date(2030, 4, 1), supply)
    return Workset(
        now=NOW,
        actor="intake",
        stock={1: StockPosition(1, on_hand, 0)},
        po_lines={10: po} if po_qty else {},
        so_lines={},
    )


def test_orders_take_stock_then_po_lines_in_turn() -> None:
    intake = Intake(_workset(on_hand=3, po_qty=4), ON)
    first = intake.take(0, [(1, 1, 2)])
    second = intake.take(1, [(1, 1, 3)])
    third = intake.take(2, [(1, 1, 5)])
    assert first.decisions[0].from_stock == 2
    assert (second.decisions[0].from_stock, second.decisions[0].linked) == (1, 2)
    assert third.decisions[0].skip is SkipReason.NOT_ENOUGH_ON_ORDER
    assert (first.stock_before, first.stock_after) == ({1: 0}, {1: 2})
    assert intake.workset.stock[1].assigned == 3
    assert intake.workset.po_lines[10].supply.associated == 2
    changes = intake.workset.changes(stock_action=None, details={})
    assert changes.stock == [{"id": 1, "on_hand": 3, "assigned": 3}]
    assert changes.audit == []  # intake audits the stock per order (NewRows)


def test_new_rows_carry_the_reserved_ids() -> None:
    intake = Intake(_workset(on_hand=1, po_qty=4), ON)
    t = intake.take(0, [(1, 1, 1), (2, 1, 2)])
    rows = NewRows(NOW, "intake", ON)
    rows.add(t, 500, [900, 901], ("web", 2, date(2026, 12, 1)))
    lines = [dict(zip(LINE_COLUMNS, r, strict=True)) for r in rows.lines]
    assert [(r["id"], r["sales_order_id"], r["qty_assigned"]) for r in lines] == [
        (900, 500, 1),
        (901, 500, 0),
    ]
    assert {(r["order_source"], r["order_priority"], r["order_delivery_date"]) for r in lines} == {
        ("web", 2, date(2026, 12, 1))
    }
    assert [(n.so_line_id, n.sales_order_id, n.link.qty) for n in rows.links] == [(901, 500, 2)]
    assert [dict(zip(DECISION_COLUMNS, d, strict=True))["so_line_id"] for d in rows.decisions] == [
        901
    ]
    [audit] = rows.audit
    assert (audit["action"], audit["before"], audit["after"]) == (
        "stock.assign",
        {"assigned": 0},
        {"assigned": 1, "sales_order_id": 500},
    )


def test_a_line_waiting_with_the_switch_off_leaves_no_decision_record() -> None:
    intake = Intake(_workset(on_hand=0, po_qty=0), AllocationRules())
    t = intake.take(0, [(1, 1, 2)])
    rows = NewRows(NOW, "intake", AllocationRules())
    rows.add(t, 1, [2], ("web", 1, date(2026, 12, 1)))
    line = dict(zip(LINE_COLUMNS, rows.lines[0], strict=True))
    assert line["backorder_reason"] == SkipReason.FEATURE_OFF.value
    assert line["backorder_since"] == NOW
    assert rows.decisions == []


def _order(number: str, *skus: str) -> SimpleNamespace:
    lines = [SimpleNamespace(line_no=n, sku=s) for n, s in enumerate(skus, 1)]
    return SimpleNamespace(source="web", number=number, lines=lines)


def test_new_orders_skip_those_taken_before_or_twice_and_refuse_unknown_skus() -> None:
    orders = [_order("1", "A"), _order("2", "A"), _order("1", "A"), _order("3", "A", "Z")]
    valid, rejected = new_orders(orders, {("web", "2")}, {"A"})
    assert valid == [0]
    assert list(rejected) == [3]
    assert [e.field for e in rejected[3]] == ["lines[1].sku"]


def test_only_items_short_of_free_stock_need_their_po_lines() -> None:
    stock = {1: StockPosition(1, 5, 1), 2: StockPosition(2, 5, 0)}
    assert short_items([(1, 3), (2, 5), (1, 2)], stock) == {1}


def test_differences_are_field_by_field_and_line_by_line() -> None:
    taken = AsTaken("C1", date(2030, 1, 1), date(2030, 2, 1), {1: ("A", 2), 2: ("B", 1)})
    given = AsTaken("C2", date(2030, 1, 1), date(2030, 2, 3), {1: ("A", 3), 3: ("C", 1)})
    assert differences(taken, given) == [
        ("customer", "C1", "C2"),
        ("delivery_date", "2030-02-01", "2030-02-03"),
        ("line 1 qty", "2", "3"),
        ("line 2", "1 x B", None),
        ("line 3", None, "1 x C"),
    ]
    assert differences(taken, taken) == []


def test_customer_changes_say_what_an_order_changed_of_a_stored_customer() -> None:
    known = [SimpleNamespace(code="C1", name="Ann", email="a@x"), SimpleNamespace(code="C2")]
    said = customer_changes(known, {"C1": ("Ann", "b@x")})
    assert said == {"C1": "customer C1: email a@x → b@x"}
