"""Intake allocation: free stock first, then one PO line for the whole backorder
(or, with `allow_split`, several PO lines that together cover it).

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
    allow_split: bool = False  # several PO lines may cover one line when no single one can


@dataclass(frozen=True, slots=True)
class Link:
    po_line_id: int
    qty: int
    due_date: date | None
    set_status_id: int | None = None  # the default status given to a PO line that had none


# A PO line as the decision saw it: (po_line_id, due date, free on order), before it chose.
Seen = tuple[int, date | None, int]


@dataclass(frozen=True, slots=True)
class LineDecision:
    """What a line got: stock, then links to PO lines (one, or several parts when split),
    or the reason it waits. `considered` keeps the open PO lines it looked at."""

    qty: int
    from_stock: int
    links: tuple[Link, ...] = ()
    skip: SkipReason | None = None
    considered: Sequence[Seen] = ()

    @property
    def backorder(self) -> int:
        return self.qty - self.from_stock

    @property
    def linked(self) -> int:
        return sum(link.qty for link in self.links)


def choose_po_line(
    need: int,
    supplies: Iterable[PoLineSupply],
    rules: AllocationRules,
    seen: list[Seen] | None = None,
) -> PoLineSupply | SkipReason:
    """The PO line that takes the whole `need`, or why there is none.

    `seen`, when given, collects every open PO line looked at, as it was.
    """
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
        free = line.outstanding - line.associated
        if seen is not None:
            seen.append((line.po_line_id, line.due_date, free if free > 0 else 0))
        if free < need:
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


def split_over(
    need: int, supplies: Iterable[PoLineSupply], rules: AllocationRules
) -> list[tuple[PoLineSupply, int]]:
    """PO lines that together take the whole `need`, earliest due first; [] if they cannot.

    Used only when no single PO line covers the need. Each part takes what its
    PO line has free; the last one takes what is left.
    """
    usable = sorted(
        (
            s
            for s in supplies
            if s.outstanding > 0
            and s.free_on_order > 0
            and (s.status_id is not None or rules.default_status_id)
        ),
        key=lambda s: earliest_due(s, need),
    )
    parts = []
    left = need
    for line in usable:
        take = min(left, line.free_on_order)
        parts.append((line, take))
        left -= take
        if left == 0:
            return parts
    return []


def _take(line: PoLineSupply, qty: int, rules: AllocationRules) -> Link:
    line.associated += qty
    set_status = None
    if line.status_id is None:
        set_status = line.status_id = rules.default_status_id
    return Link(line.po_line_id, qty, line.due_date, set_status)


def allocate_line(
    qty: int,
    stock: StockPosition,
    supplies: Sequence[PoLineSupply],
    rules: AllocationRules,
) -> LineDecision:
    """Take free stock for `qty`, then link the rest whole to one PO line or skip it.

    With `allow_split`, a rest no single PO line can take is split over several
    (earliest due first) when together they cover all of it; otherwise it waits.
    """
    from_stock = stock.take(qty)
    need = qty - from_stock
    if need == 0:
        return LineDecision(qty, from_stock)
    if not rules.enabled:
        return LineDecision(qty, from_stock, skip=SkipReason.FEATURE_OFF)
    seen: list[Seen] = []
    choice = choose_po_line(need, supplies, rules, seen)
    if not isinstance(choice, SkipReason):
        return LineDecision(qty, from_stock, (_take(choice, need, rules),), considered=seen)
    if rules.allow_split and choice is not SkipReason.NO_OPEN_PO:
        parts = split_over(need, supplies, rules)
        if parts:
            links = tuple(_take(line, n, rules) for line, n in parts)
            return LineDecision(qty, from_stock, links, considered=seen)
    return LineDecision(qty, from_stock, skip=choice, considered=seen)


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
