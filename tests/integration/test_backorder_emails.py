"""Back-order emails are queued with the links that cause them, in the same transaction."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select, update

from bopo.db.models import Association, PendingEmail, PendingEmailAssociation
from bopo.domain.templating import EmailEvent
from bopo.services.context import Context
from bopo.services.email import outbox
from bopo.services.email.backorder_emails import queue_backorder_emails
from bopo.services.orders.intake import take_order, take_orders
from bopo.services.supply import catalog
from bopo.services.supply.status_change import set_po_line_status
from bopo.services.worklist import backorders
from tests.helpers import day, given_po, given_status, given_stock, given_template, order


def _emails(ctx: Context) -> list[outbox.EmailView]:
    return [outbox.show_email(ctx, e.id) for e in outbox.list_emails(ctx)]


def test_an_order_linked_under_a_templated_status_queues_one_email_listing_every_line(
    ctx: Context,
) -> None:
    given_stock(ctx, KETTLE=0, PAN=0, MUG=5)
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("KETTLE", 10, day(5), "ON ORDER"), ("PAN", 10, day(9), "ON ORDER"))

    take_order(
        ctx, order("SO-1", ("KETTLE", 2), ("MUG", 1), ("PAN", 3), customer="ADA"), actor="test"
    )

    [email] = _emails(ctx)
    assert email.state == "pending"
    assert email.to_address == "ada@example.com"
    assert email.subject == "Your order SO-1: expected dates"
    assert email.event == "intake"
    assert email.sales_order == "web/SO-1"
    assert "2 x Item KETTLE (KETTLE), expected 30 November 2026" in email.body_text
    assert "3 x Item PAN (PAN), expected 4 December 2026" in email.body_text
    assert "MUG" not in email.body_text  # taken from stock: nothing to announce
    assert len(email.association_ids) == 2
    assert email.message_id.startswith("<")
    assert email.message_id.endswith("@example.com>")


def test_no_email_when_the_status_has_no_template(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_status(ctx, "CONFIRMED")
    given_template(ctx, statuses=("CONFIRMED",))
    given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    result = take_order(ctx, order("SO-1", ("A", 2)), actor="test")
    assert result.lines[0].outcome == "linked"
    assert _emails(ctx) == []


def test_lines_under_two_templates_give_two_emails_and_each_order_its_own(ctx: Context) -> None:
    given_stock(ctx, A=0, B=0)
    given_status(ctx, "ON ORDER")
    given_status(ctx, "DELAYED")
    given_template(ctx, "On order", statuses=("ON ORDER",))
    given_template(ctx, "Delayed", subject="Delayed: {{ order.number }}", statuses=("DELAYED",))
    given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"), ("B", 10, day(30), "DELAYED"))

    take_orders(
        ctx,
        [
            order("SO-1", ("A", 1), ("B", 1), customer="ADA"),
            order("SO-2", ("A", 1), customer="BOB"),
        ],
        actor="test",
    )

    emails = _emails(ctx)
    assert sorted((e.sales_order, e.template) for e in emails) == [
        ("web/SO-1", "Delayed"),
        ("web/SO-1", "On order"),
        ("web/SO-2", "On order"),
    ]
    assert all(len(e.association_ids) == 1 for e in emails)


def test_the_default_status_given_at_link_time_counts(make_ctx: Callable[..., Context]) -> None:
    ctx = make_ctx(default_po_line_status=None)
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("A", 10, day(5)))  # no status on the line
    ctx = make_ctx(default_po_line_status="ON ORDER")
    take_order(ctx, order("SO-1", ("A", 2)), actor="test")
    assert len(_emails(ctx)) == 1


def test_a_worklist_retry_that_links_a_line_queues_its_email(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    take_order(ctx, order("SO-1", ("A", 2)), actor="test")  # nothing on order yet
    assert _emails(ctx) == []
    given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    backorders.allocate_worklist(ctx, actor="test")
    [email] = _emails(ctx)
    assert email.event == "worklist"


def test_an_order_refused_by_the_database_leaves_no_email_behind(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    result = take_order(ctx, order("SO-1", ("A", 2), ("NOPE", 1)), actor="test")
    assert result.status == "rejected"
    assert _emails(ctx) == []


def test_changing_a_po_line_status_to_a_templated_one_emails_each_linked_order(
    ctx: Context,
) -> None:
    given_stock(ctx, A=0, B=0)
    given_status(ctx, "ON ORDER")
    given_status(ctx, "DELAYED")
    given_template(ctx, "Delayed", subject="{{ order.number }} is delayed", statuses=("DELAYED",))
    given_po(ctx, "PO-1", ("A", 20, day(5), "ON ORDER"), ("B", 20, day(5), "ON ORDER"))
    take_orders(
        ctx,
        [
            order("SO-1", ("A", 1), ("B", 1), customer="ADA"),
            order("SO-2", ("A", 2), customer="BOB"),
            order("SO-3", ("B", 2), customer="CY"),
        ],
        actor="test",
    )
    assert _emails(ctx) == []

    change = set_po_line_status(ctx, "PO-1", 1, "delayed", actor="test")

    assert (change.before, change.after, change.emails_queued) == ("ON ORDER", "DELAYED", 2)
    emails = _emails(ctx)
    assert sorted(e.subject for e in emails) == ["SO-1 is delayed", "SO-2 is delayed"]
    assert {e.event for e in emails} == {"status_change"}
    so1 = next(e for e in emails if e.sales_order == "web/SO-1")
    assert "Item A" in so1.body_text
    assert "Item B" not in so1.body_text


def test_setting_the_status_a_line_already_has_sends_nothing_again(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "DELAYED")
    given_template(ctx, statuses=("DELAYED",))
    given_po(ctx, "PO-1", ("A", 20, day(5), "DELAYED"))
    take_order(ctx, order("SO-1", ("A", 1)), actor="test")
    change = set_po_line_status(ctx, "PO-1", 1, "DELAYED", actor="test")
    assert not change.changed
    assert len(_emails(ctx)) == 1  # the one from intake


def test_a_status_change_on_a_line_with_no_links_queues_nothing(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_status(ctx, "DELAYED")
    given_template(ctx, statuses=("DELAYED",))
    given_po(ctx, "PO-1", ("A", 20, day(5), "ON ORDER"))
    assert set_po_line_status(ctx, "PO-1", 1, "DELAYED", actor="test").emails_queued == 0


def test_a_template_of_another_type_sends_nothing(ctx: Context) -> None:
    """Only BACK_ORDER templates are sent on links; others are left to their own features."""
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("A", 20, day(5), "ON ORDER"))
    with ctx.db.write() as conn:  # a type added later, e.g. a despatch note
        from bopo.db.models import EmailTemplate

        conn.execute(EmailTemplate.__table__.update().values(type="DESPATCH"))
    take_order(ctx, order("SO-1", ("A", 1)), actor="test")
    assert _emails(ctx) == []


def test_each_announced_association_is_recorded_with_its_email(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("A", 100, day(5), "ON ORDER"))
    take_orders(
        ctx, [order(f"SO-{n}", ("A", 1), customer=f"C{n}") for n in range(30)], actor="test"
    )
    with ctx.db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(PendingEmail)) == 30
        assert conn.scalar(
            select(func.count()).select_from(PendingEmailAssociation)
        ) == conn.scalar(select(func.count()).select_from(Association))
        ids = conn.scalars(select(PendingEmail.message_id)).all()
    assert len(set(ids)) == 30


def test_detaching_a_template_stops_the_emails(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    catalog.set_status_template(ctx, "ON ORDER", None, actor="test")
    given_po(ctx, "PO-1", ("A", 20, day(5), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 1)), actor="test")
    assert _emails(ctx) == []


def test_a_template_that_fails_on_an_order_leaves_a_failed_email_and_takes_the_order(
    ctx: Context,
) -> None:
    from bopo.errors import Conflict

    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    # Fine for the two-line sample order, a division by zero for a one-line order.
    given_template(ctx, text="{{ 10 // (lines | length - 1) }} lines", statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("A", 20, day(5), "ON ORDER"))
    result = take_order(ctx, order("SO-1", ("A", 1)), actor="test")
    assert result.lines[0].outcome == "linked"
    [email] = outbox.list_emails(ctx)
    assert email.state == "failed"
    assert "did not render" in (email.last_error or "")
    assert "integer division or modulo by zero" in (email.last_error or "")
    with pytest.raises(Conflict):
        outbox.retry_email(ctx, email.id, actor="test")


def test_a_manual_link_queues_the_same_email(ctx: Context) -> None:
    from bopo.services.worklist.manual_links import link_line

    given_stock(ctx, KETTLE=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    take_order(ctx, order("SO-1", ("KETTLE", 2)), actor="test")  # no PO yet: waits
    given_po(ctx, "PO-1", ("KETTLE", 10, day(5), "ON ORDER"))
    assert _emails(ctx) == []

    link_line(ctx, "SO-1", 1, "PO-1", 1, actor="alice")

    [email] = _emails(ctx)
    assert (email.event, email.sales_order) == ("manual_link", "web/SO-1")
    assert "2 x Item KETTLE (KETTLE)" in email.body_text


def test_a_line_re_linked_after_a_po_is_cancelled_gets_a_new_email(ctx: Context) -> None:
    from bopo.services.supply.changes import cancel_purchase_order

    given_stock(ctx, KETTLE=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    given_po(ctx, "PO-EARLY", ("KETTLE", 5, day(3), "ON ORDER"))
    given_po(ctx, "PO-LATE", ("KETTLE", 5, day(20), "ON ORDER"))
    take_order(ctx, order("SO-1", ("KETTLE", 2)), actor="test")

    cancel_purchase_order(ctx, "PO-EARLY", actor="buyer")

    events = sorted(e.event for e in _emails(ctx))
    assert events == ["intake", "reallocation"]
    again = next(e for e in _emails(ctx) if e.event == "reallocation")
    assert "expected 15 December 2026" in again.body_text


EVERY_FIELD = """{{ event }} {{ company.name }} {{ customer.code }} {{ customer.name }}
{{ customer.email }} {{ order.number }} {{ order.source }} {{ order.order_date | date }}
{{ order.delivery_date | date }}
{% for line in lines %}{{ line.line_no }} {{ line.sku }} {{ line.item_name }} {{ line.qty }}
{{ line.expected | date }} {{ line.po_number }}/{{ line.po_line_no }} {{ line.status }}
{% endfor %}"""


@pytest.mark.parametrize("allow_split", [False, True])
def test_intake_emails_read_as_those_rendered_from_the_stored_rows(
    make_ctx: Callable[..., Context], allow_split: bool
) -> None:
    """Intake renders from what it holds in memory; the same links, read back from
    the database, must render to the very same emails."""
    ctx = make_ctx(default_po_line_status="ON ORDER", allow_split=allow_split)
    given_stock(ctx, A=1, B=0, C=0)
    given_status(ctx, "ON ORDER", "On order with the supplier")
    given_status(ctx, "LATE", "Running late")
    given_template(ctx, "On order", text=EVERY_FIELD, statuses=("ON ORDER",))
    given_template(ctx, "Late", subject="Late: {{ order.number }}", text=EVERY_FIELD)
    catalog.set_status_template(ctx, "LATE", "Late", actor="test")
    given_po(ctx, "PO-1", ("A", 3, day(4)), ("B", 2, day(9), "LATE"), ("C", 5, day(2), "ON ORDER"))
    given_po(ctx, "PO-2", ("B", 6, day(12), "ON ORDER"))

    taken = take_orders(
        ctx,
        [
            order("SO-1", ("C", 2), ("A", 3), ("B", 3), customer="ADA"),
            order("SO-2", ("B", 1), ("X", 1), customer="BOB"),  # unknown SKU: rejected
            order("SO-3", ("A", 1), ("C", 1), ("B", 2), customer="ADA"),
        ],
        actor="test",
    )
    assert [r.status.value for r in taken] == ["taken", "rejected", "taken"]

    def rendered(ids: list[int]) -> set[tuple[object, ...]]:
        with ctx.db.read() as conn:
            links = conn.execute(
                select(PendingEmailAssociation.email_id, PendingEmailAssociation.association_id)
            ).all()
            by_email: dict[int, set[int]] = {}
            for email_id, assoc_id in links:
                by_email.setdefault(email_id, set()).add(assoc_id)
            rows = conn.execute(
                select(
                    PendingEmail.id,
                    PendingEmail.sales_order_id,
                    PendingEmail.template_id,
                    PendingEmail.event,
                    PendingEmail.to_address,
                    PendingEmail.to_name,
                    PendingEmail.subject,
                    PendingEmail.body_text,
                    PendingEmail.body_html,
                ).where(PendingEmail.id.in_(ids))
            ).all()
            return {(*r[1:], frozenset(by_email[r.id])) for r in rows}

    from_intake = [e.id for e in _emails(ctx)]
    with ctx.db.read() as conn:
        association_ids = list(conn.scalars(select(Association.id)))
    with ctx.db.write() as conn:
        # Sent: one email waits per order and template, and these are queued again.
        conn.execute(update(PendingEmail).values(state="sent"))
        from_rows = queue_backorder_emails(
            conn, ctx, association_ids, event=EmailEvent.INTAKE, now=ctx.clock()
        )
    intake_emails = rendered(from_intake)
    assert len(intake_emails) == 3  # both orders on order, one of them late too
    assert intake_emails == rendered(from_rows)


def test_a_template_that_blows_up_only_for_big_orders_fails_that_email_and_the_order_is_taken(
    ctx: Context,
) -> None:
    """It passed its check at save (the large sample has 50 lines); an order of 70 does not."""
    given_stock(ctx, KETTLE=0)
    given_status(ctx, "ON ORDER")
    given_template(
        ctx,
        text="{% if lines | length > 60 %}{% for a in range(9000) %}{% for b in range(9000) %}"
        "{% endfor %}{% endfor %}{% endif %}Dear {{ customer.name }}",
        statuses=("ON ORDER",),
    )
    given_po(ctx, "PO-1", ("KETTLE", 500, day(5), "ON ORDER"))

    started = time.process_time()  # CPU, not wall: a stalled machine does not move it
    small, big, bigger = take_orders(
        ctx,
        [
            order("SO-1", ("KETTLE", 1), customer="ADA"),
            order("SO-2", *[("KETTLE", 1)] * 70, customer="BOB"),
            order("SO-3", *[("KETTLE", 1)] * 80, customer="CY"),
        ],
        actor="test",
    )
    assert time.process_time() - started < 5  # one render gave up after 200 ms, not each

    assert [line.outcome for line in small.lines] == ["linked"]
    assert [line.outcome for line in big.lines + bigger.lines] == ["linked"] * 150
    by_order = {e.sales_order: e for e in _emails(ctx)}
    assert by_order["web/SO-1"].state == "pending"
    for number in ("web/SO-2", "web/SO-3"):
        failed = by_order[number]
        assert failed.state == "failed"
        assert "template 'Back order' did not render" in (failed.last_error or "")
        assert "takes longer than 200 ms to render" in (failed.last_error or "")
    assert "as for 70 lines earlier in this batch" in (by_order["web/SO-3"].last_error or "")
