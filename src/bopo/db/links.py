"""Writing new links: associations, default statuses for their PO lines, their audit.

Shared by intake and every change (bopo.db.workset), so a link is written the
same way whatever made it. The emails that announce new links are queued by
the caller once the links are written: intake from memory, the others through
superseding.refresh_emails, which also keeps one waiting email per sales order
and template.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update

from bopo.db.bulk import Writes
from bopo.db.models import Association, PoLine
from bopo.domain.records import NewLink, audit_row

_SET_DEFAULT_STATUS = (
    update(PoLine)
    .where(PoLine.id == bindparam("_id"), PoLine.status_id.is_(None))
    .values(status_id=bindparam("_status_id"))
)


_LINK_COLUMNS = ("id", "so_line_id", "po_line_id", "qty", "state", "created_at", "created_by")


def write_links(
    writes: Writes,
    links: Sequence[NewLink],
    ids: Sequence[int],
    *,
    actor: str,
    now: datetime,
    audit: list[dict[str, Any]],
) -> None:
    """Queue active associations (with reserved `ids`) and default statuses for PO lines;
    their audit rows (unstamped: see bopo.db.audit.insert_audit) join `audit`.

    The database triggers move each PO line's associated count, and its CHECK
    refuses the whole statement if any line would be over-associated.
    """
    if not links:
        return
    writes.insert_values(
        Association,
        _LINK_COLUMNS,
        [
            (assoc_id, n.so_line_id, n.link.po_line_id, n.link.qty, "active", now, actor)
            for n, assoc_id in zip(links, ids, strict=True)
        ],
    )
    for n, assoc_id in zip(links, ids, strict=True):
        audit.append(
            audit_row(
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
    _write_default_statuses(writes, links, actor=actor, now=now, audit=audit)


def _write_default_statuses(
    writes: Writes,
    links: Sequence[NewLink],
    *,
    actor: str,
    now: datetime,
    audit: list[dict[str, Any]],
) -> None:
    defaults = {n.link.po_line_id: n.link.set_status_id for n in links if n.link.set_status_id}
    if defaults:
        # Only lines still without a status: the domain gives the default to those alone.
        writes.execute(
            _SET_DEFAULT_STATUS,
            [{"_id": i, "_status_id": s} for i, s in sorted(defaults.items())],
        )
        for po_line_id, status_id in sorted(defaults.items()):
            audit.append(
                audit_row(
                    now,
                    actor,
                    "po_line.status",
                    "po_line",
                    po_line_id,
                    {"status_id": None},
                    {"status_id": status_id, "default": True},
                )
            )
