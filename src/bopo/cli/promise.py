"""`bopo` commands: explain, what-if, priority."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from bopo.cli.common import (
    JsonOpt,
    PoArg,
    PoLineArg,
    QtyArg,
    SoArg,
    SourceOpt,
    actor,
    app,
    handled_errors,
    open_context,
    out,
    parse_due_date,
    print_json,
    sales_app,
)
from bopo.services.common.serial import to_json
from bopo.services.orders import sales
from bopo.services.promise import explain, what_if

# --- explain, what-if, priority -------------------------------------------------------------

whatif_app = typer.Typer(
    help="What a change would do, worked out without changing anything.", no_args_is_help=True
)
app.add_typer(whatif_app, name="what-if")


@app.command("explain")
def explain_cmd(
    tctx: typer.Context,
    number: SoArg,
    line: Annotated[int | None, typer.Argument(help="Only this line.", show_default=False)] = None,
    source: SourceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Why each line of a sales order got what it got: every allocation decision, in words."""
    with handled_errors():
        result = explain.explain_order(open_context(tctx, check=False), number, line, source=source)
    if as_json:
        print_json(to_json(result))
        return
    out.print(
        Text(f"{result.source}/{result.number}", style="bold"),
        f"priority {result.priority}, deliver by {result.delivery_date}",
    )
    for explained in result.lines:
        out.print(explained.text)


def _print_what_if(answer: what_if.WhatIf) -> None:
    out.print(Text(f"what if: {answer.change}", style="bold"))
    if answer.nothing:
        out.print("  no order would be affected, and no email queued")
    for r in answer.relinked:
        before = ", ".join(f"{p.po_number} line {p.po_line_no}" for p in r.before) or "nothing"
        after = "; ".join(
            f"{p.qty} on {p.po_number} line {p.po_line_no} (expected {p.expected or 'no date'})"
            for p in r.after
        )
        out.print(f"  {r.line} would be linked to {after} (now: {before})")
    for w in answer.to_worklist:
        out.print(f"  {w.line} would wait on the worklist: {w.waiting} of {w.sku}, {w.reason}")
    for x in answer.late:
        out.print(
            f"  {x.line} would be late: expected {x.expected or 'no date'}, "
            f"deliver by {x.delivery_date}"
        )
    for ref in answer.late_supply:
        out.print(f"  {ref} would go on the worklist as late supply")
    for x in answer.on_time_again:
        out.print(f"  {x.line} would be on time again (deliver by {x.delivery_date})")
    for sv in answer.served:
        out.print(f"  {sv.line} would get {sv.qty} of {sv.sku}")
    for e in answer.emails:
        held = f", held until {e.send_after:%Y-%m-%d %H:%M}" if e.send_after else ""
        what = {
            "merged": f"added to unsent email {e.email_id}",
            "cancelled": "cancelled",
            "superseded": f"unsent email {e.email_id} superseded (no longer true)",
        }.get(e.action, "queued")
        out.print(
            f"  email to {e.to} ({e.source}/{e.number}, template {e.template or '-'}): {what}{held}"
        )


@whatif_app.command("due-date")
def what_if_due_date_cmd(
    tctx: typer.Context,
    po: PoArg,
    line: PoLineArg,
    due: Annotated[str, typer.Argument(help="YYYY-MM-DD, or 'none'.", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """A PO line's due date moved: orders made late, notices that would go."""
    with handled_errors():
        answer = what_if.what_if_due_date(open_context(tctx), po, line, parse_due_date(due))
    print_json(to_json(answer)) if as_json else _print_what_if(answer)


@whatif_app.command("set-qty")
def what_if_qty_cmd(
    tctx: typer.Context, po: PoArg, line: PoLineArg, qty: QtyArg, as_json: JsonOpt = False
) -> None:
    """A PO line's ordered quantity changed (cut): orders re-linked or sent to the worklist."""
    with handled_errors():
        answer = what_if.what_if_po_line_qty(open_context(tctx), po, line, qty)
    print_json(to_json(answer)) if as_json else _print_what_if(answer)


@whatif_app.command("cancel")
def what_if_cancel_cmd(
    tctx: typer.Context,
    po: PoArg,
    line: Annotated[int | None, typer.Argument(help="Only this line.", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """A PO (or one line) cancelled: where its orders would go."""
    with handled_errors():
        answer = what_if.what_if_cancel(open_context(tctx), po, line)
    print_json(to_json(answer)) if as_json else _print_what_if(answer)


@whatif_app.command("receive")
def what_if_receive_cmd(
    tctx: typer.Context, po: PoArg, line: PoLineArg, qty: QtyArg, as_json: JsonOpt = False
) -> None:
    """QTY received on a PO line: which orders would get the stock."""
    with handled_errors():
        answer = what_if.what_if_receipt(open_context(tctx), po, line, qty)
    print_json(to_json(answer)) if as_json else _print_what_if(answer)


@whatif_app.command("switch-on")
def what_if_switch_on_cmd(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Allocation to existing POs switched on: what today's worklist would be linked to."""
    with handled_errors():
        answer = what_if.what_if_switch_on(open_context(tctx))
    print_json(to_json(answer)) if as_json else _print_what_if(answer)


@sales_app.command("set-priority")
def so_set_priority(
    tctx: typer.Context,
    number: SoArg,
    priority: Annotated[
        str, typer.Argument(help="low, normal, high or urgent.", show_default=False)
    ],
    source: SourceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Give a sales order another priority: goods in and re-allocation serve it by it."""
    with handled_errors():
        result = sales.set_order_priority(
            open_context(tctx), number, priority, source=source, actor=actor()
        )
    if as_json:
        print_json(to_json(result))
        return
    if result.changed:
        out.print(f"{result.source}/{result.number}: priority {result.before} -> {result.after}")
    else:
        out.print(f"{result.source}/{result.number}: priority is {result.after} already")
