"""Decision records: what an allocation considered, what it chose, and why, in words.

A record is one row per decided SO line, kept small because intake writes one
for nearly every back-ordered line: one-letter codes for the kind, policy and
reason, and the PO lines looked at as one flat JSON array of numbers, four per
PO line: `po_line_id, due_in, free, taken` (due_in: the due date as days
after the day of the decision, which keeps it to a digit or two; null for no
date; free: free on order at that moment; taken: what the decision linked
to it). At most MAX_CANDIDATES are kept (the chosen always);
`considered` says how many there were. Goods-in records reuse the shape:
`po_line_id, due_in, qty received, qty this line got`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

from bopo.domain.allocation import EARLIEST_DUE, POLICIES, LineDecision, Seen
from bopo.domain.changes import is_overdue
from bopo.domain.statuses import SkipReason

MAX_CANDIDATES = 8


class DecisionKind(StrEnum):
    """What made the decision."""

    INTAKE = "I"
    WORKLIST = "W"  # a worklist retry
    MANUAL = "M"  # a person linked the line by hand
    REALLOCATION = "R"  # after a supply or demand change freed something
    GOODS_IN_LINKED = "L"  # a receipt on the PO line the SO line was linked to
    GOODS_IN_WAITING = "B"  # a receipt shared with the item's waiting lines


_POLICY_BY_CODE = {p.code: p for p in POLICIES.values()}
SPLIT_CODE = "S"  # appended to the policy code when allow_split was on

REASON_CODES: Mapping[SkipReason, str] = {
    SkipReason.FEATURE_OFF: "F",
    SkipReason.NO_OPEN_PO: "N",
    SkipReason.NOT_ENOUGH_ON_ORDER: "Q",
    SkipReason.NO_STATUS: "S",
    SkipReason.RELEASED: "R",
    SkipReason.LATE_SUPPLY: "L",
}
_REASONS = {v: k for k, v in REASON_CODES.items()}


def _policy_named(stored: str) -> str | None:
    """The policy's name from a record's code ('E', or 'ES' with allow_split)."""
    found = _POLICY_BY_CODE.get(stored[:1])
    return found.name if found else None


def days_after(value: date | None, day: date) -> int | None:
    """A due date as stored: days after the decision's day (negative when before)."""
    return None if value is None else value.toordinal() - day.toordinal()


def from_days_after(value: int | None, day: date) -> date | None:
    return None if value is None else day + timedelta(days=value)


@lru_cache(maxsize=32)
def policy_code(policy: str, allow_split: bool) -> str:
    return POLICIES[policy].code + (SPLIT_CODE if allow_split else "")


def candidates(
    decision: LineDecision, need: int, policy: str, day: int
) -> tuple[list[int | None], int]:
    """The PO lines a decision looked at, as stored, and how many there were.

    Kept in the order looked at (oldest PO line first), which costs nothing on
    the intake path; only when there are more than MAX_CANDIDATES are they
    sorted (the chosen first, then those that also fitted, in the policy's
    order, then the others, earliest due first) and cut.
    """
    seen = decision.considered
    taken = {link.po_line_id: link.qty for link in decision.links}
    if len(seen) > MAX_CANDIDATES:
        key = POLICIES[policy].key

        def order(s: Seen) -> tuple[Any, ...]:
            po_line_id, due, free = s
            fits = free >= need
            rank = key(po_line_id, due, free, need) if fits else ()
            return (po_line_id not in taken, not fits, rank, due is None, due or date.min)

        seen = sorted(seen, key=order)[:MAX_CANDIDATES]
    get = taken.get
    flat: list[int | None] = []
    for i, d, f in seen:
        flat += (i, None if d is None else d.toordinal() - day, f, get(i, 0))
    return flat, min(len(decision.considered), 32_767)


def _one_link(decision: LineDecision, day: int) -> list[int | None]:
    """candidates() for the common case, a few PO lines and one link, built quickly:
    this runs for nearly every line taken in."""
    link = decision.links[0]
    chosen, qty = link.po_line_id, link.qty
    flat: list[int | None] = []
    for i, d, f in decision.considered:
        flat += (
            i,
            None if d is None else d.toordinal() - day,
            f,
            qty if i == chosen else 0,
        )
    return flat


# An allocation_decisions row's columns, in the order decision_values gives them.
DECISION_COLUMNS = (
    "so_line_id",
    "at",
    "kind",
    "policy",
    "need",
    "from_stock",
    "reason",
    "candidates",
    "considered",
)


def decision_row(
    *,
    so_line_id: int,
    at: datetime,
    kind: DecisionKind,
    policy: str,
    allow_split: bool,
    decision: LineDecision,
) -> dict[str, Any]:
    """One allocation_decisions row: what the line took from stock, and how the rest
    (its backorder quantity) was placed on order or why it was not."""
    values = decision_values(
        so_line_id, at, _KIND_CODES[kind], policy_code(policy, allow_split), decision, policy
    )
    return dict(zip(DECISION_COLUMNS, values, strict=True))


