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
from bopo.services.admin import demo, runtime_settings, statuses
from bopo.services.common.serial import to_json
from bopo.services.supply import catalog


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
            f"allocation {'on' if context.backorders().allocate_existing_pos else 'off'}"
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
    """The settings in effect (file, environment, then changes made in bopo), secrets
    masked, each with where its value comes from."""
    with handled_errors():
        settings = load_settings(tctx.obj)
        found = _origins(tctx)
    data = settings.masked()
    if found is not None:
        data = {}
        for o in found:
            data.setdefault(o.section, {})[o.key] = o.value
    if as_json:
        where = {f"{o.section}.{o.key}": o.origin for o in found or ()}
        print_json({"source": settings.source, **data, "origins": where})
        return
    out.print(f"# from {settings.source} and BOPO_<SECTION>__<KEY> variables", highlight=False)
    origin_of = {(o.section, o.key): o.origin for o in found or ()}
    for section, values in data.items():
        out.print(Text(f"[{section}]", style="bold"), highlight=False)
        for key, value in values.items():
            shown = (
                "" if value is None else str(value).lower() if isinstance(value, bool) else value
            )
            origin = origin_of.get((section, key))
            out.print(f"{key} = {shown}" + (f"  # {origin}" if origin else ""), highlight=False)
        out.print()


def _origins(tctx: typer.Context) -> list[runtime_settings.SettingOrigin] | None:
    """Where each value comes from; None when the database cannot say (not set up)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        context = open_context(tctx, check=False)
    except typer.Exit:
        return None
    try:
        return runtime_settings.origins(context)
    except SQLAlchemyError:
        return None
    finally:
        context.db.dispose()


@config_app.command("set")
def config_set(
    tctx: typer.Context,
    key: Annotated[str, typer.Argument(help=f"one of {', '.join(runtime_settings.CHANGEABLE)}")],
    value: Annotated[str, typer.Argument(help="true/false, a policy, a status code or none")],
) -> None:
    """Change an allocation setting while bopo runs: at once for every process, audited,
    no restart ([backorders] in the INI keeps giving the starting value)."""
    parsed: object = value
    if key == "allocate_existing_pos":
        parsed = {"true": True, "on": True, "false": False, "off": False}.get(value.lower(), value)
    elif key == "default_po_line_status" and value.lower() in ("", "none"):
        parsed = None
    with handled_errors():
        context = open_context(tctx)
        changed = runtime_settings.change_backorders(context, actor=actor(), **{key: parsed})
    if not changed:
        out.print(f"{key} is {value} already; nothing changed")
    for c in changed:
        out.print(f"[backorders] {c.key}: {c.before} -> {c.after}", highlight=False)
