"""Email templates (system data): list, add, edit, preview.

A template is checked before it is saved: it must parse and render, within
the `[email]` template limits, against a sample context of its type and a
large one. A refused template changes nothing. Rendering happens outside any
write transaction: a slow template never holds a lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import Connection, insert, select, update

from bopo.db.audit import event
from bopo.db.models import (
    EmailTemplate,
    PoLineStatus,
)
from bopo.db.queries import record_audit
from bopo.domain.templating import (
    NOTICE_TYPES,
    Rendered,
    TemplateSource,
    TemplateType,
    sample_context,
    validate_template,
)
from bopo.errors import Conflict, FieldError, InvalidInput, NotFound
from bopo.services.context import Context
from bopo.services.email.templates_orders import OrderChoice, order_context, preview_orders

# The orders a template is previewed against are found beside (templates_orders).
__all__ = [
    "OrderChoice",
    "Preview",
    "TemplateView",
    "add_template",
    "edit_template",
    "get_template",
    "get_template_by_id",
    "list_templates",
    "preview_orders",
    "preview_source",
    "preview_template",
    "template_names",
]


@dataclass(frozen=True, slots=True)
class TemplateView:
    id: int
    name: str
    type: str
    subject: str
    body_text: str
    body_html: str | None
    statuses: Annotated[
        tuple[str, ...], Field(description="Codes of the PO line statuses it is attached to")
    ]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Preview:
    """The email as the customer would get it."""

    subject: str
    body_text: str
    body_html: str | None
    to: Annotated[str | None, Field(description="The customer's address; null for the sample")]
    order: Annotated[str | None, Field(description="The order rendered for, as source/number")] = (
        None
    )


def _views(
    conn: Connection, name: str | None = None, template_id: int | None = None
) -> list[TemplateView]:
    stmt = select(
        EmailTemplate.id,
        EmailTemplate.name,
        EmailTemplate.type,
        EmailTemplate.subject,
        EmailTemplate.body_text,
        EmailTemplate.body_html,
        EmailTemplate.created_at,
        EmailTemplate.updated_at,
    ).order_by(EmailTemplate.name)
    if name is not None:
        stmt = stmt.where(EmailTemplate.name == name)
    if template_id is not None:
        stmt = stmt.where(EmailTemplate.id == template_id)
    rows = conn.execute(stmt).all()
    used: dict[int | None, list[str]] = {}
    for tid, code in conn.execute(
        select(PoLineStatus.email_template_id, PoLineStatus.code)
        .where(PoLineStatus.email_template_id.in_([r.id for r in rows]))
        .order_by(PoLineStatus.code)
    ):
        used.setdefault(tid, []).append(code)
    return [TemplateView(**r._mapping, statuses=tuple(used.get(r.id, ()))) for r in rows]


def list_templates(ctx: Context) -> list[TemplateView]:
    with ctx.db.read() as conn:
        return _views(conn)


def get_template(ctx: Context, name: str) -> TemplateView:
    with ctx.db.read() as conn:
        found = _views(conn, name)
    if not found:
        raise NotFound("email template", name)
    return found[0]


def get_template_by_id(ctx: Context, template_id: int) -> TemplateView:
    """A template by its id, which stays the same when it is renamed (the web UI's links)."""
    with ctx.db.read() as conn:
        found = _views(conn, template_id=template_id)
    if not found:
        raise NotFound("email template", template_id)
    return found[0]


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput([FieldError("name", "must be 1 to 200 characters")])
    return name


def _snapshot(source: TemplateSource, kind: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "subject": source.subject,
        "body_text": source.body_text,
        "body_html": source.body_html,
    }


def add_template(
    ctx: Context,
    name: str,
    subject: str,
    body_text: str,
    body_html: str | None = None,
    *,
    kind: str = TemplateType.BACK_ORDER.value,
    actor: str,
) -> TemplateView:
    """Add a template after checking it parses and renders against a sample."""
    name = _clean_name(name)
    kind = kind.strip().upper()
    source = TemplateSource(subject, body_text, body_html or None)
    validate_template(kind, source, ctx.settings.email.render_limits)
    now = ctx.clock()
    with ctx.db.write() as conn:
        if conn.scalar(select(EmailTemplate.id).where(EmailTemplate.name == name)) is not None:
            raise Conflict(f"email template {name!r} exists already")
        if kind in NOTICE_TYPES:  # due-date notices use the one template of their type
            other = conn.scalar(select(EmailTemplate.name).where(EmailTemplate.type == kind))
            if other is not None:
                raise Conflict(f"there is a {kind} template already ({other!r}): edit that one")
        template_id = conn.scalar(
            insert(EmailTemplate)
            .values(**_snapshot(source, kind, name), created_at=now, updated_at=now)
            .returning(EmailTemplate.id)
        )
        assert template_id is not None
        record_audit(
            conn,
            [
                event(
                    now,
                    actor,
                    "template.create",
                    "email_template",
                    template_id,
                    None,
                    _snapshot(source, kind, name),
                )
            ],
        )
        return _views(conn, name)[0]


def edit_template(
    ctx: Context,
    name: str,
    *,
    new_name: str | None = None,
    subject: str | None = None,
    body_text: str | None = None,
    body_html: str | None = None,
    actor: str,
) -> TemplateView:
    """Change a template; None keeps a part, an empty body_html removes the HTML body.

    Emails queued already keep the text they were rendered with. The new text
    is checked before the write transaction; if the template changed meanwhile,
    the edit is refused rather than checked again under the lock.
    """
    stmt = select(
        EmailTemplate.id,
        EmailTemplate.type,
        EmailTemplate.subject,
        EmailTemplate.body_text,
        EmailTemplate.body_html,
    ).where(EmailTemplate.name == name)
    with ctx.db.read() as conn:
        seen = conn.execute(stmt).first()
    if seen is None:
        raise NotFound("email template", name)
    before = TemplateSource(seen.subject, seen.body_text, seen.body_html)
    after = TemplateSource(
        before.subject if subject is None else subject,
        before.body_text if body_text is None else body_text,
        before.body_html if body_html is None else (body_html or None),
    )
    renamed = _clean_name(new_name) if new_name is not None else name
    validate_template(seen.type, after, ctx.settings.email.render_limits)
    with ctx.db.write() as conn:
        current = conn.execute(stmt.with_for_update(key_share=True)).first()
        if current is None:
            raise NotFound("email template", name)
        if tuple(current) != tuple(seen):
            raise Conflict(f"email template {name!r} was changed meanwhile; edit it again")
        if (after, renamed) == (before, name):
            return _views(conn, name)[0]
        if renamed != name and conn.scalar(
            select(EmailTemplate.id).where(EmailTemplate.name == renamed)
        ):
            raise Conflict(f"email template {renamed!r} exists already")
        _save_edit(
            conn,
            current.id,
            current.type,
            (name, before),
            (renamed, after),
            now=ctx.clock(),
            actor=actor,
        )
        return _views(conn, renamed)[0]


def _save_edit(
    conn: Connection,
    template_id: int,
    kind: str,
    was: tuple[str, TemplateSource],
    now_is: tuple[str, TemplateSource],
    *,
    now: datetime,
    actor: str,
) -> None:
    """Write an edited template (its name and parts), and the audit row of the edit."""
    (name, before), (renamed, after) = was, now_is
    conn.execute(
        update(EmailTemplate)
        .where(EmailTemplate.id == template_id)
        .values(**_snapshot(after, kind, renamed), updated_at=now)
    )
    record_audit(
        conn,
        [
            event(
                now,
                actor,
                "template.edit",
                "email_template",
                template_id,
                _snapshot(before, kind, name),
                _snapshot(after, kind, renamed),
            )
        ],
    )


def preview_source(
    ctx: Context,
    kind: str,
    source: TemplateSource,
    *,
    order_id: int | None = None,
    order_number: str | None = None,
    order_source: str | None = None,
) -> Preview:
    """Render a template, saved or not, as a customer would get it: against a sales
    order's linked lines (by id, or by number and source), else the sample context."""
    kind = kind.strip().upper()
    limits = ctx.settings.email.render_limits
    compiled = validate_template(kind, source, limits)
    if order_id is None and order_number is None:
        if order_source is not None:
            raise InvalidInput([FieldError("order_source", "give order_number with it")])
        context = sample_context(TemplateType(kind), ctx.settings.email.company_name)
        return _preview(compiled.render(context, limits), None, None)
    with ctx.db.read() as conn:
        to, order, context = order_context(conn, ctx, order_id, order_number, order_source)
    return _preview(compiled.render(context, limits), to, order)


def preview_template(
    ctx: Context,
    name: str,
    *,
    order_number: str | None = None,
    source: str | None = None,
    order_id: int | None = None,
) -> Preview:
    """Render a saved template against the sample, or a sales order's linked lines."""
    view = get_template(ctx, name)
    return preview_source(
        ctx,
        view.type,
        TemplateSource(view.subject, view.body_text, view.body_html),
        order_id=order_id,
        order_number=order_number,
        order_source=source,
    )


def _preview(rendered: Rendered, to: str | None, order: str | None) -> Preview:
    return Preview(rendered.subject, rendered.body_text, rendered.body_html, to, order)


def template_names(ctx: Context) -> Sequence[str]:
    with ctx.db.read() as conn:
        return conn.scalars(select(EmailTemplate.name).order_by(EmailTemplate.name)).all()
