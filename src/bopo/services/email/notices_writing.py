"""Writing planned due-date notices: rendered, queued, merged into an unsent notice, or
cancelled (the plans come from bopo.services.email.notices.plan_notices)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, update

from bopo.db.audit import event
from bopo.db.bulk import Writes
from bopo.db.models import PendingEmail, PendingEmailAssociation
from bopo.db.queries import record_audit
from bopo.domain.templating import EmailEvent
from bopo.errors import InvalidInput
from bopo.services.context import Context
from bopo.services.email.backorder_emails import (
    announced,
    compiled_templates,
    email_context,
    message_id,
    stated,
)

if TYPE_CHECKING:
    from bopo.services.email.notices import NoticePlan


def write_notices(
    conn: Connection, ctx: Context, plans: Sequence[NoticePlan], *, now: datetime, actor: str
) -> list[int]:
    """Render and write the planned notices; returns the ids of the emails written."""
    if not plans:
        return []
    rows = {
        r.association_id: r for r in announced(conn, {a for p in plans for a, _ in p.lines}, None)
    }
    templates = compiled_templates(conn, ctx, {p.template for p in plans if p.template})
    writes = Writes(conn)
    fresh = [p for p in plans if p.action == "new"]
    ids = iter(writes.reserve_ids({PendingEmail: len(fresh)})[PendingEmail])
    inserts: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    audit: list[dict[str, Any]] = []
    written: list[int] = []
    for plan in plans:
        if plan.action == "cancelled":
            audit.append(_cancel(writes, plan, now, actor))
            written.append(_email_id(plan))
            continue
        assert plan.template is not None
        group = sorted(
            (rows[a] for a, _ in plan.lines if a in rows),
            key=lambda r: (r.line_no, r.association_id),
        )
        content = _render(ctx, plan, group, templates, now)
        email_id = _email_id(plan) if plan.action == "merged" else next(ids)
        if plan.action == "merged":
            _rewrite(writes, email_id, content)
        else:
            inserts.append(_new_email(ctx, plan, email_id, group[0], content, now))
        links.extend(
            stated(email_id, r, now.date(), previous)
            for r in group
            for a, previous in plan.lines
            if a == r.association_id
        )
        written.append(email_id)
    writes.insert(PendingEmail, inserts)
    writes.insert(PendingEmailAssociation, links)
    writes.flush()
    record_audit(conn, audit)
    return written


def _email_id(plan: NoticePlan) -> int:
    """The unsent notice a plan merges into or cancels."""
    assert plan.email_id is not None
    return plan.email_id


def _cancel(writes: Writes, plan: NoticePlan, now: datetime, actor: str) -> dict[str, Any]:
    """Cancel an unsent notice; its audit row."""
    email_id = _email_id(plan)
    writes.execute(
        update(PendingEmail)
        .where(PendingEmail.id == email_id)
        .values(state="cancelled", updated_at=now)
    )
    return event(
        now,
        actor,
        "email.cancel",
        "pending_email",
        email_id,
        {"state": "pending"},
        {"state": "cancelled", "reason": "every date is back to what was told"},
    )


def _rewrite(writes: Writes, email_id: int, content: dict[str, Any]) -> None:
    """An unsent notice rendered again, its lines to be stated afresh."""
    writes.execute(update(PendingEmail).where(PendingEmail.id == email_id).values(**content))
    writes.execute(
        delete(PendingEmailAssociation).where(PendingEmailAssociation.email_id == email_id)
    )


def _new_email(
    ctx: Context,
    plan: NoticePlan,
    email_id: int,
    head: Any,
    content: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    return content | {
        "id": email_id,
        "sales_order_id": plan.sales_order_id,
        "event": EmailEvent.DUE_DATE.value,
        "to_address": head.email,
        "to_name": head.customer_name,
        "message_id": message_id(ctx.settings.email.from_address),
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": plan.send_after,
    }


def _render(
    ctx: Context,
    plan: NoticePlan,
    group: Sequence[Any],
    templates: dict[int, Any],
    now: datetime,
) -> dict[str, Any]:
    """The email's template and text (or, when it does not render, why not)."""
    assert plan.template is not None
    previous = dict(plan.lines)
    out: dict[str, Any] = {"template_id": plan.template.id, "updated_at": now}
    try:
        rendered = templates[plan.template.id].render(
            email_context(ctx, group, EmailEvent.DUE_DATE.value, previous, today=now.date()),
            ctx.settings.email.render_limits,
        )
    except InvalidInput as exc:
        name = plan.template.name
        return out | {
            "subject": f"(not rendered: template {name})",
            "body_text": "",
            "body_html": None,
            "state": "failed",
            "last_error": f"template {name!r} did not render: {exc}",
        }
    return out | {
        "subject": rendered.subject,
        "body_text": rendered.body_text,
        "body_html": rendered.body_html,
        "state": "pending",
        "last_error": None,
    }
