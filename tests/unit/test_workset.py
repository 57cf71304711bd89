"""The change engine's rules on a workset in memory: no database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bopo.domain.allocation import AllocationRules, Link, PoLineSupply, StockPosition
from bopo.domain.decisions import DecisionKind
from bopo.domain.records import LATE, AssocRow, NewLink, PoLineRow, SoLineRow
from bopo.domain.statuses import SkipReason
from bopo.domain.workset import Workset
from bopo.errors import InvalidTransition

NOW = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
EARLIER = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
ITEM = 7
ON = AllocationRules(enabled=True)


def po(
    id: int, *, ordered: int = 10, due: date | None = date(2030, 4, 1), assoc: int = 0
) -> PoLineRow:
    supply = PoLineSupply(id, ITEM, due, ordered, assoc, 1)
    return PoLineRow(id, ITEM, f"PO{id}", 1, ordered, 0, 0, due, supply)


def so(
    id: int,
    qty: int,
    *,
    links: dict[int, tuple[int, int]] | None = None,  # PO line id -> (association id, qty)
    reason: str | None = None,
    delivery: date = date(2030, 5, 1),
    rank: int = 1,
    assigned: int = 0,
) -> SoLineRow:
    line = SoLineRow(
        id,
        100 + id,
        "open",
        "web",
        f"S{id}",
        1,
        ITEM,
        "SKU",
        delivery,
        qty,
        assigned,
        0,
        0,
        reason,
        EARLIER if reason else None,
        rank,
    )
    for p, (a, n) in (links or {}).items():
        line.links[p] = AssocRow(a, p, n)
    return line


def workset(
    pos: list[PoLineRow], lines: list[SoLineRow], *, on_hand: int = 0, assigned: int = 0
) -> Workset:
    return Workset(
        now=NOW,
        actor="tester",
        stock={ITEM: StockPosition(ITEM, on_hand, assigned)},
        po_lines={p.id: p for p in pos},
        so_lines={s.id: s for s in lines},
    )


def test_release_ends_every_link_and_the_line_waits_released() -> None:
    line = so(1, 5, links={10: (1, 3), 11: (2, 2)})
    ws = workset([po(10, assoc=3), po(11, assoc=2)], [line])
    released = ws.release(line, "gone", "so_line.release")
    assert [(r.po_number, r.qty, r.reason) for r in released] == [
        ("PO10", 3, "gone"),
        ("PO11", 2, "gone"),
    ]
    assert line.links == {}
    assert (line.reason, line.since) == (SkipReason.RELEASED.value, NOW)
    assert ws.po_lines[10].supply.associated == 0
    assert [a["action"] for a in ws.audit] == ["association.release"] * 2
    assert ws.link_now(1) is not None
    assert ws.link_now(1).state == "released"


def test_shrinking_a_link_keeps_it_and_a_link_shrunk_to_nothing_ends() -> None:
    line = so(1, 5, links={10: (1, 5)})
    ws = workset([po(10, assoc=5)], [line])
    assert ws.shrink_link(line, 10, 2, "less", "so_line.reduce") is None
    assert line.links[10].qty == 3
    assert ws.po_lines[10].supply.associated == 3
    assert ws.audit[-1]["action"] == "association.reduce"
    assert (ws.audit[-1]["before"], ws.audit[-1]["after"]["qty"]) == ({"qty": 5}, 3)
    gone = ws.shrink_link(line, 10, 3, "less", "so_line.reduce")
    assert gone is not None
    assert gone.qty == 3
    assert line.links == {}
    assert line.reason == SkipReason.RELEASED.value


def test_giving_up_on_order_shrinks_the_latest_due_part_first() -> None:
    line = so(1, 6, links={10: (1, 3), 11: (2, 3)})
    early, late = po(10, due=date(2030, 4, 1), assoc=3), po(11, due=date(2030, 4, 20), assoc=3)
    ws = workset([early, late], [line])
    released = ws.give_up_on_order(line, 4, "cut", "so_line.reduce")
    assert [r.po_number for r in released] == ["PO11"]
    assert {p: a.qty for p, a in line.links.items()} == {10: 2}


def test_giving_up_takes_an_undated_part_last() -> None:
    line = so(1, 4, links={10: (1, 2), 11: (2, 2)})
    ws = workset([po(10, due=None, assoc=2), po(11, due=date(2030, 4, 2), assoc=2)], [line])
    ws.give_up_on_order(line, 2, "cut", "so_line.reduce")
    assert list(line.links) == [10]


def test_fulfilling_all_of_a_link_ends_it_and_takes_the_line_off_the_worklist() -> None:
    line = so(1, 4, links={10: (1, 4)}, reason=LATE)
    ws = workset([po(10, assoc=4)], [line], on_hand=4)
    ws.fulfil(line, 10, 4, "received")
    assert line.assigned == 4
    assert ws.stock[ITEM].assigned == 4
    assert line.links == {}
    assert (line.reason, line.since) == (None, None)
    assert ws.link_now(1).state == "fulfilled"


def test_fulfilling_part_of_a_link_shrinks_it() -> None:
    line = so(1, 4, links={10: (1, 4)})
    ws = workset([po(10, assoc=4)], [line], on_hand=1)
    ws.fulfil(line, 10, 1, "received")
    assert line.assigned == 1
    assert line.links[10].qty == 3
    assert ws.line_action[1] == "so_line.receive"


def test_assigning_stock_takes_a_line_off_the_worklist_when_nothing_is_left() -> None:
    line = so(1, 3, reason=SkipReason.NO_OPEN_PO.value)
    ws = workset([], [line], on_hand=5)
    ws.assign_stock(line, 2, "so_line.receive")
    assert line.reason == SkipReason.NO_OPEN_PO.value
    assert line.since == EARLIER
    ws.assign_stock(line, 1, "so_line.receive")
    assert (line.reason, line.since, ws.stock[ITEM].assigned) == (None, None, 3)


def test_linking_by_hand_records_a_manual_decision_and_a_new_link() -> None:
    line = so(1, 3, reason=SkipReason.NO_OPEN_PO.value)
    target = po(10)
    ws = workset([target, po(11)], [line])
    ws.link(line, target, 3, 9, "so_line.link")
    assert line.new_links == [Link(10, 3, date(2030, 4, 1), 9)]
    assert target.supply.associated == 3
    assert target.supply.status_id == 9
    assert line.reason is None
    assert [d["kind"] for d in ws.decisions] == ["M"]
    assert ws.touched_orders() == {101}


def test_offer_gives_stock_first() -> None:
    line = so(1, 3, reason=SkipReason.RELEASED.value)
    ws = workset([po(10)], [line], on_hand=3)
    [offered] = ws.offer([line], ON, "so_line.reallocate")
    assert (offered.from_stock, offered.linked_qty, offered.reason) == (3, 0, None)
    assert line.assigned == 3
    assert line.reason is None
    assert ws.decisions[0]["kind"] == DecisionKind.REALLOCATION.value


def test_offer_links_a_po_line_when_there_is_no_stock() -> None:
    line = so(1, 3, reason=SkipReason.RELEASED.value)
    ws = workset([po(10)], [line])
    [offered] = ws.offer([line], ON, "so_line.reallocate", DecisionKind.WORKLIST)
    assert (offered.po_number, offered.linked_qty, offered.waiting) == ("PO10", 3, 0)
    assert [n.po_line_id for n in line.new_links] == [10]
    assert line.reason is None
    assert ws.decisions[0]["kind"] == DecisionKind.WORKLIST.value


def test_offer_with_nothing_to_give_changes_the_reason_or_nothing() -> None:
    line = so(1, 3, reason=SkipReason.RELEASED.value)
    ws = workset([], [line])
    [offered] = ws.offer([line], ON, "so_line.reallocate")
    assert offered.reason == SkipReason.NO_OPEN_PO.value == line.reason
    assert line.since == EARLIER  # still on the worklist: it keeps its since
    assert ws.offer([line], ON, "so_line.reallocate") == []  # nothing new: no decision
    assert len(ws.decisions) == 1


def test_offer_with_the_switch_off_keeps_the_reason_a_line_waits_for() -> None:
    line = so(1, 3, reason=SkipReason.RELEASED.value)
    ws = workset([po(10)], [line])
    assert ws.offer([line], AllocationRules(), "so_line.reallocate") == []
    assert line.reason == SkipReason.RELEASED.value


def test_waiting_lines_come_first_to_serve_first() -> None:
    low = so(1, 1, reason=SkipReason.RELEASED.value, rank=0)
    urgent = so(2, 1, reason=SkipReason.RELEASED.value, rank=3, delivery=date(2030, 6, 1))
    linked = so(3, 1, links={10: (1, 1)}, reason=LATE)
    ws = workset([po(10, assoc=1)], [low, urgent, linked])
    assert [s.id for s in ws.waiting({ITEM})] == [2, 1]
    assert [s.id for s in ws.waiting({ITEM}, exclude={2})] == [1]


def test_a_late_part_ending_takes_the_line_off_late_supply() -> None:
    line = so(1, 4, links={10: (1, 2), 11: (2, 2)}, reason=LATE, delivery=date(2030, 4, 10))
    on_time, late = po(10, due=date(2030, 4, 1), assoc=2), po(11, due=date(2030, 4, 20), assoc=2)
    ws = workset([on_time, late], [line])
    assert ws.is_late(line)
    assert ws.was_late(line)
    ws.shrink_link(line, 11, 2, "late part gone", "so_line.reduce")
    assert (line.reason, line.since) == (None, None)
    assert not ws.is_late(line)
    assert ws.was_late(line)


def test_a_line_still_late_stays_on_late_supply() -> None:
    line = so(1, 4, links={10: (1, 2), 11: (2, 2)}, reason=LATE, delivery=date(2030, 4, 10))
    ws = workset(
        [po(10, due=date(2030, 4, 1), assoc=2), po(11, due=date(2030, 4, 20), assoc=2)], [line]
    )
    ws.shrink_link(line, 10, 2, "on-time part gone", "so_line.reduce")
    assert (line.reason, line.since) == (LATE, EARLIER)


def test_backorder_since_is_set_on_joining_the_worklist_and_kept_while_on_it() -> None:
    line = so(1, 2)
    ws = workset([], [line])
    ws.set_reason(line, SkipReason.NO_OPEN_PO.value)
    assert line.since == NOW
    line.since = EARLIER
    ws.set_reason(line, SkipReason.RELEASED.value)
    assert line.since == EARLIER
    ws.set_reason(line, None)
    assert (line.reason, line.since) == (None, None)


def test_an_order_status_change_is_checked_and_touches_the_order() -> None:
    line = so(1, 2)
    ws = workset([], [line])
    ws.set_order_status(101, "open", "completed")
    assert line.order_status == "completed"
    assert ws.touched_orders() == {101}
    with pytest.raises(InvalidTransition):
        ws.set_order_status(101, "completed", "open")


def test_touched_orders_include_those_linked_to_a_changed_po_line() -> None:
    linked, other = so(1, 2, links={10: (1, 2)}), so(2, 2, reason=SkipReason.NO_OPEN_PO.value)
    ws = workset([po(10, assoc=2)], [linked, other])
    assert ws.touched_orders() == set()
    ws.po_lines[10].due_date = date(2030, 4, 9)
    assert ws.touched_orders() == {101}


def test_changes_are_the_rows_that_differ_with_an_audit_row_each() -> None:
    cut = so(1, 4, links={10: (1, 4)})
    waiting = so(2, 2, reason=SkipReason.NO_OPEN_PO.value, rank=3)
    target = po(10, assoc=4)
    ws = workset([target], [cut, waiting], on_hand=1)
    ws.touch_po_line(target, "po_line.qty")
    released = ws.release(cut, "cut", "so_line.release")
    target.ordered = 2
    target.sync()
    ws.offer(ws.waiting({ITEM}), ON, "so_line.reallocate")
    changes = ws.changes(stock_action="stock.assign", details={"po_number": "PO10"})

    assert [r.qty for r in released] == [4]
    assert changes.ended_links == {("released", "cut"): [1]}
    assert changes.shrunk_links == []
    assert changes.po_lines == [
        {
            "id": 10,
            "qty_ordered": 2,
            "qty_delivered": 0,
            "qty_cancelled": 0,
            "due_date": target.due_date,
        }
    ]
    assert changes.stock == [{"id": ITEM, "on_hand": 1, "assigned": 1}]
    assert [r["id"] for r in changes.so_lines] == [1, 2]
    assert changes.new_links == [NewLink(2, 102, Link(10, 1, target.due_date, None))]
    assert [(a["action"], a["entity"], a["entity_id"]) for a in changes.audit] == [
        ("association.release", "association", 1),
        ("po_line.qty", "po_line", 10),
        ("stock.assign", "stock_item", ITEM),
        ("so_line.release", "so_line", 1),
        ("so_line.reallocate", "so_line", 2),
    ]
    po_row = changes.audit[1]
    assert (po_row["before"], po_row["after"]) == (
        {"qty_ordered": 10},
        {"qty_ordered": 2, "po_number": "PO10"},
    )
    assert all("request_id" not in a for a in changes.audit)  # the writer stamps it
    assert [d["so_line_id"] for d in changes.decisions] == [2, 1]  # 1 waits: a new reason


def test_a_line_whose_since_alone_changed_is_written_without_an_audit_row() -> None:
    line = so(1, 2, reason=SkipReason.NO_OPEN_PO.value)
    ws = workset([], [line])
    line.since = NOW
    changes = ws.changes(stock_action="stock.assign", details={})
    assert [r["id"] for r in changes.so_lines] == [1]
    assert changes.audit == []


def test_nothing_changed_nothing_to_write() -> None:
    ws = workset([po(10)], [so(1, 2, reason=SkipReason.NO_OPEN_PO.value)], on_hand=2)
    changes = ws.changes(stock_action="stock.assign", details={})
    assert (changes.po_lines, changes.stock, changes.so_lines, changes.audit) == ([], [], [], [])
    assert changes.new_links == []
    assert changes.order_status == []