def decision_values(
    so_line_id: int,
    at: datetime,
    kind: str,
    code: str,
    decision: LineDecision,
    policy: str,
    day: int | None = None,
) -> tuple[Any, ...]:
    """decision_row's values in DECISION_COLUMNS' order, for a batch that writes many:
    `kind` and `code` (the policy's, see policy_code) and `day` (`at`'s ordinal) worked
    out once for all of them."""
    need = decision.qty - decision.from_stock
    links = decision.links
    seen = decision.considered
    day = at.toordinal() if day is None else day
    if len(links) == 1 and len(seen) <= MAX_CANDIDATES:
        flat, count = _one_link(decision, day), len(seen)
    else:
        flat, count = candidates(decision, need, policy, day)
    skip = decision.skip
    reason = REASON_CODES[skip] if skip and not links else None
    return (so_line_id, at, kind, code, need, decision.from_stock, reason, flat, count)


_KIND_CODES: Mapping[DecisionKind, str] = {k: k.value for k in DecisionKind}


def receipt_row(
    *,
    so_line_id: int,
    at: datetime,
    linked: bool,
    waited: int,
    got: int,
    po_line_id: int,
    due_date: date | None,
    received: int,
) -> dict[str, Any]:
    """A goods-in record: a line that waited for `waited` units got `got` of a receipt."""
    return {
        "so_line_id": so_line_id,
        "at": at,
        "kind": (DecisionKind.GOODS_IN_LINKED if linked else DecisionKind.GOODS_IN_WAITING).value,
        "policy": "",
        "need": waited,
        "from_stock": got,
        "reason": None,
        "candidates": [po_line_id, days_after(due_date, at.date()), received, got],
        "considered": 1,
    }


# --- reading records back, in words -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    po_line_id: int
    due_date: date | None
    free: int  # goods in: the quantity received
    taken: int  # goods in: what this line got


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    at: datetime
    kind: DecisionKind
    policy: str  # the policy's code, "S" appended when splitting was allowed
    need: int
    from_stock: int
    reason: SkipReason | None
    candidates: tuple[Candidate, ...]
    considered: int

    @classmethod
    def from_row(
        cls,
        *,
        at: datetime,
        kind: str,
        policy: str,
        need: int,
        from_stock: int,
        reason: str | None,
        candidates: Sequence[Any] | None,
        considered: int,
    ) -> DecisionRecord:
        flat = list(candidates or ())
        day = at.date()
        found = [
            Candidate(
                int(flat[k]), from_days_after(flat[k + 1], day), int(flat[k + 2]), int(flat[k + 3])
            )
            for k in range(0, len(flat) - 3, 4)
        ]
        return cls(
            at,
            DecisionKind(kind),
            policy,
            need,
            from_stock,
            _REASONS[reason] if reason else None,
            tuple(_shown_in_order(found, need, _policy_named(policy))),
            considered,
        )

    @property
    def chosen(self) -> tuple[Candidate, ...]:
        return tuple(c for c in self.candidates if c.taken)

    @property
    def policy_name(self) -> str | None:
        return _policy_named(self.policy)

    @property
    def split_allowed(self) -> bool:
        return self.policy.endswith(SPLIT_CODE) and len(self.policy) > 1


def _shown_in_order(found: list[Candidate], need: int, policy: str | None) -> list[Candidate]:
    """The chosen first (earliest due first), then those that also fitted in the
    policy's order, then those that did not, earliest due first."""

    def by_due(c: Candidate) -> tuple[Any, ...]:
        return (c.due_date is None, c.due_date or date.min, c.po_line_id)

    key = POLICIES.get(policy or "earliest_due", EARLIEST_DUE).key

    def by_policy(c: Candidate) -> tuple[Any, ...]:
        return key(c.po_line_id, c.due_date, c.free, need)

    chosen = sorted((c for c in found if c.taken), key=by_due)
    fitted = sorted((c for c in found if not c.taken and c.free >= need), key=by_policy)
    short = sorted((c for c in found if not c.taken and c.free < need), key=by_due)
    return chosen + fitted + short


def short_date(value: date | None, *, year: int | None = None) -> str:
    """'5 Dec', with the year when it is not `year`; 'no date' when there is none."""
    if value is None:
        return "no date"
    text = f"{value.day} {value:%b}"
    return text if value.year == year else f"{text} {value.year}"


_OCCASION = {
    DecisionKind.INTAKE: "When the order came in",
    DecisionKind.WORKLIST: "On a worklist retry",
    DecisionKind.MANUAL: "Linked by hand",
    DecisionKind.REALLOCATION: "On re-allocation",
    DecisionKind.GOODS_IN_LINKED: "At goods in",
    DecisionKind.GOODS_IN_WAITING: "At goods in",
}


