"""The `bopo` command: thin wrappers that parse, call a service and print.

Exit codes: 0 all fine; 1 something was rejected; 3 bad configuration;
4 not found; 5 conflict with the current state; 2 bad usage.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bopo import __version__
from bopo.config import load_settings
from bopo.db.migrate import head_revision, is_current, upgrade
from bopo.errors import BopoError, ConfigError, Conflict, InvalidInput, NotFound
from bopo.services import (
    catalog,
    demo,
    imports,
    mailer,
    outbox,
    purchasing,
    sales,
    status_change,
    templates,
    worklist,
)
from bopo.services.context import Context
from bopo.services.imports import ImportSummary

app = typer.Typer(
    name="bopo",
    help="Link back-ordered sales-order lines to undelivered purchase-order lines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
import_app = typer.Typer(help="Import stock items, purchase orders or sales orders (CSV or JSON).")
sales_app = typer.Typer(help="Sales orders.")
purchase_app = typer.Typer(help="Purchase orders.")
status_app = typer.Typer(help="PO line statuses (system data).")
config_app = typer.Typer(help="Settings.")
app.add_typer(import_app, name="import")
app.add_typer(sales_app, name="sales-orders")
app.add_typer(purchase_app, name="purchase-orders")
app.add_typer(status_app, name="statuses")
app.add_typer(config_app, name="config")

out = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
FileArg = Annotated[Path, typer.Argument(help="A .csv or .json file.", show_default=False)]


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def actor() -> str:
    return f"cli:{_user()}"


@app.callback()
def _main(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", envvar="BOPO_CONFIG", help="The INI file (default ./bopo.ini)."
        ),
    ] = None,
) -> None:
    ctx.obj = config


def _fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """Map bopo's errors to a readable line and an exit code."""
    try:
        yield
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(f"[bold red]config:[/] {problem}", highlight=False)
        raise typer.Exit(3) from None
    except NotFound as exc:
        _fail(str(exc), 4)
    except InvalidInput as exc:
        for e in exc.errors:
            err.print(f"[bold red]invalid:[/] {e}", highlight=False)
        raise typer.Exit(1) from None
    except Conflict as exc:
        _fail(str(exc), 5)
    except BopoError as exc:
        _fail(str(exc), 1)


def _context(tctx: typer.Context, *, migrated: bool = True, check: bool = True) -> Context:
    settings = load_settings(tctx.obj)
    context = Context.from_settings(settings)
    if migrated and not is_current(context.db):
        _fail(
            f"the database at {_safe_url(settings.database.url)} is not set up or is out of "
            "date; run `bopo init`",
            3,
        )
    if check:
        context.check()
    return context


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@app.command()
def version() -> None:
    """Print bopo's version."""
    out.print(__version__)


@app.command()
def init(tctx: typer.Context) -> None:
    """Create the database, or upgrade it to the newest schema."""
    with _errors():
        context = _context(tctx, migrated=False, check=False)
        upgrade(context.db)
        out.print(f"database ready at {_safe_url(context.db.url)} (schema {head_revision()})")


