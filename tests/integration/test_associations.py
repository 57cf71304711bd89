"""Associations as records, and linking or unlinking them by id, as the API does."""

from __future__ import annotations

from typing import Any

import pytest

from bopo.errors import Conflict, NotFound
from bopo.services.context import Context
from bopo.services.orders.intake import take_order
from bopo.services.supply.goods_in import find_receipts, get_receipt, receive
from bopo.services.worklist import associations
from bopo.services.worklist.manual_links import line_candidates, unlink_line
from tests.helpers import day, given_po, given_status, given_stock, order, worklist


@pytest.fixture
def linked(ctx: Context) -> Context:
    """SO-1 (4 of A) linked to PO-1; PO-2 could take it too."""
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 5, day(10), "ON ORDER"))
    given_po(ctx, "PO-2", ("A", 8, day(20), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 4)), actor="test")
    return ctx


def test_associations_are_found_by_state_po_order_line_and_sku(linked: Context) -> None:
    [first] = associations.find_associations(linked).items
    assert (first.number, first.po_number, first.qty, first.expected) == (
        "SO-1",
        "PO-1",
        4,
        day(10),
    )
    associations.unlink(linked, first.id, actor="ann")
    made = associations.link(linked, first.so_line_id, "PO-2", 1, actor="ann")

    def numbers(**filters: Any) -> list[tuple[str, str]]:
        page = associations.find_associations(linked, **filters)
        return [(a.po_number, a.state) for a in page.items]

    assert numbers() == [("PO-2", "active"), ("PO-1", "released")]
    assert numbers(state="released") == [("PO-1", "released")]
    assert numbers(po_number="PO-2") == [("PO-2", "active")]
    assert numbers(sales_order_id=first.sales_order_id, limit=1) == [("PO-2", "active")]
    assert numbers(so_line_id=first.so_line_id, offset=1) == [("PO-1", "released")]
    assert numbers(sku="B") == []
    assert associations.get_association(linked, made.id) == made
    assert associations.get_association(linked, first.id).ended_by == "ann"
    with pytest.raises(NotFound):
        associations.get_association(linked, 999)


def test_an_unlink_by_id_never_removes_a_newer_link(linked: Context) -> None:
    [first] = associations.find_associations(linked).items
    associations.unlink(linked, first.id, actor="ann")
    with pytest.raises(Conflict, match="released, not active"):
        associations.unlink(linked, first.id, actor="ann")
    newer = associations.link(linked, first.so_line_id, "PO-2", 1, actor="ann")

    # A caller that looked up the old link just before it ended names it still.
    with pytest.raises(Conflict, match=f"association {first.id} is no longer the link"):
        unlink_line(linked, "SO-1", 1, association_id=first.id, actor="bob")
    assert associations.get_association(linked, newer.id).state == "active"


def test_a_worklist_line_is_shown_with_its_candidates_and_others_are_not_found(
    linked: Context,
) -> None:
    [first] = associations.find_associations(linked).items
    with pytest.raises(NotFound):
        line_candidates(linked, first.so_line_id)  # linked: not on the worklist
    associations.unlink(linked, first.id, actor="ann")
    shown = line_candidates(linked, first.so_line_id)
    assert worklist(linked) == {"SO-1:1": "released"}
    assert (shown.line.number, shown.line.waiting) == ("SO-1", 4)
    assert [(c.po_number, c.free_on_order) for c in shown.candidates] == [("PO-1", 5), ("PO-2", 8)]


def test_receipts_are_paged_newest_first_and_found_by_id(linked: Context) -> None:
    ids = [receive(linked, "PO-1", 1, n, actor="goods-in").id for n in (1, 2, 1)]
    receive(linked, "PO-2", 1, 3, actor="goods-in")
    page = find_receipts(linked, po_number="PO-1", limit=2)
    assert ([r.id for r in page.items], page.total) == (ids[::-1][:2], 3)
    assert [r.id for r in find_receipts(linked, po_number="PO-1", offset=2).items] == ids[:1]
    assert get_receipt(linked, ids[0]).lines[0].line.number == "SO-1"
    with pytest.raises(NotFound):
        get_receipt(linked, 999)
