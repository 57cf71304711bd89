"""The `bopo` command's shared parts: the app, its sub-commands, output, error mapping.

Exit codes: 0 all fine; 1 something was rejected; 3 bad configuration;
4 not found; 5 conflict with the current state (an import whose orders taken
before came again changed); 2 bad usage.
"""

from __future__ import annotations

import getpass
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from bopo import __version__
from bopo.errors import BopoError, ConfigError, Conflict, FieldError, InvalidInput, NotFound

if TYPE_CHECKING:
    from bopo.services.context import Context

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

log = logging.getLogger(__name__)
out = Console(markup=False)  # data (names, SKUs) may contain [brackets]
err = Console(stderr=True)

PoArg = Annotated[str, typer.Argument(help="The PO number.", show_default=False)]
PoLineArg = Annotated[int, typer.Argument(help="The PO line number.", show_default=False)]
SoArg = Annotated[str, typer.Argument(help="The sales order number.", show_default=False)]
SoLineArg = Annotated[int, typer.Argument(help="The sales order line number.", show_default=False)]
QtyArg = Annotated[int, typer.Argument(help="A quantity.", show_default=False)]
SourceOpt = Annotated[
    str | None, typer.Option(help="The order's source channel, when numbers clash.")
]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
FileArg = Annotated[
    Path, typer.Argument(help="A .csv, .json (or .tsv, .txt, .xlsx) file.", show_default=False)
]


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


# Who the audit trail names for this run: `--as NAME` (or BOPO_OPERATOR), else the
# account running the command.
_operator: str | None = None


def actor() -> str:
    return f"cli:{_operator or _user()}"


@app.callback()
def _main(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", envvar="BOPO_CONFIG", help="The INI file (default ./bopo.ini)."
        ),
    ] = None,
    operator: Annotated[
        str | None,
        typer.Option(
            "--as",
            envvar="BOPO_OPERATOR",
            help="Who is running it, for the audit trail (default: the account's name).",
        ),
    ] = None,
) -> None:
    global _operator
    ctx.obj = config
    _operator = operator.strip() or None if operator else None


@app.command()
def version() -> None:
    """Print bopo's version."""
    # Here, with nothing but typer loaded: `bopo version` reads no settings and opens
    # no database, and bopo.cli.main loads the other commands only when they are asked for.
    out.print(__version__)


# A clash with stored data is a conflict with the current state; a value the database
# cannot store, a rejection; a database that cannot be reached, like bad configuration.
_DATABASE_EXIT = {"conflict": 5, "validation": 1, "unavailable": 3, "internal": 1}


def fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def handled_errors() -> Iterator[None]:
    """Map bopo's errors to a readable line and an exit code."""
    try:
        yield
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(f"[bold red]config:[/] {escape(problem)}", highlight=False)
        raise typer.Exit(3) from None
    except NotFound as exc:
        fail(str(exc), 4)
    except InvalidInput as exc:
        for e in exc.errors:
            err.print(f"[bold red]invalid:[/] {escape(str(e))}", highlight=False)
        raise typer.Exit(1) from None
    except Conflict as exc:
        fail(str(exc), 5)
    except BopoError as exc:
        fail(str(exc), 1)
    except Exception as exc:
        # Loaded here, not at start: `bopo version` loads no database code.
        from sqlalchemy.exc import DataError, IntegrityError, OperationalError

        from bopo.services.common.refusals import refusal

        if not isinstance(exc, IntegrityError | DataError | OperationalError):
            raise
        # In words; the driver's message (tables, constraints) goes to the log only.
        said = refusal(exc)
        log.info("refused by the database: %s", said.detail)
        fail(f"nothing was changed: {said.message}", _DATABASE_EXIT[said.kind])


def open_context(tctx: typer.Context, *, migrated: bool = True, check: bool = True) -> Context:
    from bopo.config import load_settings
    from bopo.db.migrate import is_current
    from bopo.services.context import Context

    settings = load_settings(tctx.obj)
    context = Context.from_settings(settings)
    if migrated and not is_current(context.db):
        fail(
            f"the database at {safe_url(settings.database.url)} is not set up or is out of "
            "date; run `bopo init`",
            3,
        )
    if check:
        context.check()
    return context


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def run() -> None:
    app()


def parse_due_date(text: str) -> date | None:
    if text.strip().lower() in {"none", ""}:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            [FieldError("due_date", f"not a date as YYYY-MM-DD: {text!r}")]
        ) from None
