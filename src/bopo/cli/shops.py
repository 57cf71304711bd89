"""`bopo export ...` (lists into CSV or .xlsx) and `bopo import watch DIR` (a drop folder)."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape

from bopo.cli.common import actor, app, err, fail, handled_errors, import_app, open_context, out
from bopo.services.files import drop_folder, exports
from bopo.services.files.formats.detect import choose

export_app = typer.Typer(help="Lists as CSV or .xlsx: worklist, po-lines, waiting-orders, emails.")
app.add_typer(export_app, name="export")

Fmt = Annotated[Literal["csv", "xlsx"], typer.Option("--format", "-f", help="csv or xlsx.")]
Out = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="The file to write (CSV: standard output if not given)."),
]
Opt = Annotated[str | None, typer.Option(show_default=False)]


def _export(
    tctx: typer.Context,
    name: str,
    fmt: Literal["csv", "xlsx"],
    output: Path | None,
    **filters: str | None,
) -> None:
    with handled_errors():
        ctx = open_context(tctx)
        export = exports.build(ctx, name, filters)
        if output is None:
            if fmt == "xlsx":
                fail("an .xlsx export needs --output FILE", 2)
            exports.write(export, fmt, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        partial = output.with_name(output.name + ".part")
        with partial.open("wb") as out:
            exports.write(export, fmt, out)
        partial.replace(output)  # a reader never sees half a file
    err.print(f"wrote {output}", highlight=False)


@export_app.command("worklist")
def export_worklist(
    tctx: typer.Context,
    fmt: Fmt = "csv",
    output: Out = None,
    sku: Opt = None,
    reason: Opt = None,
    customer: Opt = None,
    source: Opt = None,
    delivery_from: Opt = None,
    delivery_to: Opt = None,
) -> None:
    """The backorder worklist, every line (filters as on the worklist page)."""
    _export(
        tctx,
        "worklist",
        fmt,
        output,
        sku=sku,
        reason=reason,
        customer=customer,
        source=source,
        delivery_from=delivery_from,
        delivery_to=delivery_to,
    )


@export_app.command("po-lines")
def export_po_lines(
    tctx: typer.Context,
    fmt: Fmt = "csv",
    output: Out = None,
    supplier: Opt = None,
    sku: Opt = None,
    status: Opt = None,
    number: Annotated[str | None, typer.Option(help="One purchase order.")] = None,
    due_before: Opt = None,
) -> None:
    """Open PO lines, one row per sales-order line linked to each."""
    _export(
        tctx,
        "po-lines",
        fmt,
        output,
        supplier=supplier,
        sku=sku,
        status=status,
        number=number,
        due_before=due_before,
    )


@export_app.command("waiting-orders")
def export_waiting_orders(
    tctx: typer.Context,
    fmt: Fmt = "csv",
    output: Out = None,
    source: Opt = None,
    customer: Opt = None,
    sku: Opt = None,
    priority: Opt = None,
    delivery_from: Opt = None,
    delivery_to: Opt = None,
) -> None:
    """Sales orders with a line waiting on the worklist."""
    _export(
        tctx,
        "waiting-orders",
        fmt,
        output,
        source=source,
        customer=customer,
        sku=sku,
        priority=priority,
        delivery_from=delivery_from,
        delivery_to=delivery_to,
    )


@export_app.command("emails")
def export_emails(
    tctx: typer.Context,
    fmt: Fmt = "csv",
    output: Out = None,
    state: Opt = None,
    event: Opt = None,
) -> None:
    """The outbox, oldest first (of a state or event, when given)."""
    _export(tctx, "emails", fmt, output, state=state, event=event)


def _trouble(exc: Exception) -> None:
    first = (str(exc) or type(exc).__name__).splitlines()[0]
    err.print(f"[yellow]will try again:[/] {escape(first)}", highlight=False)


@import_app.command("watch")
def import_watch(
    tctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="The drop folder.", show_default=False)],
    interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between looks at the folder.")
    ] = 5.0,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", "-f", help="The files' format; found from each header if not given."
        ),
    ] = None,
) -> None:
    """Import each sales-order file dropped into FOLDER once; move it to done/ or failed/.

    Runs until SIGTERM or Ctrl-C (the file being imported is finished first)."""
    if not folder.is_dir():
        fail(f"{folder} is not a folder", 2)
    stop = threading.Event()

    def stop_now(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stop_now)
    signal.signal(signal.SIGINT, stop_now)

    def say(h: drop_folder.Handled) -> None:
        s = h.summary
        out.print(
            f"{h.name}: {h.outcome} ({s.orders_taken} taken, {s.orders_duplicate} already there, "
            f"{s.orders_rejected} rejected) -> {h.moved_to}",
            highlight=False,
        )

    with handled_errors():
        ctx = open_context(tctx)
        if fmt is not None:
            choose(fmt, ctx.settings)
        err.print(
            f"watching {folder} every {interval:g} s; Ctrl-C or SIGTERM stops", highlight=False
        )
        drop_folder.watch(
            ctx,
            folder,
            fmt=fmt,
            interval=interval,
            stop=stop,
            actor=actor(),
            report=say,
            trouble=_trouble,
        )
    err.print("stopped", highlight=False)
