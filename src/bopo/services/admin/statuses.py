"""Keeping PO line statuses: what a code may be, renaming one, retiring one.

A retired status stays on the PO lines that have it, with its template, and is
shown as retired; it is no longer given to a PO line (new lines, imports, a
status change). Codes are checked when a status is made; codes made before the
rule existed are left as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from bopo.db.audit import event
from bopo.db.models import PoLineStatus
from bopo.db.queries import record_audit
from bopo.errors import Conflict, FieldError, InvalidInput, NotFound
from bopo.services.context import Context

CODE = re.compile(r"[A-Z0-9 _-]{1,32}")
CODE_RULE = "1 to 32 capital letters, digits, spaces, - or _"
NAME_MAX = 200


def checked_code(code: str) -> str:
    """The code as kept (trimmed, upper case), or InvalidInput saying the rule."""
    code = code.strip().upper()
    if not CODE.fullmatch(code):
        raise InvalidInput([FieldError("code", f"{code!r} is not a status code: {CODE_RULE}")])
    return code


def checked_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise InvalidInput([FieldError("name", f"must be 1 to {NAME_MAX} characters")])
    return name


@dataclass(frozen=True, slots=True)
class StatusChanged:
    code: str
    name: str
    retired_at: datetime | None
    changed: bool


def _row(conn: Connection, code: str) -> tuple[int, str, datetime | None]:
    row = conn.execute(
        select(PoLineStatus.id, PoLineStatus.name, PoLineStatus.retired_at)
        .where(PoLineStatus.code == code.strip().upper())
        .with_for_update(key_share=True)
    ).first()
    if row is None:
        raise NotFound("PO line status", code.strip().upper())
    return row.id, row.name, row.retired_at


def rename_status(ctx: Context, code: str, name: str, *, actor: str) -> StatusChanged:
    """Give a status another name (the code stays: files and settings use it)."""
    name = checked_name(name)
    code = code.strip().upper()
    now = ctx.clock()
    with ctx.db.write() as conn:
        status_id, old, retired = _row(conn, code)
        if old == name:
            return StatusChanged(code, name, retired, False)
        conn.execute(update(PoLineStatus).where(PoLineStatus.id == status_id).values(name=name))
        record_audit(
            conn,
            [
                event(
                    now,
                    actor,
                    "status.rename",
                    "po_line_status",
                    status_id,
                    {"name": old},
                    {"name": name},
                )
            ],
        )
    return StatusChanged(code, name, retired, True)


def retire_status(ctx: Context, code: str, *, actor: str) -> StatusChanged:
    """Retire a status: kept where used, given to no PO line from now on. The status
    the settings give lines without one (`default_po_line_status`) cannot be retired."""
    code = code.strip().upper()
    if code == (ctx.backorders().default_po_line_status or "").strip().upper():
        raise Conflict(
            f"{code} is the default status ([backorders] default_po_line_status): "
            "choose another default first"
        )
    now = ctx.clock()
    with ctx.db.write() as conn:
        status_id, name, retired = _row(conn, code)
        if retired is not None:
            return StatusChanged(code, name, retired, False)
        conn.execute(
            update(PoLineStatus).where(PoLineStatus.id == status_id).values(retired_at=now)
        )
        record_audit(
            conn,
            [
                event(
                    now,
                    actor,
                    "status.retire",
                    "po_line_status",
                    status_id,
                    {"retired": False},
                    {"retired": True},
                )
            ],
        )
    return StatusChanged(code, name, now, True)


def refuse_retired(conn: Connection, code: str) -> None:
    """A status about to be given to a PO line must not be retired."""
    retired = conn.scalar(
        select(PoLineStatus.retired_at).where(PoLineStatus.code == code.strip().upper())
    )
    if retired is not None:
        raise Conflict(f"PO line status {code.strip().upper()} is retired: choose another")
