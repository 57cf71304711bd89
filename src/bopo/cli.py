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
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from bopo import __version__
from bopo.config import load_settings
from bopo.db.migrate import head_revision, is_current, upgrade
from bopo.errors import BopoError, ConfigError, Conflict, FieldError, InvalidInput, NotFound
from bopo.services import (
    catalog,
    demand,
    demo,
    despatch,
    explain,
    goods_in,
    imports,
    mailer,
    manual_links,
    outbox,
    purchasing,
    sales,
    status_change,
    supply,
    templates,
    users,
    whatif,
    worklist,
)
from bopo.services.context import Context
from bopo.services.demand import DemandChangeResult
from bopo.services.imports import ImportSummary
from bopo.services.records import ChangeLog
from bopo.services.supply import SupplyChangeResult

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

out = Console(markup=False)  # data (names, SKUs) may contain [brackets]
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
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """Map bopo's errors to a readable line and an exit code."""
    try:
        yield
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(f"[bold red]config:[/] {escape(problem)}", highlight=False)
        raise typer.Exit(3) from None
    except NotFound as exc:
        _fail(str(exc), 4)
    except InvalidInput as exc:
        for e in exc.errors:
            err.print(f"[bold red]invalid:[/] {escape(str(e))}", highlight=False)
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
def init(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Create the database, or upgrade it to the newest schema."""
    with _errors():
        context = _context(tctx, migrated=False, check=False)
        upgrade(context.db)
    url, schema = _safe_url(context.db.url), head_revision()
    if as_json:
        _print_json({"database": url, "schema": schema})
    else:
        out.print(f"database ready at {url} (schema {schema})")


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
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    for e in summary.errors:
        err.print(f"[red]rejected:[/] {escape(str(e))}", highlight=False)


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
    candidates: Annotated[
        bool, typer.Option("--candidates", help="Show the PO lines that could take each line.")
    ] = False,
) -> None:
    """The backorder worklist: lines waiting for stock or a PO line, with the reason."""
    if candidates:
        _candidates(tctx, as_json=as_json, sku=sku, limit=limit)
        return
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
            _reason(line),
            line.delivery_date.isoformat(),
            line.customer_name,
        )
    out.print(table)


def _reason(line: worklist.BackorderLine) -> str:
    if line.po_number is None:
        return line.reason
    due = line.expected.isoformat() if line.expected else "date unknown"
    return f"{line.reason} ({line.po_number} line {line.po_line_no}, due {due})"


def _candidates(tctx: typer.Context, *, as_json: bool, sku: str | None, limit: int | None) -> None:
    with _errors():
        rows = manual_links.list_candidates(_context(tctx), limit=limit, sku=sku)
    if as_json:
        _print_json([r.as_dict() for r in rows])
        return
    if not rows:
        out.print("the worklist is empty: every backorder line is linked")
        return
    table = Table(title=f"backorder worklist with candidate PO lines ({len(rows)} lines)")
    for col in ("order", "line", "sku", "waiting", "reason", "delivery", "could go on"):
        table.add_column(col, justify="right" if col in {"line", "waiting"} else "left")
    for r in rows:
        line = r.line
        table.add_row(
            f"{line.source}/{line.number}",
            str(line.line_no),
            line.sku,
            str(line.waiting),
            _reason(line),
            line.delivery_date.isoformat(),
            "\n".join(
                f"{c.po_number}:{c.line_no} free {c.free_on_order}, due {c.due_date or '-'}, "
                f"{c.status or 'no status'}"
                for c in r.candidates
            )
            or "-",
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
    with _errors():
        view = purchasing.show_purchase_order(_context(tctx, check=False), number)
    if as_json:
        _print_json(view.as_dict())
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
        out.print(Text(f"[{section}]", style="bold"), highlight=False)
        for key, value in values.items():
            shown = (
                "" if value is None else str(value).lower() if isinstance(value, bool) else value
            )
            out.print(f"{key} = {shown}", highlight=False)
        out.print()


# --- serving, users and tokens -----------------------------------------------------------

users_app = typer.Typer(help="Users and their roles (admin, operator, viewer).")
tokens_app = typer.Typer(help="API tokens: made per user, shown once, stored hashed.")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")


@app.command()
def serve(
    tctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Listen here (default [server] host).")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Listen here (default [server] port).")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
) -> None:
    """Serve the web UI at / and the REST API under /api (OpenAPI docs at /docs)."""
    import os
    import shutil
    import tempfile

    import uvicorn

    from bopo.web.app import check_secret_key

    with _errors():
        context = _context(tctx)
        settings = context.settings
        context.db.dispose()
        check_secret_key(settings, workers=workers)
    host = host or settings.server.host
    port = port or settings.server.port
    out.print(f"bopo at http://{host}:{port}/ (sign in there; dashboard first)", highlight=False)
    out.print(
        f"API at http://{host}:{port}/api (docs at http://{host}:{port}/docs)", highlight=False
    )
    if settings.server.secret_key is None:
        err.print(
            "[yellow]note:[/] no BOPO_SERVER__SECRET_KEY: web sessions end when bopo stops",
            highlight=False,
        )
    if workers == 1:
        from bopo.api.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, access_log=access_log)
        return
    # Each worker builds its own app from the same file and environment.
    if tctx.obj is not None:
        os.environ["BOPO_CONFIG"] = str(Path(tctx.obj).resolve())
    own_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    if own_metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bopo-metrics-")
    try:
        uvicorn.run(
            "bopo.api.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=access_log,
        )
    finally:
        if own_metrics_dir:
            shutil.rmtree(os.environ.pop("PROMETHEUS_MULTIPROC_DIR"), ignore_errors=True)


def _user_dict(u: users.UserView) -> dict[str, Any]:
    return {
        "name": u.name,
        "role": u.role.value,
        "active": u.active,
        "password": u.has_password,
        "created_at": u.created_at.isoformat(),
        "disabled_at": u.disabled_at.isoformat() if u.disabled_at else None,
    }


@users_app.command("add")
def users_add(
    tctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user's name.")],
    role: Annotated[str, typer.Option(help="admin, operator or viewer.")] = "viewer",
    password: Annotated[
        bool, typer.Option("--password", help="Ask for a password (for signing in).")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a user; without a password they sign in with API tokens only."""
    secret: str | None = None
    if password_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    elif password:
        secret = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _errors():
        user = users.add_user(
            _context(tctx, check=False), name, role, password=secret, actor=actor()
        )
    if as_json:
        _print_json(_user_dict(user))
    else:
        out.print(f"added user {user.name} ({user.role.value})")


@users_app.command("list")
def users_list(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every user, with role and whether they are active."""
    with _errors():
        rows = users.list_users(_context(tctx, check=False))
    if as_json:
        _print_json([_user_dict(u) for u in rows])
        return
    table = Table(title="users")
    for col in ("name", "role", "active", "password", "created"):
        table.add_column(col)
    for u in rows:
        table.add_row(
            u.name,
            u.role.value,
            "yes" if u.active else "no",
            "yes" if u.has_password else "no",
            u.created_at.date().isoformat(),
        )
    out.print(table)


@users_app.command("disable")
def users_disable(
    tctx: typer.Context, name: Annotated[str, typer.Argument(help="The user's name.")]
) -> None:
    """Disable a user: their password and tokens stop working."""
    with _errors():
        users.disable_user(_context(tctx, check=False), name, actor=actor())
    out.print(f"disabled user {name}")


@users_app.command("demo-login")
def users_demo_login(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Create the demo admin and its well-known token (demo databases only) and print them."""
    with _errors():
        user, password, token = users.ensure_demo_login(_context(tctx, check=False))
    if as_json:
        _print_json({"user": user, "password": password, "token": token})
        return
    out.print(f"demo login: user {user}, password {password}", highlight=False)
    out.print(f"API token:  {token}", highlight=False)
    out.print(
        f'try:        curl -H "Authorization: Bearer {token}" <url>/api/me',
        highlight=False,
        soft_wrap=True,
    )


def _token_dict(t: users.TokenView) -> dict[str, Any]:
    return {
        "id": t.id,
        "user": t.user,
        "name": t.name,
        "prefix": t.prefix,
        "created_at": t.created_at.isoformat(),
        "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
        "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
    }


@tokens_app.command("create")
def tokens_create(
    tctx: typer.Context,
    user: Annotated[str, typer.Argument(help="The user the token acts as.")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "api",
    as_json: JsonOpt = False,
) -> None:
    """Make an API token; it is printed this once and stored only hashed."""
    with _errors():
        made = users.create_token(_context(tctx, check=False), user, name=name, actor=actor())
    if as_json:
        _print_json(_token_dict(made.view) | {"token": made.secret})
        return
    err.print(f"token {made.view.id} for {user}; copy it now, it is not shown again:")
    sys.stdout.write(made.secret + "\n")


@tokens_app.command("list")
def tokens_list(
    tctx: typer.Context,
    user: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """API tokens (never the secrets): id, user, name, when made, used and revoked."""
    with _errors():
        rows = users.list_tokens(_context(tctx, check=False), user)
    if as_json:
        _print_json([_token_dict(t) for t in rows])
        return
    table = Table(title="API tokens")
    for col in ("id", "user", "name", "starts", "created", "last used", "revoked"):
        table.add_column(col)
    for t in rows:
        table.add_row(
            str(t.id),
            t.user,
            t.name,
            t.prefix + "...",
            t.created_at.isoformat(timespec="seconds"),
            t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "-",
            t.revoked_at.isoformat(timespec="seconds") if t.revoked_at else "-",
        )
    out.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    tctx: typer.Context, token_id: Annotated[int, typer.Argument(help="The token's id.")]
) -> None:
    """Revoke an API token for good."""
    with _errors():
        users.revoke_token(_context(tctx, check=False), token_id, actor=actor())
    out.print(f"revoked token {token_id}")


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
        Text(t.name, style="bold"),
        f"({t.type}), used by {used}; updated {t.updated_at:%Y-%m-%d %H:%M}",
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


# --- goods in, supply and demand changes, manual links, despatch ---------------------------

PoArg = Annotated[str, typer.Argument(help="The PO number.", show_default=False)]
PoLineArg = Annotated[int, typer.Argument(help="The PO line number.", show_default=False)]
SoArg = Annotated[str, typer.Argument(help="The sales order number.", show_default=False)]
SoLineArg = Annotated[int, typer.Argument(help="The sales order line number.", show_default=False)]
QtyArg = Annotated[int, typer.Argument(help="A quantity.", show_default=False)]
SourceOpt = Annotated[
    str | None, typer.Option(help="The order's source channel, when numbers clash.")
]


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
        moved = ", ".join(
            f"{k} {change.before[k]} -> {change.after[k]}"
            for k in change.after
            if change.before[k] != change.after[k]
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
    with _errors():
        result = goods_in.receive(_context(tctx), po, line, qty, actor=actor())
    if as_json:
        _print_json(result.as_dict())
        return
    r = result.receipt
    over = f" ({result.over_delivered} over-delivered)" if result.over_delivered else ""
    out.print(f"received {r.qty} of {r.sku} on {r.po_number} line {r.po_line_no}{over}")
    for x in r.lines:
        out.print(f"  {x.line} ({x.customer_name}): {x.qty}, {x.kind}", highlight=False)
    out.print(f"  free stock: {r.to_stock}")


@app.command()
def receipts(
    tctx: typer.Context,
    po: Annotated[str | None, typer.Option(help="Only this PO.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many receipts.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Released at goods in: each receipt, newest first, and which orders got what."""
    with _errors():
        views = goods_in.list_receipts(_context(tctx, check=False), po_number=po, limit=limit)
    if as_json:
        _print_json([v.as_dict() for v in views])
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
    with _errors():
        result = despatch.ship(_context(tctx), number, source=source, line_nos=line, actor=actor())
    if as_json:
        _print_json(result.as_dict())
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
    as_json: JsonOpt = False,
) -> None:
    """Link a worklist line to a PO line that covers its whole backorder quantity."""
    with _errors():
        result = manual_links.link_line(
            _context(tctx), number, line, po, po_line, source=source, actor=actor()
        )
    if as_json:
        _print_json(result.as_dict())
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
    with _errors():
        result = manual_links.unlink_line(
            _context(tctx), number, line, source=source, actor=actor()
        )
    if as_json:
        _print_json(result.as_dict())
        return
    r = result.released
    out.print(f"unlinked {r.line} from {r.po_number} line {r.po_line_no}")
    _print_log(ChangeLog([], result.log.offered))


@purchase_app.command("set-qty")
def po_set_qty(
    tctx: typer.Context, po: PoArg, line: PoLineArg, qty: QtyArg, as_json: JsonOpt = False
) -> None:
    """Change a PO line's ordered quantity; links that no longer fit are released."""
    with _errors():
        result = supply.change_po_line_qty(_context(tctx), po, line, qty, actor=actor())
    _print_json(result.as_dict()) if as_json else _print_supply(result)


@purchase_app.command("set-due")
def po_set_due(
    tctx: typer.Context,
    po: PoArg,
    line: PoLineArg,
    due: Annotated[str, typer.Argument(help="YYYY-MM-DD, or 'none'.", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Move a PO line's due date; orders it now makes late go on the worklist."""
    with _errors():
        when = _due_date(due)
        result = supply.change_due_date(_context(tctx), po, line, when, actor=actor())
    _print_json(result.as_dict()) if as_json else _print_supply(result)


def _due_date(text: str) -> date | None:
    if text.strip().lower() in {"none", ""}:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            [FieldError("due_date", f"not a date as YYYY-MM-DD: {text!r}")]
        ) from None


@purchase_app.command("cancel")
def po_cancel(
    tctx: typer.Context,
    po: PoArg,
    line: Annotated[int | None, typer.Argument(help="Only this line.", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a PO line, or the whole PO; its orders are re-allocated."""
    with _errors():
        context = _context(tctx)
        if line is None:
            result = supply.cancel_purchase_order(context, po, actor=actor())
        else:
            result = supply.cancel_po_line(context, po, line, actor=actor())
    _print_json(result.as_dict()) if as_json else _print_supply(result)


@purchase_app.command("close-short")
def po_close_short(
    tctx: typer.Context, po: PoArg, line: PoLineArg, as_json: JsonOpt = False
) -> None:
    """Close a part-delivered PO line: nothing more will come."""
    with _errors():
        result = supply.close_po_line_short(_context(tctx), po, line, actor=actor())
    _print_json(result.as_dict()) if as_json else _print_supply(result)


@sales_app.command("cancel")
def so_cancel(
    tctx: typer.Context,
    number: SoArg,
    line: Annotated[int | None, typer.Option("--line", help="Only this line.")] = None,
    source: SourceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a sales order, or one line: its stock and quantity on order are freed."""
    with _errors():
        context = _context(tctx)
        if line is None:
            result = demand.cancel_sales_order(context, number, source=source, actor=actor())
        else:
            result = demand.cancel_so_line(context, number, line, source=source, actor=actor())
    _print_json(result.as_dict()) if as_json else _print_demand(result)


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
    with _errors():
        result = demand.change_so_line_qty(
            _context(tctx), number, line, qty, source=source, actor=actor()
        )
    _print_json(result.as_dict()) if as_json else _print_demand(result)


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
    with _errors():
        result = explain.explain_order(_context(tctx, check=False), number, line, source=source)
    if as_json:
        _print_json(result.as_dict())
        return
    out.print(
        Text(f"{result.source}/{result.number}", style="bold"),
        f"priority {result.priority}, deliver by {result.delivery_date}",
    )
    for explained in result.lines:
        out.print(explained.text)


def _print_what_if(answer: whatif.WhatIf) -> None:
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
        what = {"merged": f"added to unsent email {e.email_id}", "cancelled": "cancelled"}.get(
            e.action, "queued"
        )
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
    with _errors():
        answer = whatif.what_if_due_date(_context(tctx), po, line, _due_date(due))
    _print_json(answer.as_dict()) if as_json else _print_what_if(answer)


@whatif_app.command("set-qty")
def what_if_qty_cmd(
    tctx: typer.Context, po: PoArg, line: PoLineArg, qty: QtyArg, as_json: JsonOpt = False
) -> None:
    """A PO line's ordered quantity changed (cut): orders re-linked or sent to the worklist."""
    with _errors():
        answer = whatif.what_if_po_line_qty(_context(tctx), po, line, qty)
    _print_json(answer.as_dict()) if as_json else _print_what_if(answer)


@whatif_app.command("cancel")
def what_if_cancel_cmd(
    tctx: typer.Context,
    po: PoArg,
    line: Annotated[int | None, typer.Argument(help="Only this line.", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """A PO (or one line) cancelled: where its orders would go."""
    with _errors():
        answer = whatif.what_if_cancel(_context(tctx), po, line)
    _print_json(answer.as_dict()) if as_json else _print_what_if(answer)


@whatif_app.command("receive")
def what_if_receive_cmd(
    tctx: typer.Context, po: PoArg, line: PoLineArg, qty: QtyArg, as_json: JsonOpt = False
) -> None:
    """QTY received on a PO line: which orders would get the stock."""
    with _errors():
        answer = whatif.what_if_receipt(_context(tctx), po, line, qty)
    _print_json(answer.as_dict()) if as_json else _print_what_if(answer)


@whatif_app.command("switch-on")
def what_if_switch_on_cmd(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Allocation to existing POs switched on: what today's worklist would be linked to."""
    with _errors():
        answer = whatif.what_if_switch_on(_context(tctx))
    _print_json(answer.as_dict()) if as_json else _print_what_if(answer)


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
    with _errors():
        result = sales.set_order_priority(
            _context(tctx), number, priority, source=source, actor=actor()
        )
    if as_json:
        _print_json(result.as_dict())
        return
    if result.changed:
        out.print(f"{result.source}/{result.number}: priority {result.before} -> {result.after}")
    else:
        out.print(f"{result.source}/{result.number}: priority is {result.after} already")
