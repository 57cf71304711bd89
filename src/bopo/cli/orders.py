"""`bopo` commands: imports, the worklist, and showing orders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from bopo.cli.common import (
    FileArg,
    JsonOpt,
    actor,
    app,
    err,
    handled_errors,
    import_app,
    open_context,
    out,
    print_json,
    purchase_app,
    sales_app,
)
from bopo.services.common.serial import to_json
from bopo.services.context import Context
from bopo.services.files import formats, imports
from bopo.services.files.imports import ImportSummary
from bopo.services.orders import sales
from bopo.services.supply import purchasing
from bopo.services.worklist import backorders as worklist
from bopo.services.worklist import manual_links

# --- imports ---------------------------------------------------------------------------


def _run_import(
    tctx: typer.Context, run: Callable[[Context, Any], ImportSummary], as_json: bool
) -> None:
    with handled_errors():
        context = open_context(tctx)
        progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=not err.is_terminal or as_json,
            transient=True,
        )
        with progress:
            task = progress.add_task("importing", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            summary = run(context, advance)
    if as_json:
        print_json(to_json(summary))
    else:
        _print_summary(summary)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


def _print_summary(summary: ImportSummary) -> None:
    data = summary.as_dict()
    out.print(f"import {summary.kind}: {summary.file}", highlight=False)
    if summary.read_as:
        out.print("read as " + ", ".join(f"{k}: {v}" for k, v in summary.read_as.items()))
    table = Table(show_header=False)
    for key, value in data.items():
        if key in {"kind", "file", "errors", "warnings", "ok", "changed", "read_as"}:
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        table.add_row(key.replace("_", " "), str(value))
    out.print(table)
    for warning in summary.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    for e in summary.errors:
        err.print(f"[red]rejected:[/] {escape(str(e))}", highlight=False)


FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="bopo, shopify, amazon or mapped:PROFILE (a [format:PROFILE] section); "
        "found from the header when not given.",
    ),
]


@import_app.command("sales-orders")
def import_sales_orders(
    tctx: typer.Context, file: FileArg, as_json: JsonOpt = False, fmt: FormatOpt = None
) -> None:
    """Take the orders in FILE (bopo's format, a Shopify or Amazon export, or a mapped file),
    allocating each in file order.

    Exits 1 when an order was rejected, else 5 when orders taken before came again
    with other content (nothing of them changed), else 0.
    """
    _run_import(
        tctx,
        lambda c, p: formats.import_orders(c, file, format=fmt, actor=actor(), progress=p),
        as_json,
    )


@import_app.command("purchase-orders")
def import_purchase_orders(tctx: typer.Context, file: FileArg, as_json: JsonOpt = False) -> None:
    """Add the purchase orders and lines in FILE (existing lines are left alone)."""
    _run_import(tctx, lambda c, _p: imports.import_purchase_orders(c, file), as_json)


@import_app.command("stock-items")
def import_stock_items(tctx: typer.Context, file: FileArg, as_json: JsonOpt = False) -> None:
    """Create stock items or set their name and on-hand quantity."""
    _run_import(tctx, lambda c, _p: imports.import_stock_items(c, file), as_json)


# --- worklist --------------------------------------------------------------------------


@app.command()
def allocate(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Retry the whole backorder worklist, oldest delivery date first."""
    with handled_errors():
        summary = worklist.allocate_worklist(open_context(tctx), actor=actor())
    if as_json:
        print_json(to_json(summary))
        return
    waiting = ", ".join(f"{n} {reason}" for reason, n in summary.still_waiting.items()) or "none"
    out.print(
        f"{summary.lines} worklist lines tried: {summary.linked} linked, "
        f"{summary.from_stock} took stock ({summary.units_from_stock} units); "
        f"still waiting: {waiting}"
    )


@app.command()
def backorders(
    tctx: typer.Context,
    as_json: JsonOpt = False,
    sku: Annotated[str | None, typer.Option(help="Only this stock item.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many lines.")] = None,
    candidates: Annotated[
        bool, typer.Option("--candidates", help="Show the PO lines that could take each line.")
    ] = False,
) -> None:
    """The backorder worklist: lines waiting for stock or a PO line, with the reason."""
    if candidates:
        _candidates(tctx, as_json=as_json, sku=sku, limit=limit)
        return
    with handled_errors():
        lines = worklist.list_backorders(open_context(tctx), limit=limit, sku=sku)
    if as_json:
        print_json(to_json(lines))
        return
    if not lines:
        out.print("the worklist is empty: every backorder line is linked")
        return
    title = f"backorder worklist ({len(lines)} line{'s' if len(lines) != 1 else ''})"
    _print_worklist(title, "customer", [(line, line.customer_name) for line in lines])


def _print_worklist(title: str, last: str, rows: list[tuple[worklist.BackorderLine, str]]) -> None:
    """The worklist as a table: each line's place, wait and reason, then `last`."""
    table = Table(title=title)
    for col in ("order", "line", "sku", "waiting", "reason", "delivery", last):
        table.add_column(col, justify="right" if col in {"line", "waiting"} else "left")
    for line, extra in rows:
        table.add_row(
            f"{line.source}/{line.number}",
            str(line.line_no),
            line.sku,
            str(line.waiting),
            _reason(line),
            line.delivery_date.isoformat(),
            extra,
        )
    out.print(table)


def _reason(line: worklist.BackorderLine) -> str:
    if line.po_number is None:
        return line.reason
    due = line.expected.isoformat() if line.expected else "date unknown"
    return f"{line.reason} ({line.po_number} line {line.po_line_no}, due {due})"


def _candidates(tctx: typer.Context, *, as_json: bool, sku: str | None, limit: int | None) -> None:
    with handled_errors():
        rows = manual_links.list_candidates(open_context(tctx), limit=limit, sku=sku)
    if as_json:
        print_json(to_json(rows))
        return
    if not rows:
        out.print("the worklist is empty: every backorder line is linked")
        return
    _print_worklist(
        f"backorder worklist with candidate PO lines ({len(rows)} lines)",
        "could go on",
        [
            (
                r.line,
                "\n".join(
                    f"{c.po_number}:{c.line_no} free {c.free_on_order}, due {c.due_date or '-'}, "
                    f"{c.status or 'no status'}"
                    for c in r.candidates
                )
                or "-",
            )
            for r in rows
        ],
    )


# --- orders ----------------------------------------------------------------------------


@sales_app.command("show")
def sales_order_show(
    tctx: typer.Context,
    number: Annotated[str, typer.Argument(help="The order number.")],
    source: Annotated[str | None, typer.Option(help="The source channel.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """One sales order and each line's outcome."""
    with handled_errors():
        view = sales.show_sales_order(open_context(tctx, check=False), number, source)
    if as_json:
        print_json(to_json(view))
        return
    out.print(
        Text(f"{view.source}/{view.number}", style="bold"),
        f"({view.status}) for {view.customer_name} <{view.customer_email}>, "
        f"ordered {view.order_date}, deliver by {view.delivery_date}, "
        f"priority {view.priority}",
    )
    table = Table()
    for col in ("line", "sku", "qty", "outcome"):
        table.add_column(col)
    for line in view.lines:
        table.add_row(str(line.line_no), line.sku, str(line.qty), line.describe())
    out.print(table)


@purchase_app.command("show")
def purchase_order_show(
    tctx: typer.Context,
    number: Annotated[str, typer.Argument(help="The PO number.")],
    as_json: JsonOpt = False,
) -> None:
    """One purchase order: each line's quantities, status, due date and linked sales lines."""
    with handled_errors():
        view = purchasing.show_purchase_order(open_context(tctx, check=False), number)
    if as_json:
        print_json(to_json(view))
        return
    out.print(Text(view.number, style="bold"), f"from {view.supplier_name} ({view.supplier_code})")
    table = Table()
    for col in (
        "line",
        "sku",
        "ordered",
        "delivered",
        "outstanding",
        "associated",
        "free",
        "status",
        "due",
        "linked sales lines",
    ):
        table.add_column(col)
    for line in view.lines:
        linked = ", ".join(f"{s.source}/{s.number}:{s.line_no} x{s.qty}" for s in line.linked)
        table.add_row(
            str(line.line_no),
            line.sku,
            str(line.ordered),
            str(line.delivered),
            str(line.outstanding),
            str(line.associated),
            str(line.free_on_order),
            line.status or "-",
            str(line.due_date or "-"),
            linked or "-",
        )
    out.print(table)
