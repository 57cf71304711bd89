"""`bopo audit`: the audit trail, newest first, with filters."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from bopo.cli.common import JsonOpt, app, handled_errors, open_context, out, print_json
from bopo.errors import FieldError, InvalidInput
from bopo.services.admin import audit


def _day(raw: str | None, name: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        raise InvalidInput(
            [FieldError(name, f"must be a date as YYYY-MM-DD, not {raw!r}")]
        ) from None


@app.command("audit")
def audit_list(
    tctx: typer.Context,
    actor: Annotated[str | None, typer.Option(help="Part of who did it, e.g. ines.")] = None,
    action: Annotated[
        str | None, typer.Option(help="An action or its group: email, email.retry.")
    ] = None,
    entity: Annotated[
        str | None, typer.Option(help=f"A kind: {', '.join(audit.ENTITIES)}.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this day (UTC), YYYY-MM-DD.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The audit trail, newest first: who changed what, when, before and after."""
    with handled_errors():
        page = audit.find_audit(
            open_context(tctx, check=False),
            actor=actor,
            action=action,
            entity=entity,
            since=_day(since, "since"),
            limit=limit,
        )
    if as_json:
        print_json(
            {
                "total": page.total,
                "items": [
                    {
                        "id": r.id,
                        "at": r.at.isoformat(),
                        "actor": r.actor,
                        "action": r.action,
                        "entity": r.entity,
                        "entity_id": r.entity_id,
                        "before": r.before,
                        "after": r.after,
                    }
                    for r in page.items
                ],
            }
        )
        return
    table = Table(title=f"audit trail: {len(page.items)} of {page.total}, newest first")
    for col in ("at", "actor", "action", "about", "before", "after"):
        table.add_column(col)
    for r in page.items:
        table.add_row(
            r.at.isoformat(timespec="seconds"),
            r.actor,
            r.action,
            f"{r.entity} {r.entity_id}",
            json.dumps(r.before, ensure_ascii=False) if r.before else "",
            json.dumps(r.after, ensure_ascii=False) if r.after else "",
        )
    out.print(table)
