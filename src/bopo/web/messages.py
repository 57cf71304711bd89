"""What an action did, in a sentence or two for the message at the top of the next page."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

from bopo.domain.records import ChangeLog
from bopo.services.email.outbox import SendReport
from bopo.services.orders.demand_changes import DemandChangeResult
from bopo.services.orders.despatch import Shipment
from bopo.services.orders.outcomes import OrderResult
from bopo.services.orders.sales import PriorityChange
from bopo.services.promise.what_if import WhatIf
from bopo.services.supply.changes import SupplyChangeResult
from bopo.services.supply.goods_in import ReceiptResult
from bopo.services.supply.po_line_update import PoLineUpdate
from bopo.services.supply.receipt_reversal import ReversalResult
from bopo.services.worklist.backorders import RetrySummary
from bopo.services.worklist.manual_links import LinkBatch, LinkResult, UnlinkResult
from bopo.web.forms import plural

Day = Callable[[date | None], str]


def _counted(counter: Counter[str]) -> str:
    """'not enough outstanding on order' for one reason; '2 no open purchase order,
    1 not enough outstanding on order' for several."""
    if len(counter) == 1:
        return next(iter(counter))
    return ", ".join(f"{n:,} {why}" for why, n in counter.most_common())


def order_taken(r: OrderResult, day: Day) -> str:
    """'W-1 taken: 1 line from stock, 1 linked (PO-1 line 2, expected Fri 5 Dec),
    1 skipped: no open purchase order.'"""
    stock = [line for line in r.lines if line.outcome == "from stock"]
    linked = [line for line in r.lines if line.linked_qty]
    skipped = Counter(line.skipped for line in r.lines if line.skipped and not line.linked_qty)
    parts = []
    if stock:
        parts.append(f"{plural(len(stock), 'line')} from stock")
    if linked:
        where = "; ".join(
            f"{line.po_number} line {line.po_line_no}, expected {day(line.expected)}"
            for line in linked
        )
        parts.append(f"{len(linked)} linked ({where})")
    if skipped:
        parts.append(f"{sum(skipped.values())} skipped: {_counted(Counter(skipped))}")
    return f"Sales order {r.number} taken: " + ", ".join(parts) + "."


def link(r: LinkResult, day: Day) -> str:
    return (
        f"Linked {r.line} ({r.qty:,} of {r.sku}) to {r.po_number} line {r.po_line_no}, "
        f"expected {day(r.expected)}."
    )


def link_batch(b: LinkBatch) -> str:
    """'3 lines linked, 1 skipped: PO-1 line 2 has 3 free on order; W-1 line 1 needs 5.'"""
    text = f"{plural(len(b.linked), 'line')} linked"
    if b.refused:
        reasons = "; ".join(f"{ref}: {why}" for ref, why in b.refused)
        text += f", {len(b.refused)} skipped: {reasons}"
    return text + "."


def retry(s: RetrySummary) -> str:
    if not s.lines:
        return "The worklist has no lines waiting for stock or a PO line."
    text = (
        f"{plural(s.lines, 'worklist line')} tried: {s.linked:,} linked, "
        f"{s.from_stock:,} took stock ({plural(s.units_from_stock, 'unit')})"
    )
    if s.still_waiting:
        text += f"; still waiting: {_counted(s.still_waiting)}"
    return text + "."


def _log(log: ChangeLog, day: Day) -> str:
    parts = []
    if log.released:
        parts.append(
            f"{plural(len(log.released), 'link')} released ("
            + ", ".join(f"{r.line}: {r.qty:,}" for r in log.released)
            + ")"
        )
    relinked = [o for o in log.offered if o.linked_qty]
    stocked = [o for o in log.offered if o.from_stock and not o.linked_qty]
    waiting = Counter(o.reason for o in log.offered if o.reason and not o.linked_qty)
    if relinked:
        parts.append(
            "re-linked "
            + ", ".join(
                f"{o.line} to {o.po_number} line {o.po_line_no} (expected {day(o.expected)})"
                for o in relinked
            )
        )
    if stocked:
        parts.append(f"{plural(len(stocked), 'line')} took stock")
    if waiting:
        parts.append(f"waiting: {_counted(Counter(waiting))}")
    return "; ".join(parts)


