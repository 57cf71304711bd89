"""`bopo` commands: version, init, demo, PO line statuses and settings."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from bopo.cli.common import (
    JsonOpt,
    actor,
    app,
    config_app,
    handled_errors,
    open_context,
    out,
    print_json,
    safe_url,
    status_app,
)
from bopo.config import load_settings
from bopo.db.migrate import head_revision, upgrade
from bopo.services import (
    catalog,
    demo,
    statuses,
)
from bopo.services.serial import to_json


@app.command()
def init(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Create the database, or upgrade it to the newest schema."""
    with handled_errors():
        context = open_context(tctx, migrated=False, check=False)
        upgrade(context.db)
    url, schema = safe_url(context.db.url), head_revision()
    if as_json:
        print_json({"database": url, "schema": schema})
    else:
        out.print(f"database ready at {url} (schema {schema})")


@app.command("demo")
def demo_cmd(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Load a small, believable data set into an empty database (runs init first)."""
    with handled_errors():
        context = open_context(tctx, migrated=False, check=False)
        upgrade(context.db)
        results = demo.load_demo(context)
        if results is None:
            msg = "the database already has data; demo not loaded"
            print_json({"loaded": False, "message": msg}) if as_json else out.print(msg)
            return
        if as_json:
            print_json({"loaded": True, "orders": to_json(results)})
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


# --- system data and settings ------------------------------------------------------------


@status_app.command("list")
def statuses_list(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The PO line statuses."""
    with handled_errors():
        rows = catalog.list_statuses(open_context(tctx, check=False))
    if as_json:
        print_json(
            [
                {
                    "code": s.code,
                    "name": s.name,
                    "template": s.template,
                    "po_lines": s.po_lines,
                    "retired": s.retired_at is not None,
                }
                for s in rows
            ]
        )
        return
    table = Table(title="PO line statuses")
    for col in ("code", "name", "email template", "PO lines"):
        table.add_column(col)
    for s in rows:
        code = f"{s.code} (retired)" if s.retired_at else s.code
        table.add_row(code, s.name, s.template or "-", str(s.po_lines))
    out.print(table)


@status_app.command("add")
def statuses_add(
    tctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Short code, e.g. 'ON ORDER'.")],
    name: Annotated[str, typer.Argument(help="Name shown to people.")],
    as_json: JsonOpt = False,
) -> None:
    """Add a PO line status."""
    with handled_errors():
        s = catalog.add_status(open_context(tctx, check=False), code, name, actor=actor())
    if as_json:
        print_json({"code": s.code, "name": s.name})
    else:
        out.print(f"added PO line status {s.code} ({s.name})")


@status_app.command("rename")
def statuses_rename(
    tctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The status code, e.g. 'ON ORDER'.")],
    name: Annotated[str, typer.Argument(help="Its new name.")],
) -> None:
    """Give a PO line status another name (the code stays)."""
    with handled_errors():
        done = statuses.rename_status(open_context(tctx, check=False), code, name, actor=actor())
    out.print(f"{done.code} is now called {done.name}" if done.changed else "nothing changed")


@status_app.command("retire")
def statuses_retire(
    tctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The status code, e.g. 'DELAYED'.")],
) -> None:
    """Retire a PO line status: kept where used, given to no new PO line."""
    with handled_errors():
        done = statuses.retire_status(open_context(tctx, check=False), code, actor=actor())
    out.print(f"retired {done.code}" if done.changed else f"{done.code} was retired already")


@config_app.command("show")
def config_show(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The settings in effect (file, then environment), secrets masked."""
    with handled_errors():
        settings = load_settings(tctx.obj)
    data = settings.masked()
    if as_json:
        print_json({"source": settings.source, **data})
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
