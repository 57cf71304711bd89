"""Committing a change: its workset written, and the emails it touched kept true.

Every change (goods in, supply, demand, manual links, despatch, the worklist
retry) loads its rows with bopo.db.workset.load_workset, changes them with
the pure rules of bopo.domain.workset, and ends here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from bopo.db.workset import write_workset
from bopo.domain.templating import EmailEvent
from bopo.domain.workset import Workset
from bopo.services.context import Context
from bopo.services.email.superseding import lock_orders, refresh_emails


def commit(
    conn: Connection,
    ctx: Context,
    workset: Workset,
    *,
    stock_action: str,
    details: dict[str, Any],
    cause: EmailEvent = EmailEvent.REALLOCATION,
) -> None:
    """Write every change of `workset`, then bring the unsent emails of every order it
    touched up to date; `cause` is what the new links' emails record."""
    touched = workset.touched_orders()
    # The sales orders whose emails are looked at below are locked before any of them
    # is written (a status), so every writer takes them in the same order: by id.
    lock_orders(conn, touched)
    new_links = write_workset(conn, workset, stock_action=stock_action, details=details)
    refresh_emails(
        conn,
        ctx,
        orders=touched,
        new_links=new_links,
        event=cause,
        now=workset.now,
        actor=workset.actor,
    )