_NAMES = {"ordered": "ordered", "cancelled": "cancelled", "due_date": "due"}


def supply_change(r: SupplyChangeResult, day: Day) -> str:
    if not r.lines:
        return f"{r.po_number}: nothing to change."
    changes = []
    for c in r.lines:
        moved = []
        before: dict[str, Any] = dict(c.before)
        after: dict[str, Any] = dict(c.after)
        for key, name in _NAMES.items():
            if before[key] != after[key]:
                if key == "due_date":
                    old, new = (
                        day(date.fromisoformat(v)) if v else "no date"
                        for v in (before[key], after[key])
                    )
                else:
                    old, new = f"{before[key]:,}", f"{after[key]:,}"
                moved.append(f"{name} {old} → {new}")
        changes.append(f"{r.po_number} line {c.line_no}: {', '.join(moved)}")
    text = "; ".join(changes)
    more = _log(r.log, day)
    if r.late_supply:
        more += ("; " if more else "") + (
            f"{plural(len(r.late_supply), 'order line')} now late, on the worklist: "
            + ", ".join(str(x) for x in r.late_supply)
        )
    if r.on_time_again:
        more += ("; " if more else "") + (
            "on time again: " + ", ".join(str(x) for x in r.on_time_again)
        )
    return f"{text}. {more[0].upper() + more[1:]}." if more else f"{text}."


def receipt(r: ReceiptResult) -> str:
    """'Received 10 of PAN-28 on PO-1001 line 1: 6 to web/W-5002 line 1, 4 to free stock.'"""
    parts = [
        f"{line.qty:,} to {line.line}"
        + (" (from the worklist)" if line.kind == "backorder" else "")
        for line in r.lines
    ]
    if r.to_stock:
        parts.append(f"{r.to_stock:,} to free stock")
    text = f"Received {r.qty:,} of {r.sku} on {r.po_number} line {r.po_line_no}: {', '.join(parts)}"
    if r.over_delivered:
        text += f" ({r.over_delivered:,} more than was outstanding)"
    return text + "."


def reversal(r: ReversalResult) -> str:
    """'Receipt 3 reversed: 6 of A out again from PO-1 line 1; 4 taken back from ...'"""
    text = f"Receipt {r.receipt_id} reversed: {r.qty:,} of {r.sku or 'the item'} out again"
    text += f" from {r.po_number} line {r.po_line_no}"
    if r.taken_back:
        text += "; taken back from " + ", ".join(f"{t.line} ({t.qty:,})" for t in r.taken_back)
    relinked = [o for o in r.log.offered if o.linked_qty]
    if relinked:
        text += "; linked again: " + ", ".join(
            f"{o.line} to {o.po_number} line {o.po_line_no}" for o in relinked
        )
    return text + "."


def demand_change(r: DemandChangeResult, day: Day) -> str:
    lines = ", ".join(
        f"line {c.line_no} gave up {c.given_up:,} of {c.sku}"
        + (f" ({c.from_stock:,} back to stock)" if c.from_stock else "")
        for c in r.lines
    )
    text = f"{r.source}/{r.number}: {lines or 'nothing to give up'}; the order is {r.status}"
    more = _log(r.log, day)
    return f"{text}. {more[0].upper() + more[1:]}." if more else f"{text}."


def unlink(r: UnlinkResult, day: Day) -> str:
    u = r.released
    text = f"Unlinked {u.line} from {u.po_number} line {u.po_line_no}; it waits on the worklist"
    more = _log(ChangeLog([], r.log.offered), day)
    return f"{text}. {more[0].upper() + more[1:]}." if more else f"{text}."


def shipment(s: Shipment) -> str:
    lines = ", ".join(f"line {x.line_no}: {x.qty:,} of {x.sku}" for x in s.lines)
    return f"Shipped {s.source}/{s.number} ({lines}); the order is {s.status}."


UNREACHABLE = "server unreachable: "
SHOWN_ERRORS = 5


