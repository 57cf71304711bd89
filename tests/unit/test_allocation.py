"""The allocation rules, with no database in sight."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bopo.domain.allocation import (
    AllocationRules,
    LineDecision,
    Link,
    PoLineSupply,
    StockPosition,
    allocate_line,
    allocate_order,
    choose_po_line,
)
from bopo.domain.statuses import SkipReason

ON = AllocationRules(enabled=True)
ON_WITH_DEFAULT = AllocationRules(enabled=True, default_status_id=99)
D0 = date(2026, 12, 1)


def po_line(
    id_: int,
    *,
    due: date | None = D0,
    outstanding: int = 10,
    associated: int = 0,
    status: int | None = 1,
    item: int = 1,
) -> PoLineSupply:
    return PoLineSupply(id_, item, due, outstanding, associated, status)


def link_of(decision: LineDecision) -> Link | None:
    """The decision's one link (None when it has none)."""
    assert len(decision.links) <= 1, decision.links
    return decision.links[0] if decision.links else None


def test_free_stock_is_taken_first() -> None:
    stock = StockPosition(1, on_hand=10, assigned=0)
    decision = allocate_line(4, stock, [po_line(1)], ON)
    assert (decision.from_stock, link_of(decision), decision.skip) == (4, None, None)
    assert stock.assigned == 4


def test_partial_stock_is_taken_and_the_rest_is_linked() -> None:
    stock = StockPosition(1, on_hand=3, assigned=1)
    line = po_line(7)
    decision = allocate_line(5, stock, [line], ON)
    assert decision.from_stock == 2
    link = link_of(decision)
    assert link is not None
    assert (link.po_line_id, link.qty) == (7, 3)
    assert line.associated == 3


def test_prefers_the_earliest_due_po_line() -> None:
    late, early = po_line(1, due=D0 + timedelta(days=9)), po_line(2, due=D0)
    assert choose_po_line(4, [late, early], ON) is early


def test_prefers_the_oldest_po_line_when_due_dates_tie() -> None:
    newer, older = po_line(5), po_line(3)
    assert choose_po_line(4, [newer, older], ON) is older


def test_a_po_line_without_a_due_date_comes_last() -> None:
    unknown, dated = po_line(1, due=None), po_line(2, due=D0 + timedelta(days=60))
    assert choose_po_line(4, [unknown, dated], ON) is dated


def test_a_po_line_that_cannot_take_the_whole_backorder_is_passed_over() -> None:
    small_early = po_line(1, due=D0, outstanding=3)
    big_late = po_line(2, due=D0 + timedelta(days=5), outstanding=10)
    assert choose_po_line(4, [small_early, big_late], ON) is big_late


def test_a_line_is_skipped_not_split_when_no_po_line_takes_it_whole() -> None:
    lines = [po_line(1, outstanding=3), po_line(2, outstanding=3)]
    decision = allocate_line(5, StockPosition(1, 0, 0), lines, ON)
    assert decision.skip is SkipReason.NOT_ENOUGH_ON_ORDER
    assert [line.associated for line in lines] == [0, 0]


def test_already_associated_quantity_is_not_free() -> None:
    assert choose_po_line(4, [po_line(1, outstanding=10, associated=7)], ON) is (
        SkipReason.NOT_ENOUGH_ON_ORDER
    )


def test_with_the_feature_off_every_backorder_is_skipped() -> None:
    decision = allocate_line(5, StockPosition(1, 2, 0), [po_line(1)], AllocationRules())
    assert (decision.from_stock, decision.skip) == (2, SkipReason.FEATURE_OFF)


def test_no_open_po_line_is_its_own_reason() -> None:
    delivered = po_line(1, outstanding=0)
    assert choose_po_line(1, [delivered], ON) is SkipReason.NO_OPEN_PO
    assert choose_po_line(1, [], ON) is SkipReason.NO_OPEN_PO


def test_a_po_line_without_status_is_no_candidate_unless_there_is_a_default() -> None:
    bare = po_line(1, status=None)
    assert choose_po_line(4, [bare], ON) is SkipReason.NO_STATUS
    assert choose_po_line(4, [bare], ON_WITH_DEFAULT) is bare


def test_the_default_status_is_given_to_a_po_line_without_one() -> None:
    bare, statused = po_line(1, status=None), po_line(2, status=5, due=D0 + timedelta(days=1))
    first = link_of(allocate_line(4, StockPosition(1, 0, 0), [bare, statused], ON_WITH_DEFAULT))
    assert first is not None
    assert (first.po_line_id, first.set_status_id) == (1, 99)
    second = link_of(allocate_line(4, StockPosition(1, 0, 0), [bare, statused], ON_WITH_DEFAULT))
    assert second is not None
    assert second.set_status_id is None  # it has the status now


def test_the_best_fit_policy_keeps_big_lots_for_big_orders() -> None:
    rules = AllocationRules(enabled=True, policy="best_fit")
    big, snug = po_line(1, outstanding=100), po_line(2, outstanding=5, due=D0 + timedelta(days=9))
    assert choose_po_line(4, [big, snug], rules) is snug


def test_lines_of_one_order_share_stock_and_supply_in_line_order() -> None:
    stock = {1: StockPosition(1, on_hand=3, assigned=0)}
    supply = {1: [po_line(1, outstanding=4)]}
    first, second, third = allocate_order([(1, 2), (1, 4), (1, 3)], stock, supply, ON)
    assert (first.from_stock, first.links) == (2, ())
    assert second.from_stock == 1
    assert [link.qty for link in second.links] == [3]
    assert (third.from_stock, third.skip) == (0, SkipReason.NOT_ENOUGH_ON_ORDER)


