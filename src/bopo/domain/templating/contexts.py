"""What a template sees: the context of a back-order email, and a sample one to check and
preview templates with."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from bopo.domain.templating.kinds import TemplateType


def linked_line(
    *,
    line_no: int,
    sku: str,
    item_name: str,
    qty: int,
    expected: date | None,
    po_number: str,
    po_line_no: int,
    status: str,
    previous_expected: date | None = None,
    overdue: bool = False,
) -> dict[str, Any]:
    """One sales-order line as a back-order email announces it (plain dicts render fastest).

    `previous_expected` is the date the customer was told before (due-date notices).
    `overdue`: the PO line's due date is past and the goods are not here yet. A past
    date is never promised: `expected` is then none ("to be confirmed") and the missed
    date is `was_due`.
    """
    return {
        "line_no": line_no,
        "sku": sku,
        "item_name": item_name,
        "qty": qty,
        "expected": None if overdue else expected,
        "overdue": overdue,
        "was_due": expected if overdue else None,
        "previous_expected": previous_expected,
        "po_number": po_number,
        "po_line_no": po_line_no,
        "status": status,
    }


def backorder_context(
    *,
    company: str,
    customer: Mapping[str, str],
    order: Mapping[str, Any],
    lines: list[dict[str, Any]],
    event: str,
) -> dict[str, Any]:
    """What a BACK_ORDER template sees (documented in the README)."""
    return {
        "company": {"name": company},
        "customer": {
            "code": customer["code"],
            "name": customer["name"],
            "email": customer["email"],
        },
        "order": {
            "number": order["number"],
            "source": order["source"],
            "order_date": order["order_date"],
            "delivery_date": order["delivery_date"],
        },
        "lines": lines,
        "event": event,
    }


def sample_context(
    kind: TemplateType, company: str = "Our shop", *, lines: int = 2
) -> dict[str, Any]:
    """A believable context to check and preview templates with; one line has no date.

    For due-date notices, each line also has the date given before. With more
    `lines`, the two sample lines repeat (with their own line numbers).
    """
    later = kind is TemplateType.BACK_ORDER_UPDATE
    earlier = kind is TemplateType.BACK_ORDER_EARLIER
    context = backorder_context(
        company=company,
        customer={"code": "C-SAMPLE", "name": "Ada Lovelace", "email": "ada@example.com"},
        order={
            "number": "W-1001",
            "source": "web",
            "order_date": date(2026, 11, 25),
            "delivery_date": date(2026, 11, 28),
        },
        lines=[
            linked_line(
                line_no=1,
                sku="KET-01",
                item_name="Enamel kettle, 1.7 l",
                qty=2,
                expected=date(2026, 12, 9),
                po_number="PO-1001",
                po_line_no=2,
                status="On order",
                previous_expected=(
                    date(2026, 12, 2) if later else date(2026, 12, 16) if earlier else None
                ),
            ),
            linked_line(
                line_no=3,
                sku="PAN-28",
                item_name="Cast-iron skillet, 28 cm",
                qty=1,
                expected=None,
                po_number="PO-1002",
                po_line_no=1,
                status="Confirmed by supplier",
                previous_expected=date(2026, 12, 1) if later else None,
            ),
        ],
        event="due_date" if later or earlier else "intake",
    )
    if lines > 2:
        pair = context["lines"]
        context["lines"] = [
            pair[n % 2] | {"line_no": n + 1, "sku": f"{pair[n % 2]['sku']}-{n + 1}"}
            for n in range(lines)
        ]
    return context
