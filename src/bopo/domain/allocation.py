"""Intake allocation: free stock first, then one PO line for the whole backorder.

Everything here works on plain objects the caller loaded. The caller keeps the
underlying rows locked while it decides, so the counts passed in stay true
until the decisions are written back. Decisions mutate those objects, so a
batch of orders can be allocated one after another in memory, in file order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from bopo.domain.statuses import SkipReason


@dataclass(slots=True)
class StockPosition:
    item_id: int
    on_hand: int
    assigned: int

    @property
    def free(self) -> int:
        return max(0, self.on_hand - self.assigned)

    def take(self, wanted: int) -> int:
        """Assign as much of `wanted` as free stock allows (partial is fine)."""
        taken = min(wanted, self.free)
        self.assigned += taken
        return taken


@dataclass(slots=True)
class PoLineSupply:
    """A purchase-order line as allocation sees it."""

    po_line_id: int
    item_id: int
    due_date: date | None
    outstanding: int
    associated: int
    status_id: int | None

    @property
    def free_on_order(self) -> int:
        return max(0, self.outstanding - self.associated)


# A policy orders the fitting PO lines; the first one wins. It sees the line and
# the quantity needed, so fit-based policies are possible. PO line ids grow with
# creation, so the id stands for "oldest".
Policy = Callable[[PoLineSupply, int], tuple[Any, ...]]


def earliest_due(line: PoLineSupply, need: int) -> tuple[Any, ...]:
    """Earliest due date first (unknown dates last), then the oldest PO line."""
    return (line.due_date is None, line.due_date or date.min, line.po_line_id)


def oldest_first(line: PoLineSupply, need: int) -> tuple[Any, ...]:
    """The oldest PO line first, whatever its due date."""
    return (line.po_line_id,)


def best_fit(line: PoLineSupply, need: int) -> tuple[Any, ...]:
    """The PO line left with the least free quantity, keeping big lots for big orders."""
    return (line.free_on_order - need, *earliest_due(line, need))


POLICIES: Mapping[str, Policy] = {
    "earliest_due": earliest_due,
    "oldest_first": oldest_first,
    "best_fit": best_fit,
}


@dataclass(frozen=True, slots=True)
class AllocationRules:
    """The settings that shape allocation, resolved to ids."""

    enabled: bool = False
    default_status_id: int | None = None
    policy: str = "earliest_due"


@dataclass(frozen=True, slots=True)
class Link:
    po_line_id: int
    qty: int
    due_date: date | None
    set_status_id: int | None = None  # the default status given to a PO line that had none


@dataclass(frozen=True, slots=True)
class LineDecision:
    qty: int
    from_stock: int
    link: Link | None = None
    skip: SkipReason | None = None

    @property
    def backorder(self) -> int:
        return self.qty - self.from_stock


def choose_po_line(
    need: int, supplies: Iterable[PoLineSupply], rules: AllocationRules
) -> PoLineSupply | SkipReason:
    """The PO line that takes the whole `need`, or why there is none."""
    if not rules.enabled:
        return SkipReason.FEATURE_OFF
    policy = POLICIES[rules.policy]
    best: PoLineSupply | None = None
    best_key: tuple[Any, ...] = ()
    any_open = any_fit = False
    for line in supplies:
        if line.outstanding <= 0:
            continue
        any_open = True
        if line.free_on_order < need:
            continue
        any_fit = True
        if line.status_id is None and not rules.default_status_id:
            continue
        key = policy(line, need)
        if best is None or key < best_key:
            best, best_key = line, key
    if best is not None:
        return best
    if any_fit:  # a status alone would have made one of them a candidate
        return SkipReason.NO_STATUS
    return SkipReason.NOT_ENOUGH_ON_ORDER if any_open else SkipReason.NO_OPEN_PO


def fitting_po_lines(
    need: int, supplies: Iterable[PoLineSupply], policy: str = "earliest_due"
) -> list[PoLineSupply]:
    """Every open PO line that could take the whole `need`, in the policy's order.

    What a person picks from when linking by hand; statuses are not required
    there, the person decides.
    """
    key = POLICIES[policy]
    fitting = [s for s in supplies if s.outstanding > 0 and s.free_on_order >= need]
    return sorted(fitting, key=lambda s: key(s, need))


def allocate_line(
    qty: int,
    stock: StockPosition,
    supplies: Sequence[PoLineSupply],
    rules: AllocationRules,
) -> LineDecision:
    """Take free stock for `qty`, then link the rest whole to one PO line or skip it."""
    from_stock = stock.take(qty)
    need = qty - from_stock
    if need == 0:
        return LineDecision(qty, from_stock)
    choice = choose_po_line(need, supplies, rules)
    if isinstance(choice, SkipReason):
        return LineDecision(qty, from_stock, skip=choice)
    choice.associated += need
    set_status = None
    if choice.status_id is None:
        set_status = choice.status_id = rules.default_status_id
    return LineDecision(qty, from_stock, Link(choice.po_line_id, need, choice.due_date, set_status))


def allocate_order(
    lines: Sequence[tuple[int, int]],
    stock: Mapping[int, StockPosition],
    supply: Mapping[int, Sequence[PoLineSupply]],
    rules: AllocationRules,
) -> list[LineDecision]:
    """Allocate an order's `(item_id, qty)` lines in line order."""
    return [allocate_line(qty, stock[item], supply.get(item, ()), rules) for item, qty in lines]


def offer_again(
    qty: int,
    reason: SkipReason | None,
    stock: StockPosition,
    supplies: Sequence[PoLineSupply],
    rules: AllocationRules,
) -> LineDecision:
    """Offer a waiting line free stock, then (switch on) a PO line, as at intake.

    With the switch off the line keeps the reason it already waits for (for
    a released line, `released`): freed quantity on order just waits.
    """
    decision = allocate_line(qty, stock, supplies, rules)
    if decision.skip is SkipReason.FEATURE_OFF and reason is not None:
        return replace(decision, skip=reason)
    return decision
