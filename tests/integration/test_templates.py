"""Email templates as system data: saved only when they render, attached to statuses."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bopo.db.models import AuditEvent, EmailTemplate
from bopo.errors import Conflict, InvalidInput, NotFound
from bopo.services.context import Context
from bopo.services.email import templates
from bopo.services.orders.intake import take_order
from bopo.services.supply import catalog
from tests.helpers import day, given_po, given_status, given_stock, given_template, order


def test_a_template_is_saved_and_listed_with_the_statuses_using_it(ctx: Context) -> None:
    given_status(ctx, "ON ORDER")
    given_template(ctx, "Back order", statuses=("ON ORDER",))
    [t] = templates.list_templates(ctx)
    assert (t.name, t.type, t.statuses) == ("Back order", "BACK_ORDER", ("ON ORDER",))
    [status] = catalog.list_statuses(ctx)
    assert status.template == "Back order"


def test_a_template_that_does_not_render_is_refused_and_nothing_is_saved(ctx: Context) -> None:
    with pytest.raises(InvalidInput) as caught:
        templates.add_template(ctx, "Bad", "Hi", "Dear {{ customer.nam }}", actor="test")
    assert str(caught.value.errors[0]) == (
        "body_text: line 1: 'dict object' has no attribute 'nam'"
    )
    with ctx.db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(EmailTemplate)) == 0


def test_an_edit_that_breaks_the_template_is_refused_and_the_old_one_stays(ctx: Context) -> None:
    given_template(ctx, "Back order", subject="Order {{ order.number }}")
    with pytest.raises(InvalidInput):
        templates.edit_template(ctx, "Back order", subject="{% if %}", actor="test")
    assert templates.get_template(ctx, "Back order").subject == "Order {{ order.number }}"


def test_an_edit_changes_what_new_emails_say_but_not_queued_ones(ctx: Context) -> None:
    from bopo.services.email import outbox

    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, "Back order", subject="Old {{ order.number }}", statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 1)), actor="test")
    templates.edit_template(ctx, "Back order", subject="New {{ order.number }}", actor="test")
    take_order(ctx, order("SO-2", ("A", 1)), actor="test")
    assert [e.subject for e in outbox.list_emails(ctx)] == ["Old SO-1", "New SO-2"]


def test_an_edit_can_rename_and_drop_the_html_body_and_is_audited(ctx: Context) -> None:
    given_template(ctx, "Back order", html="<p>{{ customer.name }}</p>")
    t = templates.edit_template(ctx, "Back order", new_name="BO", body_html="", actor="test")
    assert (t.name, t.body_html) == ("BO", None)
    with ctx.db.read() as conn:
        actions = conn.scalars(
            select(AuditEvent.action).where(AuditEvent.entity == "email_template")
        ).all()
    assert actions == ["template.create", "template.edit"]


def test_names_are_unique(ctx: Context) -> None:
    given_template(ctx, "Back order")
    with pytest.raises(Conflict):
        given_template(ctx, "Back order")


def test_preview_renders_against_the_sample_order(ctx: Context) -> None:
    given_template(ctx, "Back order", html="<p>{{ customer.name }}</p>")
    p = templates.preview_template(ctx, "Back order")
    assert p.subject == "Your order W-1001: expected dates"
    assert "2 x Enamel kettle, 1.7 l (KET-01), expected 9 December 2026" in p.body_text
    assert p.body_html == "<p>Ada Lovelace</p>"
    assert p.to is None


def test_preview_renders_against_a_real_order(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, "Back order")
    given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 3), customer="ADA"), actor="test")
    p = templates.preview_template(ctx, "Back order", order_number="SO-1")
    assert p.to == "ada@example.com"
    assert "3 x Item A (A), expected 30 November 2026" in p.body_text


def test_an_unknown_status_or_template_is_not_found(ctx: Context) -> None:
    given_status(ctx, "ON ORDER")
    with pytest.raises(NotFound):
        catalog.set_status_template(ctx, "ON ORDER", "Nope", actor="test")
    with pytest.raises(NotFound):
        catalog.set_status_template(ctx, "NOPE", None, actor="test")
