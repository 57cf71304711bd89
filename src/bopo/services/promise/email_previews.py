"""What a change would do to customers' emails, for a what-if: the back-order emails it
would queue or supersede (bopo.services.email.superseding, without writing), and the
due-date notices it would queue, merge or cancel."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import Connection, select

from bopo.db.bulk import one_of
from bopo.db.models import Customer, EmailTemplate, SalesOrder
from bopo.domain.templating import EmailEvent, TemplateType
from bopo.domain.workset import Workset
from bopo.services.email.backorder_emails import templated_statuses
from bopo.services.email.notices import NoticePlan
from bopo.services.email.superseding import StatedLine, preview_refresh


@dataclass(frozen=True, slots=True)
class EmailPreview:
    """An email that would be queued (or an unsent notice changed or cancelled)."""

    source: str
    number: str
    to: str
    template: Annotated[
        str, Field(description="The template's name (empty for a notice cancelled)")
    ]
    type: Annotated[str, Field(description="BACK_ORDER, BACK_ORDER_UPDATE or BACK_ORDER_EARLIER")]
    event: Annotated[
        str,
        Field(
            description="What queues it (reallocation, worklist, due_date), "
            "or queued a superseded one"
        ),
    ]
    action: Annotated[
        str,
        Field(
            description="queued: a new email; merged: into the unsent notice `email_id`; "
            "cancelled: that notice would be left with nothing to say; superseded: the unsent "
            "email `email_id` would no longer be true (a queued one says what is)"
        ),
    ]
    lines: Annotated[int, Field(description="Lines it would announce")]
    send_after: Annotated[
        datetime | None, Field(description="Held back until then (one notice a day)")
    ] = None
    email_id: int | None = None  # the unsent email merged into, cancelled or superseded


def back_order_previews(
    conn: Connection, workset: Workset, cause: EmailEvent
) -> list[EmailPreview]:
    """The back-order emails the change would queue (one per sales order and template:
    for its new links, and for what is still true of the emails it would supersede),
    and the waiting emails it would supersede (bopo.services.email.superseding)."""
    waiting, plan = preview_refresh(
        conn,
        orders=workset.touched_orders(),
        fresh=_fresh_links(conn, workset),
        now_of=lambda stated: _as_now(workset, stated),
        today=workset.now.date(),
        event=cause,
    )
    gone = [w for w in waiting if w.id in plan.reasons]
    if not plan.groups and not gone:
        return []
    return _previews(conn, plan, gone)


def _fresh_links(conn: Connection, workset: Workset) -> dict[int, tuple[int, int]]:
    """The new links that would queue a back-order email: (order, template) each, under
    made-up ids (nothing is written)."""
    templated = templated_statuses(conn)
    fresh: dict[int, tuple[int, int]] = {}
    for line in workset.so_lines.values():
        for n in line.new_links:
            ref = templated.get(workset.po_lines[n.po_line_id].supply.status_id or 0)
            if ref is not None:
                fresh[-1 - len(fresh)] = (line.order_id, ref.id)
    return fresh


def _as_now(workset: Workset, stated: StatedLine) -> StatedLine:
    """A line an unsent email states, as the change would leave it."""
    link = workset.link_now(stated.association_id)
    po = workset.po_lines.get(stated.po_line_id)
    so = workset.so_lines.get(stated.so_line_id)
    return replace(
        stated,
        state=link.state if link else stated.state,
        qty=link.qty if link else stated.qty,
        due_date=po.due_date if po else stated.due_date,
        status_id=po.supply.status_id if po else stated.status_id,
        order_status=so.order_status if so else stated.order_status,
    )


def _previews(conn: Connection, plan: Any, gone: list[Any]) -> list[EmailPreview]:
    """Each email the refresh plan would queue, and each it would supersede, with the
    order, the customer's address and the template's name."""
    orders = {o for o, _ in plan.groups} | {w.order_id for w in gone}
    heads = {
        r.id: r
        for r in conn.execute(
            select(SalesOrder.id, SalesOrder.source, SalesOrder.number, Customer.email)
            .join(Customer, Customer.id == SalesOrder.customer_id)
            .where(one_of(conn, SalesOrder.id, sorted(orders)))
        )
    }
    names = dict(
        conn.execute(
            select(EmailTemplate.id, EmailTemplate.name).where(
                one_of(
                    conn,
                    EmailTemplate.id,
                    sorted({t for _, t in plan.groups} | {w.template_id or 0 for w in gone}),
                )
            )
        ).all()
    )

    def preview(order_id: int, template_id: int | None, action: str, lines: int) -> EmailPreview:
        head = heads[order_id]
        return EmailPreview(
            head.source,
            head.number,
            head.email,
            names.get(template_id or 0, ""),
            TemplateType.BACK_ORDER.value,
            "",
            action,
            lines,
        )

    out = [
        replace(preview(o, t, "queued", len(ids)), event=plan.events[(o, t)])
        for (o, t), ids in sorted(plan.groups.items())
    ]
    out += [
        replace(preview(w.order_id, w.template_id, "superseded", 0), event=w.event, email_id=w.id)
        for w in gone
    ]
    return out


def notice_preview(plan: NoticePlan) -> EmailPreview:
    action = {"new": "queued"}.get(plan.action, plan.action)
    return EmailPreview(
        plan.source,
        plan.number,
        plan.to,
        plan.template.name if plan.template else "",
        plan.kind.value if plan.kind else "",
        EmailEvent.DUE_DATE.value,
        action,
        len(plan.lines),
        plan.send_after,
        plan.email_id,
    )
