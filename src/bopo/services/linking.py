"""Writing allocation decisions back: associations, default statuses, their audit,
and the back-order emails they cause.

Shared by intake, the worklist retry, manual links and re-allocation, so a
link is written the same way, and announced the same way, whatever made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update

from bopo.db.bulk import Writes
from bopo.db.models import Association, PoLine
from bopo.domain.allocation import Link
from bopo.domain.templating import EmailEvent
from bopo.logs import current_request_id
from bopo.services.backorder_emails import queue_backorder_emails
from bopo.services.context import Context


@dataclass(frozen=True, slots=True)
class NewLink:
    so_line_id: int
    sales_order_id: int
    link: Link


def event(
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    """An audit row, ready for record_audit or Writes.insert (with the request behind it)."""
    return {
        "request_id": current_request_id(),
        "at": at,
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "before": before,
        "after": after,
    }


_SET_DEFAULT_STATUS = (
    update(PoLine)
    .where(PoLine.id == bindparam("_id"), PoLine.status_id.is_(None))
    .values(status_id=bindparam("_status_id"))
)


def write_links(
    writes: Writes,
    links: Sequence[NewLink],
    ids: Sequence[int],
    *,
    actor: str,
    now: datetime,
    audit: list[dict[str, Any]],
    ctx: Context,
    cause: EmailEvent | None,
) -> None:
    """Queue active associations (with reserved `ids`), default statuses for PO lines,
    and, once those are written, the back-order emails (one per sales order and template);
    with `cause` None the caller queues the emails itself (intake does, from memory).

    The database triggers move each PO line's associated count, and its CHECK
    refuses the whole statement if any line would be over-associated. `cause`
    is recorded on the emails (and shown to templates as `event`).
    """
    if not links:
        return
    writes.insert(
        Association,
        [
            {
                "id": assoc_id,
                "so_line_id": n.so_line_id,
                "po_line_id": n.link.po_line_id,
                "qty": n.link.qty,
                "state": "active",
                "created_at": now,
                "created_by": actor,
            }
            for n, assoc_id in zip(links, ids, strict=True)
        ],
    )
    for n, assoc_id in zip(links, ids, strict=True):
        audit.append(
            event(
                now,
                actor,
                "association.create",
                "association",
                assoc_id,
                None,
                {
                    "state": "active",
                    "so_line_id": n.so_line_id,
                    "po_line_id": n.link.po_line_id,
                    "qty": n.link.qty,
                    "sales_order_id": n.sales_order_id,
                },
            )
        )
    defaults = {n.link.po_line_id: n.link.set_status_id for n in links if n.link.set_status_id}
    if defaults:
        # Only lines still without a status: the domain gives the default to those alone.
        writes.execute(
            _SET_DEFAULT_STATUS,
            [{"_id": i, "_status_id": s} for i, s in sorted(defaults.items())],
        )
        for po_line_id, status_id in sorted(defaults.items()):
            audit.append(
                event(
                    now,
                    actor,
                    "po_line.status",
                    "po_line",
                    po_line_id,
                    {"status_id": None},
                    {"status_id": status_id, "default": True},
                )
            )
    if cause is not None:  # rendered from the written rows, so after the flush
        writes.after_flush(
            lambda: queue_backorder_emails(writes.conn, ctx, ids, event=cause, now=now)
        )
