"""What goods in, supply changes and demand changes do to links and stock.

Pure rules on plain values: the services load and lock the rows, ask these
functions what to do, and write the answer back. Priority among sales-order
lines is always the same: the oldest delivery date first, then the oldest
order, then the line number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

# (-priority rank, delivery date, sales order id, line no): smallest first
Priority = tuple[int, date, int, int]


def serving_order(rank: int, delivery_date: date, order_id: int, line_no: int) -> Priority:
    """The sort key that puts the line to serve first first."""
    return (-rank, delivery_date, order_id, line_no)


@dataclass(frozen=True, slots=True)
class Claim:
    """What one SO line asks of a supply: its linked quantity, or its waiting quantity."""

    so_line_id: int
    qty: int
    priority: Priority


def keep_what_fits(claims: Iterable[Claim], capacity: int) -> tuple[list[Claim], list[Claim]]:
    """Split a PO line's associations into those it keeps and those it releases.

    Highest priority, then oldest delivery date first, each association stays
    while it still fits in `capacity` (the line's new outstanding quantity); the
    rest are released, lowest priority and latest delivery date first. So the
    least pressing orders lose their link, and
    nothing that still fits is released only to be linked again.
    """
    kept: list[Claim] = []
    released: list[Claim] = []
    room = max(0, capacity)
    for claim in sorted(claims, key=lambda c: c.priority):
        if claim.qty <= room:
            kept.append(claim)
            room -= claim.qty
        else:
            released.append(claim)
    released.reverse()
    return kept, released


@dataclass(frozen=True, slots=True)
class ReceiptSplit:
    """Where received units go: (so_line_id, qty) pairs in the order served, then free stock."""

    to_linked: tuple[tuple[int, int], ...]
    to_waiting: tuple[tuple[int, int], ...]
    to_stock: int


def split_receipt(qty: int, linked: Iterable[Claim], waiting: Iterable[Claim]) -> ReceiptSplit:
    """Share a receipt: the PO line's linked SO lines first, then the item's waiting lines.

    Each group is served highest priority, then oldest delivery date first;
    the last line served may get part of what it needs. Whatever is left
    (over-delivery included) is free stock.
    """
    left = qty
    served: list[list[tuple[int, int]]] = [[], []]
    for group, claims in enumerate((linked, waiting)):
        for claim in sorted(claims, key=lambda c: c.priority):
            if left == 0:
                break
            take = min(claim.qty, left)
            if take > 0:
                served[group].append((claim.so_line_id, take))
                left -= take
    return ReceiptSplit(tuple(served[0]), tuple(served[1]), left)


@dataclass(frozen=True, slots=True)
class Reduction:
    from_backorder: int  # units no longer awaited (waiting, or linked to a PO line)
    from_stock: int  # assigned units handed back to free stock


def reduce_demand(by: int, *, backorder: int, assigned: int) -> Reduction:
    """Take `by` units off an SO line: what is not in stock yet goes first.

    Keeping the assigned stock means what is already here can still ship.
    """
    if by < 0 or by > backorder + assigned:
        raise ValueError(f"cannot take {by} off a line with {backorder + assigned} open")
    from_backorder = min(by, backorder)
    return Reduction(from_backorder, by - from_backorder)


def is_late(due_date: date | None, delivery_date: date) -> bool:
    """Supply due after the order should ship; an unknown due date is not called late."""
    return due_date is not None and due_date > delivery_date


def is_overdue(due_date: date | None, today: date) -> bool:
    """Supply due before today and not here: its date is past, so it is no promise.

    Still a candidate for allocation (the goods are still coming); only never
    shown as the date to expect.
    """
    return due_date is not None and due_date < today
