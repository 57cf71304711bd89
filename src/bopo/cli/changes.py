"""`bopo` commands: goods in, supply and demand changes, manual links, despatch."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from bopo.cli.common import (
    JsonOpt,
    PoArg,
    PoLineArg,
    QtyArg,
    SoArg,
    SoLineArg,
    SourceOpt,
    actor,
    app,
    handled_errors,
    open_context,
    out,
    parse_due_date,
    print_json,
    purchase_app,
    sales_app,
)
from bopo.domain.records import ChangeLog
from bopo.services.common.serial import to_json
from bopo.services.orders import demand_changes, despatch
from bopo.services.orders.demand_changes import DemandChangeResult
from bopo.services.supply import changes, goods_in, receipt_reversal
from bopo.services.supply.changes import SupplyChangeResult
from bopo.services.worklist import manual_links

# --- goods in, supply and demand changes, manual links, despatch ---------------------------


def _print_log(log: ChangeLog) -> None:
    for r in log.released:
        out.print(f"  released {r.line}: {r.qty} of {r.sku} from {r.po_number} line {r.po_line_no}")
    for o in log.offered:
        parts = []
        if o.from_stock:
            parts.append(f"{o.from_stock} from stock")
        if o.linked_qty:
            when = o.expected.isoformat() if o.expected else "date unknown"
            parts.append(
                f"{o.linked_qty} linked to {o.po_number} line {o.po_line_no} (expected {when})"
            )
        if o.reason:
            parts.append(f"{o.waiting} waiting: {o.reason}")
        out.print(f"  re-allocated {o.line}: {', '.join(parts) or 'nothing'}")


def _print_supply(result: SupplyChangeResult) -> None:
    if not result.lines:
        out.print(f"{result.po_number}: nothing changed")
    for change in result.lines:
        before: dict[str, Any] = dict(change.before)
        moved = ", ".join(
            f"{k} {before[k]} -> {v}" for k, v in change.after.items() if before[k] != v
        )
        out.print(f"{result.po_number} line {change.line_no}: {moved}")
    _print_log(result.log)
    for ref in result.late_supply:
        out.print(f"  late supply: {ref} is on the worklist")
    for ref in result.on_time_again:
        out.print(f"  on time again: {ref}")
    for n in result.notices:
        held = f", held until {n.send_after:%Y-%m-%d %H:%M}" if n.send_after else ""
        out.print(f"  due-date notice to {n.to} ({n.source}/{n.number}): {n.action}{held}")


def _print_demand(result: DemandChangeResult) -> None:
    for c in result.lines:
        out.print(
            f"{result.source}/{result.number} line {c.line_no}: {c.given_up} of {c.sku} "
            f"given up ({c.from_stock} back to stock)"
        )
    out.print(f"order is {result.status}")
    _print_log(result.log)


@app.command("receive")
def receive_cmd(
    tctx: typer.Context, po: PoArg, line: PoLineArg, qty: QtyArg, as_json: JsonOpt = False
) -> None:
    """Goods in: receive QTY on a PO line; linked orders first, then the worklist, then stock."""
    with handled_errors():
        result = goods_in.receive(open_context(tctx), po, line, qty, actor=actor())
    if as_json:
        print_json(to_json(result))
        return
    over = f" ({result.over_delivered} over-delivered)" if result.over_delivered else ""
    what = f"{result.qty} of {result.sku} on {result.po_number} line {result.po_line_no}"
    out.print(f"received {what}{over}")
    for x in result.lines:
        out.print(f"  {x.line} ({x.customer_name}): {x.qty}, {x.kind}", highlight=False)
    out.print(f"  free stock: {result.to_stock}")


@app.command("unreceive")
def unreceive_cmd(
    tctx: typer.Context,
    receipt: Annotated[int, typer.Argument(help="The receipt's id (bopo receipts).")],
    as_json: JsonOpt = False,
) -> None:
    """Reverse a receipt booked in error: every unit out again, its orders offered again."""
    with handled_errors():
        done = receipt_reversal.reverse_receipt(open_context(tctx), receipt, actor=actor())
    if as_json:
        print_json(to_json(done))
        return
    out.print(
        f"receipt {done.receipt_id} reversed: {done.qty} of {done.sku} out again from "
        f"{done.po_number} line {done.po_line_no}",
        highlight=False,
    )
    for t in done.taken_back:
        out.print(f"  {t.line}: {t.qty} taken back", highlight=False)
    for o in done.log.offered:
        where = f"linked to {o.po_number} line {o.po_line_no}" if o.linked_qty else o.reason
        out.print(f"  {o.line}: {where or 'from stock'}", highlight=False)


@app.command()
def receipts(
    tctx: typer.Context,
    po: Annotated[str | None, typer.Option(help="Only this PO.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many receipts.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Released at goods in: each receipt, newest first, and which orders got what."""
    with handled_errors():
        views = goods_in.list_receipts(open_context(tctx, check=False), po_number=po, limit=limit)
    if as_json:
        print_json(to_json(views))
        return
    if not views:
        out.print("no receipts")
        return
    table = Table(title="released at goods in")
    for col in ("received", "by", "PO line", "sku", "qty", "to orders", "free stock"):
        table.add_column(col)
    for v in views:
        table.add_row(
            v.received_at.strftime("%Y-%m-%d %H:%M"),
            v.received_by,
            f"{v.po_number}:{v.po_line_no}",
            v.sku,
            str(v.qty),
            "\n".join(f"{x.line} x{x.qty} ({x.kind})" for x in v.lines) or "-",
            str(v.to_stock),
        )
    out.print(table)


