"""What a changed workset leaves to write: every row that differs from what was loaded,
the audit rows and decision records, the new links.

bopo.db.workset writes a `Changes` in the order the CHECKs need: links that end
or shrink first (they make room on their PO lines), then PO lines, stock, SO
lines, order statuses, and the new links last.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bopo.domain.records import NewLink, PoLineRow, SoLineRow

if TYPE_CHECKING:
    from bopo.domain.workset import Workset

PO_FIELDS = ("qty_ordered", "qty_delivered", "qty_cancelled", "due_date")
SO_FIELDS = ("qty_assigned", "qty_shipped", "qty_cancelled", "backorder_reason", "backorder_since")


def po_values(p: PoLineRow) -> tuple[Any, ...]:
    """A PO line's values of PO_FIELDS."""
    return (p.ordered, p.delivered, p.cancelled, p.due_date)


def so_values(s: SoLineRow) -> tuple[Any, ...]:
    """An SO line's values of SO_FIELDS."""
    return (s.assigned, s.shipped, s.cancelled, s.reason, s.since)


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _diff(
    names: Sequence[str], before: Sequence[Any], after: Sequence[Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    changed = [i for i in range(len(names)) if before[i] != after[i]]
    return (
        {names[i]: _json(before[i]) for i in changed},
        {names[i]: _json(after[i]) for i in changed},
    )


@dataclass
class Changes:
    """The rows to write, by table, as plain values; `audit` in the order they happened
    (the new links' own rows are the writer's: their ids are reserved on writing)."""

    now: datetime
    actor: str
    ended_links: dict[tuple[str, str | None], list[int]] = field(default_factory=dict)
    shrunk_links: list[dict[str, Any]] = field(default_factory=list)  # {"id", "qty"}
    po_lines: list[dict[str, Any]] = field(default_factory=list)  # {"id", *PO_FIELDS}
    stock: list[dict[str, Any]] = field(default_factory=list)  # {"id", "on_hand", "assigned"}
    so_lines: list[dict[str, Any]] = field(default_factory=list)  # {"id", *SO_FIELDS}
    order_status: list[tuple[int, str]] = field(default_factory=list)  # (order id, new status)
    new_links: list[NewLink] = field(default_factory=list)  # first to serve first
    audit: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)


def _links_changed(ws: Workset, out: Changes) -> None:
    """Links that ended, by (state, reason), and links that shrank."""
    ended: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    for assoc_id, (qty, state) in sorted(ws.orig_assoc.items()):
        assoc = ws.assocs[assoc_id]
        if assoc.state != state:
            ended[(assoc.state, assoc.ended_reason)].append(assoc_id)
        elif assoc.qty != qty:
            out.shrunk_links.append({"id": assoc_id, "qty": assoc.qty})
    out.ended_links = dict(ended)


def changes_of(ws: Workset, *, stock_action: str | None, details: dict[str, Any]) -> Changes:
    """The rows `ws` changed, with an audit row each; `details` join each row's `after`
    and `stock_action` names the stock rows' action (None: the caller audits stock, as
    intake does per order)."""
    out = Changes(ws.now, ws.actor, audit=list(ws.audit), decisions=list(ws.decisions))
    _links_changed(ws, out)

    for po_id, before in sorted(ws.orig_po.items()):
        after = po_values(ws.po_lines[po_id])
        if after != before:
            out.po_lines.append(dict(zip(("id", *PO_FIELDS), (po_id, *after), strict=True)))
            old, new = _diff(PO_FIELDS, before, after)
            action = ws.po_action.get(po_id, "po_line.update")
            out.audit.append(ws.event(action, "po_line", po_id, old, new | details))

    for item_id, (on_hand, assigned) in sorted(ws.orig_stock.items()):
        pos = ws.stock[item_id]
        if (pos.on_hand, pos.assigned) != (on_hand, assigned):
            now = {"on_hand": pos.on_hand, "assigned": pos.assigned}
            out.stock.append({"id": item_id} | now)
            if stock_action is None:
                continue
            was = {"on_hand": on_hand, "assigned": assigned}
            out.audit.append(ws.event(stock_action, "stock_item", item_id, was, now | details))

    for line_id, before in sorted(ws.orig_so.items()):
        line = ws.so_lines[line_id]
        after = so_values(line)
        if after == before:
            continue
        out.so_lines.append(dict(zip(("id", *SO_FIELDS), (line_id, *after), strict=True)))
        old, new = _diff(SO_FIELDS[:4], before[:4], after[:4])  # the worklist's since: no row
        if old:
            action = ws.line_action.get(line_id, "so_line.update")
            new |= {"sales_order_id": line.order_id} | details
            out.audit.append(ws.event(action, "so_line", line_id, old, new))

    for order_id, (old_status, new_status) in sorted(ws.order_status.items()):
        out.order_status.append((order_id, new_status))
        out.audit.append(
            ws.event(
                f"sales_order.{new_status}",
                "sales_order",
                order_id,
                {"status": old_status},
                {"status": new_status} | details,
            )
        )

    out.new_links = [
        NewLink(s.id, s.order_id, link)
        for s in sorted(ws.so_lines.values(), key=lambda s: s.priority)
        for link in s.new_links
    ]
    return out
