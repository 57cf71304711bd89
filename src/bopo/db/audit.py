"""Audit rows as written: each stamped with the request behind it (bopo.logs)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from bopo.db.bulk import Writes
from bopo.db.models import AuditEvent
from bopo.domain.records import audit_row
from bopo.logs import current_request_id


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
    row = audit_row(at, actor, action, entity, entity_id, before, after)
    return {"request_id": current_request_id()} | row


_FIELDS = ("at", "actor", "action", "entity", "entity_id", "before", "after")  # audit_row's
_values = itemgetter(*_FIELDS)


def insert_audit(writes: Writes, rows: Sequence[dict[str, Any]]) -> None:
    """Queue audit rows made by the pure rules, stamped with the current request."""
    request_id = current_request_id()
    writes.insert_values(
        AuditEvent, ("request_id", *_FIELDS), [(request_id, *_values(row)) for row in rows]
    )