@app.command("ship")
def ship_cmd(
    tctx: typer.Context,
    number: SoArg,
    source: SourceOpt = None,
    line: Annotated[
        list[int] | None, typer.Option("--line", help="Only this line (repeatable).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Despatch: ship an order's assigned stock (all lines, or those given)."""
    with handled_errors():
        result = despatch.ship(
            open_context(tctx), number, source=source, line_nos=line, actor=actor()
        )
    if as_json:
        print_json(to_json(result))
        return
    for s in result.lines:
        out.print(f"shipped {result.source}/{result.number} line {s.line_no}: {s.qty} of {s.sku}")
    out.print(f"order is {result.status}")


@app.command("link")
def link_cmd(
    tctx: typer.Context,
    number: SoArg,
    line: SoLineArg,
    po: PoArg,
    po_line: PoLineArg,
    source: SourceOpt = None,
    relink: Annotated[
        bool, typer.Option("--relink", help="A linked line: unlink it and link it here at once.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Link a worklist line to a PO line that covers its whole backorder quantity."""
    with handled_errors():
        result = manual_links.link_line(
            open_context(tctx),
            number,
            line,
            po,
            po_line,
            source=source,
            relink=relink,
            actor=actor(),
        )
    if as_json:
        print_json(to_json(result))
        return
    when = result.expected.isoformat() if result.expected else "date unknown"
    out.print(
        f"linked {result.line}: {result.qty} of {result.sku} on {result.po_number} "
        f"line {result.po_line_no} (expected {when})"
    )


@app.command("unlink")
def unlink_cmd(
    tctx: typer.Context,
    number: SoArg,
    line: SoLineArg,
    source: SourceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a line's link; it returns to the worklist."""
    with handled_errors():
        result = manual_links.unlink_line(
            open_context(tctx), number, line, source=source, actor=actor()
        )
    if as_json:
        print_json(to_json(result))
        return
    r = result.released
    out.print(f"unlinked {r.line} from {r.po_number} line {r.po_line_no}")
    _print_log(ChangeLog([], result.log.offered))


@purchase_app.command("set-qty")
def po_set_qty(
    tctx: typer.Context, po: PoArg, line: PoLineArg, qty: QtyArg, as_json: JsonOpt = False
) -> None:
    """Change a PO line's ordered quantity; links that no longer fit are released."""
    with handled_errors():
        result = changes.change_po_line_qty(open_context(tctx), po, line, qty, actor=actor())
    print_json(to_json(result)) if as_json else _print_supply(result)


@purchase_app.command("set-due")
def po_set_due(
    tctx: typer.Context,
    po: PoArg,
    line: PoLineArg,
    due: Annotated[str, typer.Argument(help="YYYY-MM-DD, or 'none'.", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Move a PO line's due date; orders it now makes late go on the worklist."""
    with handled_errors():
        when = parse_due_date(due)
        result = changes.change_due_date(open_context(tctx), po, line, when, actor=actor())
    print_json(to_json(result)) if as_json else _print_supply(result)


@purchase_app.command("cancel")
def po_cancel(
    tctx: typer.Context,
    po: PoArg,
    line: Annotated[int | None, typer.Argument(help="Only this line.", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a PO line, or the whole PO; its orders are re-allocated."""
    with handled_errors():
        context = open_context(tctx)
        if line is None:
            result = changes.cancel_purchase_order(context, po, actor=actor())
        else:
            result = changes.cancel_po_line(context, po, line, actor=actor())
    print_json(to_json(result)) if as_json else _print_supply(result)


@purchase_app.command("close-short")
def po_close_short(
    tctx: typer.Context, po: PoArg, line: PoLineArg, as_json: JsonOpt = False
) -> None:
    """Close a part-delivered PO line: nothing more will come."""
    with handled_errors():
        result = changes.close_po_line_short(open_context(tctx), po, line, actor=actor())
    print_json(to_json(result)) if as_json else _print_supply(result)


@sales_app.command("cancel")
def so_cancel(
    tctx: typer.Context,
    number: SoArg,
    line: Annotated[int | None, typer.Option("--line", help="Only this line.")] = None,
    source: SourceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a sales order, or one line: its stock and quantity on order are freed."""
    with handled_errors():
        context = open_context(tctx)
        if line is None:
            result = demand_changes.cancel_sales_order(
                context, number, source=source, actor=actor()
            )
        else:
            result = demand_changes.cancel_so_line(
                context, number, line, source=source, actor=actor()
            )
    print_json(to_json(result)) if as_json else _print_demand(result)


@sales_app.command("set-qty")
def so_set_qty(
    tctx: typer.Context,
    number: SoArg,
    line: SoLineArg,
    qty: QtyArg,
    source: SourceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reduce a sales order line to QTY units in all."""
    with handled_errors():
        result = demand_changes.change_so_line_qty(
            open_context(tctx), number, line, qty, source=source, actor=actor()
        )
    print_json(to_json(result)) if as_json else _print_demand(result)
