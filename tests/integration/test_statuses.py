"""PO line statuses kept by an admin: codes by a rule, another name, retired ones kept
where used and given to no new PO line."""

from __future__ import annotations

import pytest

from bopo.errors import Conflict, InvalidInput
from bopo.services.admin import statuses
from bopo.services.common.inputs import NewPurchaseOrder, NewPurchaseOrderLine
from bopo.services.context import Context
from bopo.services.supply import catalog, po_line_update, purchasing
from tests.helpers import day, given_po, given_status, given_stock, po_line_of


@pytest.mark.parametrize("code", ["bad code!", "", "x" * 33, "ÉTÉ", "a.b"])
def test_a_code_outside_the_rule_is_refused(ctx: Context, code: str) -> None:
    with pytest.raises(InvalidInput, match="code"):
        catalog.add_status(ctx, code, "Name", actor="test")


def test_a_code_is_kept_in_capitals_with_digits_spaces_dashes_and_underscores(
    ctx: Context,
) -> None:
    made = catalog.add_status(ctx, " confirmed by supplier-2_b ", "Confirmed", actor="test")
    assert made.code == "CONFIRMED BY SUPPLIER-2_B"


def test_a_renamed_status_keeps_its_code(ctx: Context) -> None:
    given_status(ctx, "LATE")
    assert statuses.rename_status(ctx, "late", "Running late", actor="test").changed
    assert not statuses.rename_status(ctx, "LATE", "Running late", actor="test").changed
    assert [(s.code, s.name) for s in catalog.list_statuses(ctx)] == [("LATE", "Running late")]


def test_a_retired_status_stays_where_used_and_is_given_to_no_new_line(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "DELAYED")
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 5, day(5), "DELAYED"), ("A", 5, day(5), "ON ORDER"))
    assert statuses.retire_status(ctx, "delayed", actor="test").changed
    assert po_line_of(ctx, "PO-1").status == "DELAYED"  # kept where used
    with pytest.raises(Conflict, match="DELAYED is retired"):
        po_line_update.update_po_line(ctx, "PO-1", 2, status="DELAYED", actor="test")
    result = purchasing.add_purchase_orders(
        ctx,
        [
            NewPurchaseOrder(
                number="PO-2",
                supplier_code="SUP",
                lines=[NewPurchaseOrderLine(line_no=1, sku="A", qty=1, status="DELAYED")],
            )
        ],
        actor="test",
    )
    assert [e.message for _, _, e in result.errors] == [
        "unknown or retired PO line status 'DELAYED'"
    ]
    retired = {s.code: s.retired_at is not None for s in catalog.list_statuses(ctx)}
    assert retired == {"DELAYED": True, "ON ORDER": False}


def test_the_default_status_cannot_be_retired(make_ctx) -> None:  # type: ignore[no-untyped-def]
    ctx = make_ctx(default_po_line_status="ON ORDER")
    given_status(ctx, "ON ORDER")
    with pytest.raises(Conflict, match="default status"):
        statuses.retire_status(ctx, "ON ORDER", actor="test")
