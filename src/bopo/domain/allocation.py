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
# A policy's sort key sees a PO line as a decision sees it (id, due date, free on
# order) and the quantity needed; the smallest key wins.
SortKey = Callable[[int, date | None, int, int], tuple[Any, ...]]


def _earliest_due(po_line_id: int, due: date | None, free: int, need: int) -> tuple[Any, ...]:
    return (due is None, due or date.min, po_line_id)


def _oldest_first(po_line_id: int, due: date | None, free: int, need: int) -> tuple[Any, ...]:
    return (po_line_id,)


def _best_fit(po_line_id: int, due: date | None, free: int, need: int) -> tuple[Any, ...]:
    return (free - need, due is None, due or date.min, po_line_id)


@dataclass(frozen=True, slots=True)
class Policy:
    """A named way to choose among the PO lines that fit: its sort key, the one-letter
    code decision records keep, and the words that explain its choice."""

    name: str
    code: str
    words: str
    key: SortKey

    def rank(self, line: PoLineSupply, need: int) -> tuple[Any, ...]:
        return self.key(line.po_line_id, line.due_date, line.free_on_order, need)


POLICIES: Mapping[str, Policy] = {
    p.name: p
    for p in (
        # Earliest due date first (unknown dates last), then the oldest PO line.
        Policy("earliest_due", "E", "the earliest due date", _earliest_due),
        # The oldest PO line first, whatever its due date.
        Policy("oldest_first", "O", "the oldest PO line", _oldest_first),
        # The PO line left with the least free quantity, keeping big lots for big orders.
        Policy("best_fit", "B", "the PO line left with the least free", _best_fit),
    )
}
EARLIEST_DUE = POLICIES["earliest_due"]


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
    key_of = POLICIES[rules.policy].key
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
        key = key_of(line.po_line_id, line.due_date, free, need)
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
    chosen = POLICIES[policy]
    fitting = [s for s in supplies if s.outstanding > 0 and s.free_on_order >= need]
    return sorted(fitting, key=lambda s: chosen.rank(s, need))


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
        key=lambda s: EARLIEST_DUE.rank(s, need),
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