@app.command("demo")
def demo_cmd(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Load a small, believable data set into an empty database (runs init first)."""
    with _errors():
        context = _context(tctx, migrated=False, check=False)
        upgrade(context.db)
        results = demo.load_demo(context)
        if results is None:
            msg = "the database already has data; demo not loaded"
            _print_json({"loaded": False, "message": msg}) if as_json else out.print(msg)
            return
        if as_json:
            _print_json({"loaded": True, "orders": [r.as_dict() for r in results]})
            return
        out.print(
            f"demo loaded: {len(results)} sales orders, "
            f"allocation {'on' if context.settings.backorders.allocate_existing_pos else 'off'}"
        )
        for r in results:
            out.print(
                f"  {r.source}/{r.number}: "
                + "; ".join(
                    f"line {line.line_no} {line.sku} x{line.qty}: {line.describe()}"
                    for line in r.lines
                )
            )


# --- imports ---------------------------------------------------------------------------


def _run_import(
    tctx: typer.Context, run: Callable[[Context, Any], ImportSummary], as_json: bool
) -> None:
    with _errors():
        context = _context(tctx)
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
        _print_json(summary.as_dict())
    else:
        _print_summary(summary)
    if not summary.ok:
        raise typer.Exit(1)


def _print_summary(summary: ImportSummary) -> None:
    data = summary.as_dict()
    table = Table(title=f"import {summary.kind}: {summary.file}", show_header=False)
    for key, value in data.items():
        if key in {"kind", "file", "errors", "warnings", "ok"}:
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        table.add_row(key.replace("_", " "), str(value))
    out.print(table)
    for warning in summary.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    for e in summary.errors:
        err.print(f"[red]rejected:[/] {e}", highlight=False)


@import_app.command("sales-orders")
def import_sales_orders(tctx: typer.Context, file: FileArg, as_json: JsonOpt = False) -> None:
    """Take the orders in FILE, allocating each in file order."""
    _run_import(tctx, lambda c, p: imports.import_sales_orders(c, file, progress=p), as_json)


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
    with _errors():
        summary = worklist.allocate_worklist(_context(tctx), actor=actor())
    if as_json:
        _print_json(summary.as_dict())
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
) -> None:
    """The backorder worklist: lines waiting for stock or a PO line, with the reason."""
    with _errors():
        lines = worklist.list_backorders(_context(tctx), limit=limit, sku=sku)
    if as_json:
        _print_json([line.as_dict() for line in lines])
        return
    if not lines:
        out.print("the worklist is empty: every backorder line is linked")
        return
    table = Table(title=f"backorder worklist ({len(lines)} lines)")
    for col in ("order", "line", "sku", "waiting", "reason", "delivery", "customer"):
        table.add_column(col, justify="right" if col in {"line", "waiting"} else "left")
    for line in lines:
        table.add_row(
            f"{line.source}/{line.number}",
            str(line.line_no),
            line.sku,
            str(line.waiting),
            line.reason,
            line.delivery_date.isoformat(),
            line.customer_name,
        )
    out.print(table)


# --- orders ----------------------------------------------------------------------------


@sales_app.command("show")
def sales_order_show(
    tctx: typer.Context,
    number: Annotated[str, typer.Argument(help="The order number.")],
    source: Annotated[str | None, typer.Option(help="The source channel.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """One sales order and each line's outcome."""
    with _errors():
        view = sales.show_sales_order(_context(tctx, check=False), number, source)
    if as_json:
        _print_json(view.as_dict())
        return
    out.print(
        f"[bold]{view.source}/{view.number}[/] ({view.status}) for {view.customer_name} "
        f"<{view.customer_email}>, ordered {view.order_date}, deliver by {view.delivery_date}"
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
    with _errors():
        view = purchasing.show_purchase_order(_context(tctx, check=False), number)
    if as_json:
        _print_json(view.as_dict())
        return
    out.print(f"[bold]{view.number}[/] from {view.supplier_name} ({view.supplier_code})")
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


# --- system data and settings ------------------------------------------------------------


@status_app.command("list")
def statuses_list(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The PO line statuses."""
    with _errors():
        rows = catalog.list_statuses(_context(tctx, check=False))
    if as_json:
        _print_json(
            [
                {"code": s.code, "name": s.name, "template": s.template, "po_lines": s.po_lines}
                for s in rows
            ]
        )
        return
    table = Table(title="PO line statuses")
    for col in ("code", "name", "email template", "PO lines"):
        table.add_column(col)
    for s in rows:
        table.add_row(s.code, s.name, s.template or "-", str(s.po_lines))
    out.print(table)


@status_app.command("add")
def statuses_add(
    tctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Short code, e.g. 'ON ORDER'.")],
    name: Annotated[str, typer.Argument(help="Name shown to people.")],
    as_json: JsonOpt = False,
) -> None:
    """Add a PO line status."""
    with _errors():
        s = catalog.add_status(_context(tctx, check=False), code, name, actor=actor())
    if as_json:
        _print_json({"code": s.code, "name": s.name})
    else:
        out.print(f"added PO line status {s.code} ({s.name})")


@config_app.command("show")
def config_show(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The settings in effect (file, then environment), secrets masked."""
    with _errors():
        settings = load_settings(tctx.obj)
    data = settings.masked()
    if as_json:
        _print_json({"source": settings.source, **data})
        return
    out.print(f"# from {settings.source} and BOPO_<SECTION>__<KEY> variables", highlight=False)
    for section, values in data.items():
        out.print(f"[bold]\\[{section}][/]", highlight=False)
        for key, value in values.items():
            shown = (
                "" if value is None else str(value).lower() if isinstance(value, bool) else value
            )
            out.print(f"{key} = {shown}", highlight=False)
        out.print()


# --- email templates, PO line status changes, the outbox and the mailer ----------------

templates_app = typer.Typer(help="Email templates (system data), rendered in a sandbox.")
emails_app = typer.Typer(help="The pending-email outbox and the batch mailer.")
app.add_typer(templates_app, name="templates")
app.add_typer(emails_app, name="emails")

TextFile = Annotated[
    Path | None,
    typer.Option("--text-file", help="The plain-text body, from this file.", show_default=False),
]
HtmlFile = Annotated[
    Path | None,
    typer.Option("--html-file", help="The HTML body, from this file.", show_default=False),
]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {path}: {exc}", 2)


def _print_template(t: templates.TemplateView) -> None:
    used = ", ".join(t.statuses) or "no status"
    out.print(
        f"[bold]{t.name}[/] ({t.type}), used by {used}; updated {t.updated_at:%Y-%m-%d %H:%M}"
    )
    out.print(f"subject: {t.subject}", highlight=False, markup=False)
    out.print("--- text ---", highlight=False)
    out.print(t.body_text, highlight=False, markup=False)
    if t.body_html:
        out.print("--- html ---", highlight=False)
        out.print(t.body_html, highlight=False, markup=False)


@templates_app.command("list")
def templates_list(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The email templates and the statuses they are attached to."""
    with _errors():
        rows = templates.list_templates(_context(tctx, check=False))
    if as_json:
        _print_json([t.as_dict() for t in rows])
        return
    table = Table(title="email templates")
    for col in ("name", "type", "subject", "html", "statuses"):
        table.add_column(col)
    for t in rows:
        table.add_row(
            t.name, t.type, t.subject, "yes" if t.body_html else "-", ", ".join(t.statuses) or "-"
        )
    out.print(table)


@templates_app.command("show")
def templates_show(
    tctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The template's name.")],
    as_json: JsonOpt = False,
) -> None:
    """One template, as written."""
    with _errors():
        t = templates.get_template(_context(tctx, check=False), name)
    _print_json(t.as_dict()) if as_json else _print_template(t)


@templates_app.command("add")
def templates_add(
    tctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A unique name, e.g. 'Back order'.")],
    subject: Annotated[str, typer.Option(help="The subject line (a template too).")],
    text_file: TextFile = None,
    html_file: HtmlFile = None,
    kind: Annotated[str, typer.Option("--type", help="The template's type.")] = "BACK_ORDER",
    as_json: JsonOpt = False,
) -> None:
    """Add a template; it is refused, with the line, if it does not parse or render."""
    if text_file is None:
        _fail("--text-file is required: the plain-text body", 2)
    body = _read(text_file)
    html = _read(html_file) if html_file else None
    with _errors():
        t = templates.add_template(
            _context(tctx, check=False), name, subject, body, html, kind=kind, actor=actor()
        )
    _print_json(t.as_dict()) if as_json else out.print(f"added email template {t.name}")


@templates_app.command("edit")
def templates_edit(
    tctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The template's name.")],
    new_name: Annotated[str | None, typer.Option("--name", help="Rename it.")] = None,
    subject: Annotated[str | None, typer.Option(help="A new subject line.")] = None,
    text_file: TextFile = None,
    html_file: HtmlFile = None,
    no_html: Annotated[bool, typer.Option("--no-html", help="Remove the HTML body.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Change a template; emails already queued keep their text."""
    html = "" if no_html else (_read(html_file) if html_file else None)
    with _errors():
        t = templates.edit_template(
            _context(tctx, check=False),
            name,
            new_name=new_name,
            subject=subject,
            body_text=_read(text_file) if text_file else None,
            body_html=html,
            actor=actor(),
        )
    _print_json(t.as_dict()) if as_json else out.print(f"saved email template {t.name}")


@templates_app.command("preview")
def templates_preview(
    tctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The template's name.")],
    order_number: Annotated[
        str | None, typer.Option("--order", help="Render for this sales order's linked lines.")
    ] = None,
    source: Annotated[str | None, typer.Option(help="The order's source channel.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Render a template against a sample order, or a real one."""
    with _errors():
        p = templates.preview_template(
            _context(tctx, check=False), name, order_number=order_number, source=source
        )
    if as_json:
        _print_json(p.as_dict())
        return
    if p.to:
        out.print(f"To: {p.to}", highlight=False, markup=False)
    out.print(f"Subject: {p.subject}\n", highlight=False, markup=False)
    out.print(p.body_text, highlight=False, markup=False)
    if p.body_html:
        out.print("--- html ---", highlight=False)
        out.print(p.body_html, highlight=False, markup=False)


@status_app.command("set-template")
def statuses_set_template(
    tctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The status code.")],
    template: Annotated[str | None, typer.Argument(help="The template's name.")] = None,
    none: Annotated[bool, typer.Option("--none", help="Detach the template.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Attach an email template to a PO line status (or detach it with --none)."""
    if (template is None) == (not none):
        _fail("give a template name, or --none to detach", 2)
    with _errors():
        s = catalog.set_status_template(
            _context(tctx, check=False), code, None if none else template, actor=actor()
        )
    if as_json:
        _print_json({"code": s.code, "name": s.name, "template": s.template})
    else:
        out.print(f"PO line status {s.code}: template {s.template or 'none'}")


@purchase_app.command("set-status")
def purchase_order_set_status(
    tctx: typer.Context,
    number: Annotated[str, typer.Argument(help="The PO number.")],
    line_no: Annotated[int, typer.Argument(help="The line number.", min=1)],
    status: Annotated[str, typer.Argument(help="The new status code.")],
    as_json: JsonOpt = False,
) -> None:
    """Give a PO line a status; a BACK_ORDER template on it emails each linked customer."""
    with _errors():
        change = status_change.set_po_line_status(
            _context(tctx, check=False), number, line_no, status, actor=actor()
        )
    if as_json:
        _print_json(change.as_dict())
    elif not change.changed:
        out.print(f"{number} line {line_no} has status {change.after} already")
    else:
        out.print(
            f"{number} line {line_no}: {change.before or 'no status'} -> {change.after}; "
            f"{change.emails_queued} email(s) queued"
        )


@emails_app.command("list")
def emails_list(
    tctx: typer.Context,
    state: Annotated[
        str | None, typer.Option(help="pending, sending, sent, failed or cancelled.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """The outbox, oldest first."""
    with _errors():
        context = _context(tctx, check=False)
        rows = outbox.list_emails(context, state=state, limit=limit)
        counts = outbox.count_emails(context)
    if as_json:
        _print_json([e.as_dict() for e in rows])
        return
    table = Table(title="emails (" + ", ".join(f"{n} {s}" for s, n in counts.items()) + ")")
    for col in ("id", "state", "to", "subject", "order", "tries", "created", "last error"):
        table.add_column(col, justify="right" if col in {"id", "tries"} else "left")
    for e in rows:
        table.add_row(
            str(e.id),
            e.state,
            e.to_address,
            e.subject,
            e.sales_order or "-",
            str(e.attempts),
            f"{e.created_at:%Y-%m-%d %H:%M}",
            (e.last_error or "")[:60],
        )
    out.print(table)


@emails_app.command("show")
def emails_show(
    tctx: typer.Context,
    email_id: Annotated[int, typer.Argument(help="The email's id.")],
    raw: Annotated[bool, typer.Option("--raw", help="The MIME message as sent.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """One email: state, headers and the rendered bodies."""
    with _errors():
        e = outbox.show_email(_context(tctx, check=False), email_id)
    if as_json:
        _print_json(e.as_dict())
        return
    if raw:
        sys.stdout.write(e.raw)
        return
    s = e.summary
    sent = f", sent {s.sent_at:%Y-%m-%d %H:%M:%S}" if s.sent_at else ""
    out.print(f"email {s.id}: {s.state}, {s.attempts} attempt(s){sent}", highlight=False)
    if s.last_error:
        out.print(f"last error: {s.last_error}", highlight=False, markup=False)
    for key, value in (
        ("To", f"{e.to_name} <{s.to_address}>" if e.to_name else s.to_address),
        ("Subject", s.subject),
        ("Message-ID", e.message_id),
        ("Order", s.sales_order or "-"),
        ("Template", s.template or "-"),
        ("Event", s.event),
    ):
        out.print(f"{key}: {value}", highlight=False, markup=False)
    out.print()
    out.print(e.body_text, highlight=False, markup=False)
    if e.body_html:
        out.print("--- html ---", highlight=False)
        out.print(e.body_html, highlight=False, markup=False)


@emails_app.command("cancel")
def emails_cancel(
    tctx: typer.Context,
    email_id: Annotated[int, typer.Argument(help="The email's id.")],
    as_json: JsonOpt = False,
) -> None:
    """Cancel a pending or failed email: it will not be sent."""
    with _errors():
        e = outbox.cancel_email(_context(tctx, check=False), email_id, actor=actor())
    _print_json(e.as_dict()) if as_json else out.print(f"email {email_id} cancelled")


@emails_app.command("retry")
def emails_retry(
    tctx: typer.Context,
    email_id: Annotated[int, typer.Argument(help="The email's id.")],
    as_json: JsonOpt = False,
) -> None:
    """Put a failed email back in the queue, its attempts reset."""
    with _errors():
        e = outbox.retry_email(_context(tctx, check=False), email_id, actor=actor())
    _print_json(e.as_dict()) if as_json else out.print(f"email {email_id} is pending again")


@emails_app.command("send")
def emails_send(
    tctx: typer.Context,
    ids: Annotated[
        list[int] | None, typer.Option("--id", help="Only this email (repeatable).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many.")] = None,
    loop: Annotated[bool, typer.Option("--loop", help="Keep sending until stopped.")] = False,
    interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between rounds with --loop.")
    ] = 30.0,
    as_json: JsonOpt = False,
) -> None:
    """Send due emails over SMTP: once, or in a loop for cron/systemd (stop with SIGTERM)."""
    import signal

    stop = {"now": False}

    def _stop(_signum: int, _frame: Any) -> None:
        stop["now"] = True

    with _errors():
        context = _context(tctx, check=False)
        if loop:
            signal.signal(signal.SIGTERM, _stop)
            signal.signal(signal.SIGINT, _stop)

            def report(s: mailer.SendSummary) -> None:
                if s.sent or s.failed or s.retrying or s.stopped:
                    err.print(_send_line(s), highlight=False)

            summary = mailer.run_mailer(
                context, interval=interval, should_stop=lambda: stop["now"], on_round=report
            )
        else:
            summary = mailer.send_emails(context, ids=ids, limit=limit)
    if as_json:
        _print_json(summary.as_dict())
    else:
        out.print(_send_line(summary), highlight=False)
        for line in summary.errors[:20]:
            err.print(f"[yellow]{line}[/]", highlight=False)
    if (summary.failed or summary.stopped) and not loop:
        raise typer.Exit(1)


def _send_line(s: mailer.SendSummary) -> str:
    line = f"{s.sent} sent, {s.failed} failed, {s.retrying} to retry"
    return f"{line} ({s.stopped})" if s.stopped else line


def main() -> None:
    app()