# --- properties ------------------------------------------------------------------

supplies = st.lists(
    st.builds(
        lambda i, due, out, assoc, status: (i, due, out, min(assoc, out), status),
        st.integers(1, 10_000),
        st.one_of(st.none(), st.integers(0, 60).map(lambda d: D0 + timedelta(days=d))),
        st.integers(0, 50),
        st.integers(0, 50),
        st.one_of(st.none(), st.just(1)),
    ),
    max_size=8,
    unique_by=lambda t: t[0],
)
orders = st.lists(st.integers(1, 30), min_size=1, max_size=12)
rules = st.builds(
    AllocationRules,
    enabled=st.booleans(),
    default_status_id=st.one_of(st.none(), st.just(9)),
    policy=st.sampled_from(["earliest_due", "oldest_first", "best_fit"]),
    allow_split=st.booleans(),
)


def _lines(spec: list[tuple[int, date | None, int, int, int | None]]) -> list[PoLineSupply]:
    return [PoLineSupply(i, 1, due, out, assoc, status) for i, due, out, assoc, status in spec]


@given(supplies, orders, st.integers(0, 40), rules)
def test_never_over_associates_a_po_line(spec, quantities, on_hand, rules_) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(spec)
    before = {line.po_line_id: line.associated for line in lines}
    stock = StockPosition(1, on_hand, 0)
    for qty in quantities:
        allocate_line(qty, stock, lines, rules_)
    for line in lines:
        assert line.associated <= max(line.outstanding, before[line.po_line_id])
        assert line.associated >= before[line.po_line_id]
    assert 0 <= stock.assigned <= stock.on_hand


@given(supplies, orders, st.integers(0, 40), rules)
def test_every_line_ends_assigned_linked_or_skipped_with_a_reason(
    spec, quantities, on_hand, rules_
) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(spec)
    stock = StockPosition(1, on_hand, 0)
    for qty in quantities:
        d = allocate_line(qty, stock, lines, rules_)
        assert d.from_stock + d.linked + (d.backorder if d.skip else 0) == qty
        assert (d.backorder == 0) == (not d.links and d.skip is None)
        assert not (d.links and d.skip)
        if d.links:
            assert d.linked == d.backorder  # the whole backorder, never a part of it
        if not rules_.allow_split:
            assert len(d.links) <= 1
        assert len({link.po_line_id for link in d.links}) == len(d.links)


@given(supplies, st.integers(1, 30))
def test_the_chosen_po_line_is_the_earliest_due_one_that_fits(spec, need) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(spec)
    choice = choose_po_line(need, lines, ON_WITH_DEFAULT)
    fitting = [line for line in lines if line.outstanding > 0 and line.free_on_order >= need]
    if not fitting:
        assert isinstance(choice, SkipReason)
        return
    assert isinstance(choice, PoLineSupply)

    def key(line: PoLineSupply) -> tuple[bool, date, int]:
        return (line.due_date is None, line.due_date or date.min, line.po_line_id)

    assert key(choice) == min(key(line) for line in fitting)


# --- split ---------------------------------------------------------------------------

SPLIT = AllocationRules(enabled=True, allow_split=True)


def test_with_split_a_line_no_single_po_line_covers_is_split_earliest_due_first() -> None:
    late = po_line(1, due=D0 + timedelta(days=20), outstanding=3)
    early = po_line(2, due=D0 + timedelta(days=5), outstanding=2)
    later_still = po_line(3, due=D0 + timedelta(days=30), outstanding=9, associated=8)
    d = allocate_line(5, StockPosition(1, 0, 0), [late, early, later_still], SPLIT)
    assert [(x.po_line_id, x.qty, x.due_date) for x in d.links] == [
        (2, 2, D0 + timedelta(days=5)),
        (1, 3, D0 + timedelta(days=20)),
    ]
    assert (early.associated, late.associated, later_still.associated) == (2, 3, 8)


def test_with_split_a_line_one_po_line_covers_is_still_linked_whole() -> None:
    small_early, big_late = po_line(1, outstanding=3), po_line(2, due=D0 + timedelta(days=9))
    d = allocate_line(5, StockPosition(1, 0, 0), [small_early, big_late], SPLIT)
    assert [(x.po_line_id, x.qty) for x in d.links] == [(2, 5)]


def test_with_split_lines_that_together_fall_short_leave_the_line_waiting_whole() -> None:
    lines = [po_line(1, outstanding=2), po_line(2, outstanding=2)]
    d = allocate_line(5, StockPosition(1, 0, 0), lines, SPLIT)
    assert (d.links, d.skip) == ((), SkipReason.NOT_ENOUGH_ON_ORDER)
    assert [line.associated for line in lines] == [0, 0]


def test_a_split_never_uses_a_po_line_without_status_when_there_is_no_default() -> None:
    lines = [po_line(1, outstanding=3, status=None), po_line(2, outstanding=3)]
    d = allocate_line(5, StockPosition(1, 0, 0), lines, SPLIT)
    assert d.skip is SkipReason.NOT_ENOUGH_ON_ORDER


def test_a_decision_keeps_the_open_po_lines_it_looked_at_as_they_were() -> None:
    lines = [po_line(1, outstanding=10, associated=4), po_line(2, outstanding=0)]
    d = allocate_line(5, StockPosition(1, 0, 0), lines, ON)
    assert list(d.considered) == [(1, D0, 6)]  # free before the decision took 5 of it