def sending(r: SendReport, *, due_only: bool) -> tuple[str, str]:
    """(kind, text): '3 sent, 1 failed: email 7: recipient refused: 550 no such mailbox.'

    An unreachable server is said plainly, not as one error per email; `due_only` is a
    "send all due" click, where `left` counts what waits for later.
    """
    if r.stopped and r.stopped.startswith(UNREACHABLE):
        kept = r.retrying + r.released
        text = (
            f"{r.sent:,} sent. The mail server could not be reached "
            f"({r.stopped.removeprefix(UNREACHABLE)}): "
            f"{plural(kept, 'email')} {'stays' if kept == 1 else 'stay'} pending, "
            "to be tried again later"
        )
        if r.failed:
            text += f"; {r.failed:,} failed after their last attempt"
        return "error", text + "."
    if not (r.sent or r.failed or r.retrying or r.superseded):
        if not due_only:
            return "warn", "Nothing was sent: none of those emails is pending any more."
        text = "Nothing was sent: no email is due."
        if r.left:
            text += f" {plural(r.left, 'email')} wait for their next attempt or another mailer."
        return "warn", text
    parts = [f"{r.sent:,} sent"]
    if r.failed:
        parts.append(f"{r.failed:,} failed")
    if r.retrying:
        parts.append(f"{r.retrying:,} to be tried again later")
    if r.superseded:
        parts.append(f"{r.superseded:,} no longer true, superseded instead of sent")
    text = ", ".join(parts)
    if r.errors:
        text += ": " + "; ".join(r.errors[:SHOWN_ERRORS])
        if len(r.errors) > SHOWN_ERRORS:
            text += f"; and {len(r.errors) - SHOWN_ERRORS:,} more"
    text += "."
    if due_only and r.left:
        text += (
            f" {plural(r.left, 'email')} still to go: send again, or leave them to the "
            "batch mailer (bopo emails send)."
        )
    return ("ok" if not (r.failed or r.retrying) else "warn"), text


def status_set(r: PoLineUpdate, template: str | None) -> str:
    """'PO-1 line 1: status ON ORDER → CONFIRMED; 2 emails queued.'"""
    s = r.status
    assert s is not None
    if not s.changed:
        return f"{s.po_number} line {s.line_no} has the status {s.after} already; nothing changed."
    text = f"{s.po_number} line {s.line_no}: status {s.before or 'none'} → {s.after}; "
    if template is None:
        return text + f"no email queued ({s.after} has no email template)."
    if not s.emails_queued:
        return text + "no email queued (no sales order is linked to it)."
    return text + f"{plural(s.emails_queued, 'email')} queued to the customers linked to it."


def priority(r: PriorityChange) -> str:
    """'web/SO-1: priority normal → urgent. ...'"""
    if not r.changed:
        return f"{r.source}/{r.number} is {r.after} already; nothing changed."
    return (
        f"{r.source}/{r.number}: priority {r.before} → {r.after}. Nothing moves at once: "
        "the next goods in, re-allocation or worklist retry serves it in its new place."
    )


def what_if(w: WhatIf) -> str:
    """'Nothing has changed yet. It would re-link 1 order line, send 1 order line to the
    worklist and queue 2 emails.'"""
    parts = []
    linked = sum(1 for r in w.relinked if not r.before)
    if linked:
        parts.append(f"link {plural(linked, 'waiting order line')}")
    if len(w.relinked) > linked:
        parts.append(f"re-link {plural(len(w.relinked) - linked, 'order line')}")
    if w.to_worklist:
        parts.append(f"send {plural(len(w.to_worklist), 'order line')} to the worklist")
    if w.late:
        parts.append(f"make {plural(len(w.late), 'order line')} late (or later)")
    if w.late_supply:
        parts.append(
            f"put {plural(len(w.late_supply), 'order line')} on the worklist as late supply"
        )
    if w.on_time_again:
        parts.append(f"bring {plural(len(w.on_time_again), 'order line')} back on time")
    if w.served:
        parts.append(f"give {plural(len(w.served), 'order line')} stock")
    emails = Counter(e.action for e in w.emails)
    for action, verb, what in (
        ("queued", "queue", "email"),
        ("merged", "change", "unsent email"),
        ("cancelled", "cancel", "unsent email"),
        ("superseded", "supersede", "unsent email"),
    ):
        if emails[action]:
            parts.append(f"{verb} {plural(emails[action], what)}")
    if not parts:
        return "Nothing has changed yet, and it would touch no order and send no email."
    said = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Nothing has changed yet. It would {said}."
