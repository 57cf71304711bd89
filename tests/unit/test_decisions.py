"""Decision records: what is kept of a decision, and how it reads back in words."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson

from bopo.domain.allocation import (
    AllocationRules,
    PoLineSupply,
    StockPosition,
    allocate_line,
)
from bopo.domain.decisions import (
    MAX_CANDIDATES,
    DecisionKind,
    DecisionRecord,
    decision_row,
    explain,
    receipt_row,
)
from bopo.domain.statuses import SkipReason

AT = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
LABELS = {1: "PO-1 line 1", 2: "PO-2 line 1", 3: "PO-3 line 1"}


def supply(po_line: int, free: int, due: date | None, status: int | None = 1) -> PoLineSupply:
    return PoLineSupply(po_line, 1, due, free, 0, status)


def decide(qty: int, lines: list[PoLineSupply], rules: AllocationRules, on_hand: int = 0) -> dict:  # type: ignore[type-arg]
    d = allocate_line(qty, StockPosition(1, on_hand, 0), lines, rules)
    return decision_row(
        so_line_id=7,
        at=AT,
        kind=DecisionKind.INTAKE,
        policy=rules.policy,
        allow_split=rules.allow_split,
        decision=d,
    )


def read(row: dict) -> DecisionRecord:  # type: ignore[type-arg]
    return DecisionRecord.from_row(**{k: v for k, v in row.items() if k != "so_line_id"})


def words(row: dict) -> str:  # type: ignore[type-arg]
    return explain(read(row), LABELS.__getitem__)


ON = AllocationRules(enabled=True)


def test_a_link_is_explained_with_the_policy_and_what_else_fitted() -> None:
    row = decide(4, [supply(1, 10, date(2026, 12, 20)), supply(2, 5, date(2026, 12, 5))], ON)
    assert words(row) == (
        "When the order came in (25 Nov 2026): Linked to PO-2 line 1, due 5 Dec: "
        "the earliest due date with 5 free ≥ 4 needed. PO-1 line 1 (due 20 Dec) also fitted."
    )


def test_the_record_is_a_few_short_codes_and_a_small_array() -> None:
    row = decide(
        6, [supply(1, 10, date(2026, 12, 20)), supply(2, 5, date(2026, 12, 5))], ON, on_hand=2
    )
    assert (row["kind"], row["policy"], row["need"], row["from_stock"], row["reason"]) == (
        "I",
        "E",
        4,
        2,
        None,
    )
    # in the order looked at, with what each took; due dates as days ahead
    assert row["candidates"] == [1, 25, 10, 0, 2, 10, 5, 4]
    assert [c.po_line_id for c in read(row).candidates] == [2, 1]  # shown: the chosen first
    assert len(orjson.dumps(row["candidates"])) <= 24


def test_only_the_first_candidates_are_kept_and_the_count_of_all() -> None:
    many = [supply(i, 1, date(2026, 12, i)) for i in range(1, 21)]
    many.append(supply(30, 9, date(2026, 12, 28)))
    row = decide(5, many, ON)
    assert (len(row["candidates"]), row["considered"]) == (4 * MAX_CANDIDATES, 21)
    assert row["candidates"][:4] == [30, 33, 9, 5]  # the chosen one is always kept
    assert "(13 more open PO lines not listed.)" in explain(read(row), lambda i: f"PO-{i} line 1")


def test_a_skip_says_which_po_lines_fell_short() -> None:
    row = decide(9, [supply(1, 2, date(2026, 12, 3)), supply(2, 1, date(2026, 12, 9))], ON)
    assert row["reason"] == "Q"
    assert words(row).endswith(
        "Not linked, 9 waiting: no PO line had 9 free: "
        "PO-1 line 1 (due 3 Dec) had 2 free; PO-2 line 1 (due 9 Dec) had 1 free."
    )


def test_no_open_purchase_order_and_no_status_are_said_plainly() -> None:
    assert words(decide(3, [], ON)).endswith(
        "Not linked, 3 waiting: no open purchase order for the item."
    )
    bare = decide(3, [supply(1, 5, date(2026, 12, 3), status=None)], ON)
    assert words(bare).endswith(
        "PO-1 line 1 (due 3 Dec) had room but no status, and no default status is configured."
    )


def test_a_split_lists_each_part_with_its_date() -> None:
    split = AllocationRules(enabled=True, allow_split=True)
    row = decide(5, [supply(1, 3, date(2026, 12, 20)), supply(2, 2, date(2026, 12, 5))], split)
    assert row["policy"] == "ES"
    assert words(row).endswith(
        "Split over 2 PO lines, earliest due first: 2 on PO-2 line 1 (due 5 Dec), "
        "3 on PO-1 line 1 (due 20 Dec); no single PO line had 5 free."
    )


def test_an_unknown_due_date_and_another_year_are_shown_as_such() -> None:
    row = decide(2, [supply(1, 5, None), supply(2, 5, date(2027, 1, 4))], ON)
    assert "Linked to PO-2 line 1, due 4 Jan 2027" in words(row)
    assert "PO-1 line 1 (due no date) also fitted" in words(row)


def test_goods_in_records_what_the_line_got_of_a_receipt() -> None:
    row = receipt_row(
        so_line_id=7,
        at=AT,
        linked=True,
        waited=4,
        got=3,
        po_line_id=1,
        due_date=date(2026, 12, 5),
        received=6,
    )
    assert words(row) == (
        "At goods in (25 Nov 2026): 6 received on PO-1 line 1; this line got 3 of the 4 it "
        "waited for (the PO line's linked orders are served first, by priority, then "
        "delivery date)."
    )


def test_a_record_reads_back_its_reason() -> None:
    row = decide(3, [], ON)
    assert read(row).reason is SkipReason.NO_OPEN_PO


def test_a_due_date_gone_by_reads_overdue_not_due() -> None:
    from datetime import UTC, date, datetime

    from bopo.domain.allocation import LineDecision, Link
    from bopo.domain.decisions import DecisionKind, DecisionRecord, decision_row, explain

    at = datetime(2026, 11, 25, 9, tzinfo=UTC)
    row = decision_row(
        so_line_id=1,
        at=at,
        kind=DecisionKind.INTAKE,
        policy="earliest_due",
        allow_split=False,
        decision=LineDecision(
            2, 0, (Link(7, 2, date(2026, 11, 29), None),), considered=((7, date(2026, 11, 29), 5),)
        ),
    )
    record = DecisionRecord.from_row(**{k: v for k, v in row.items() if k != "so_line_id"})
    label = {7: "PO-1 line 1"}.__getitem__
    assert "Linked to PO-1 line 1, due 29 Nov:" in explain(record, label, date(2026, 11, 28))
    assert "Linked to PO-1 line 1, overdue (was due 29 Nov):" in explain(
        record, label, date(2026, 12, 1)
    )
