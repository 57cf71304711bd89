"""The switch-on preview a page at a time: each page says exactly what the whole answer
says of its orders, pages follow the worklist's serving order, and the last says so."""

from __future__ import annotations

from collections.abc import Callable

from bopo.services.common.serial import to_json
from bopo.services.context import Context
from bopo.services.orders.intake import take_orders
from bopo.services.promise.switch_on import switch_on_page
from bopo.services.promise.what_if import WhatIf, what_if_switch_on
from tests.helpers import day, given_po, given_status, given_stock, given_template, order


def _worklist(make_ctx: Callable[..., Context]) -> Context:
    """Seven orders waiting with allocation off, over too little supply for all: PO-1
    (6 of A, due day 4) and PO-2 (2 of B, no status: never offered). SO-U is urgent,
    SO-5 and SO-6 deliver on the same day (the order id breaks the tie)."""
    off = make_ctx(allocate_existing_pos=False)
    given_stock(off, A=1, B=0)
    given_status(off, "ON ORDER")
    given_template(off, statuses=("ON ORDER",))
    given_po(off, "PO-1", ("A", 6, day(4), "ON ORDER"))
    given_po(off, "PO-2", ("B", 2, day(6)))
    orders = [
        order("SO-1", ("A", 2), delivery=day(9), customer="C1"),
        order("SO-2", ("A", 2), ("B", 1), delivery=day(3), customer="C2"),
        order("SO-3", ("B", 1), delivery=day(8), customer="C3"),
        order("SO-U", ("A", 2), delivery=day(20), customer="C4", priority="urgent"),
        order("SO-5", ("A", 1), delivery=day(7), customer="C5"),
        order("SO-6", ("A", 1), delivery=day(7), customer="C6"),
        order("SO-7", ("A", 3), delivery=day(12), customer="C7"),
    ]
    take_orders(off, orders, actor="web")
    return off


def _numbers(answer: WhatIf) -> dict[str, list[str]]:
    parts = ("relinked", "to_worklist", "late", "served")
    out = {p: [x.line.number for x in getattr(answer, p)] for p in parts}
    out["emails"] = [e.number for e in answer.emails]
    return out


def _merged(answers: list[WhatIf]) -> dict[str, object]:
    """The pages' answers as one, in the whole answer's order."""
    merged = WhatIf(answers[0].change)
    for a in answers:
        for part in ("relinked", "to_worklist", "late", "late_supply", "served", "emails"):
            getattr(merged, part).extend(getattr(a, part))
    for part in ("relinked", "to_worklist", "late", "served"):
        getattr(merged, part).sort(key=lambda x: (x.line.number, x.line.source, x.line.line_no))
    merged.emails.sort(key=lambda e: (e.number, e.template))
    return to_json(merged)  # type: ignore[no-any-return]


def test_pages_of_two_orders_say_what_the_whole_answer_says(
    make_ctx: Callable[..., Context],
) -> None:
    off = _worklist(make_ctx)
    whole = what_if_switch_on(off)
    whole.emails.sort(key=lambda e: (e.number, e.template))

    pages = [switch_on_page(off, limit=2)]
    while pages[-1].next_offset is not None:
        pages.append(switch_on_page(off, offset=pages[-1].next_offset, limit=2))

    assert [(p.offset, p.orders, p.next_offset) for p in pages] == [
        (0, 2, 2),
        (2, 2, 4),
        (4, 2, 6),
        (6, 1, None),
    ]
    assert _merged([p.answer for p in pages]) == to_json(whole)
    assert _numbers(whole)["relinked"]  # the worklist had something to link


def test_pages_follow_the_serving_order_priority_then_delivery_then_order(
    make_ctx: Callable[..., Context],
) -> None:
    off = _worklist(make_ctx)

    first = switch_on_page(off, limit=3)
    second = switch_on_page(off, offset=3, limit=3)
    last = switch_on_page(off, offset=6, limit=3)

    # SO-U (urgent), SO-2 (day 3), SO-5 (day 7) take PO-1's first five; SO-6 (day 7 too,
    # a later order) the last one; then SO-3 (B: no offered supply), SO-1 and SO-7 none.
    assert _numbers(first.answer)["relinked"] == ["SO-2", "SO-5", "SO-U"]
    assert _numbers(second.answer)["relinked"] == ["SO-6"]
    assert (last.orders, last.next_offset, last.answer.nothing) == (1, None, True)


def test_a_page_past_the_end_is_empty_and_the_last(make_ctx: Callable[..., Context]) -> None:
    off = _worklist(make_ctx)

    past = switch_on_page(off, offset=7, limit=3)
    everything = switch_on_page(off, limit=100)

    assert (past.orders, past.next_offset, past.answer.nothing) == (0, None, True)
    assert (everything.orders, everything.next_offset) == (7, None)
    assert _merged([everything.answer]) == _merged([what_if_switch_on(off)])