def explain(record: DecisionRecord, label: Callable[[int], str], today: date | None = None) -> str:
    """The record in words; `label(po_line_id)` names a PO line ('PO-2 line 1').

    A due date before `today` is no promise: it reads "overdue (was due 29 Nov)".
    """
    words = _Words(label, record.at.year, today)
    when = f"{_OCCASION[record.kind]} ({short_date(record.at.date())})"
    if record.kind in (DecisionKind.GOODS_IN_LINKED, DecisionKind.GOODS_IN_WAITING):
        return _goods_in(record, label, when)
    parts = [when + ":"]
    if record.from_stock:
        parts.append(f"{record.from_stock} taken from free stock.")
    others = [c for c in record.candidates if not c.taken]
    fitted = [c for c in others if c.free >= record.need]
    short = [c for c in others if c.free < record.need]
    more = record.considered - len(record.candidates)
    if record.chosen:
        parts.extend(_linked(record, fitted, words))
    elif record.reason is not None:
        parts.append(_not_linked(record, short, fitted, words.named))
    if more > 0:
        parts.append(f"({more} more open PO line{'s' if more > 1 else ''} not listed.)")
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class _Words:
    """How an explanation names PO lines and their due dates."""

    label: Callable[[int], str]
    year: int  # the decision's: dates in another year show theirs
    today: date | None

    def due(self, c: Candidate) -> str:
        when = short_date(c.due_date, year=self.year)
        if self.today is not None and is_overdue(c.due_date, self.today):
            return f"overdue (was due {when})"
        return f"due {when}"

    def named(self, c: Candidate) -> str:
        return f"{self.label(c.po_line_id)} ({self.due(c)})"


def _goods_in(record: DecisionRecord, label: Callable[[int], str], when: str) -> str:
    c = record.candidates[0]
    how = (
        "the PO line's linked orders are served first"
        if record.kind is DecisionKind.GOODS_IN_LINKED
        else "after the PO line's linked orders, waiting lines of the item are served"
    )
    return (
        f"{when}: {c.free} received on {label(c.po_line_id)}; this line got {c.taken} "
        f"of the {record.need} it waited for ({how}, by priority, then delivery date)."
    )


def _linked(record: DecisionRecord, fitted: Sequence[Candidate], words: _Words) -> list[str]:
    """What the line was linked to, and why: by a person, by the policy, or split."""
    chosen = record.chosen
    c = chosen[0]
    if record.kind is DecisionKind.MANUAL:
        parts = [
            f"Linked to {words.label(c.po_line_id)}, {words.due(c)}, "
            f"chosen by a person ({c.free} free ≥ {record.need} needed)."
        ]
        if fitted:
            parts.append(_also(fitted, words.named, "could also have taken it") + ".")
        return parts
    if len(chosen) == 1:
        policy = POLICIES.get(record.policy_name or "")
        why = policy.words if policy else "the policy's choice"
        parts = [
            f"Linked to {words.label(c.po_line_id)}, {words.due(c)}: "
            f"{why} with {c.free} free ≥ {record.need} needed."
        ]
        if fitted:
            parts.append(_also(fitted, words.named, "also fitted") + ".")
        return parts
    pieces = ", ".join(f"{c.taken} on {words.named(c)}" for c in chosen)
    return [
        f"Split over {len(chosen)} PO lines, earliest due first: {pieces}; "
        f"no single PO line had {record.need} free."
    ]


def _also(lines: Sequence[Candidate], named: Callable[[Candidate], str], verb: str) -> str:
    shown = [named(c) for c in lines[:3]]
    extra = len(lines) - len(shown)
    text = ", ".join(shown) + (f" and {extra} more" if extra else "")
    return f"{text} {verb}"


def _not_linked(
    record: DecisionRecord,
    short: Sequence[Candidate],
    fitted: Sequence[Candidate],
    named: Callable[[Candidate], str],
) -> str:
    reason = record.reason
    need = record.need
    if reason is SkipReason.NO_OPEN_PO:
        return f"Not linked, {need} waiting: no open purchase order for the item."
    if reason is SkipReason.NO_STATUS:
        return (
            f"Not linked, {need} waiting: "
            + _also(fitted, named, "had room but no status")
            + ", and no default status is configured."
        )
    if reason is SkipReason.NOT_ENOUGH_ON_ORDER:
        having = "; ".join(f"{named(c)} had {c.free} free" for c in short[:3])
        together = ""
        if record.split_allowed:
            together = f" (together {sum(c.free for c in short)} free, splitting allowed)"
        return f"Not linked, {need} waiting: no PO line had {need} free{together}" + (
            f": {having}." if having else "."
        )
    return f"Not linked, {need} waiting: {reason}."
