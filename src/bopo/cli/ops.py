"""`bopo` commands for running bopo in production: the worker and backups."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from bopo.cli.common import JsonOpt, app, fail, handled_errors, open_context, out, print_json
from bopo.logs import configure_logging
from bopo.services.admin import backup, jobs
from bopo.services.common.serial import to_json


@app.command()
def worker(
    tctx: typer.Context,
    once: Annotated[
        bool,
        typer.Option("--once", help="Run each job's current tick (if not run yet), then stop."),
    ] = False,
) -> None:
    """Run the recurring jobs on the schedule of the INI's worker section, until SIGTERM.

    Several workers may run against one PostgreSQL database: each tick of each job
    runs on one of them. On SIGTERM the job running finishes, then the worker exits 0.
    """
    stop = {"now": False}

    def _stop(_signum: int, _frame: Any) -> None:
        stop["now"] = True

    with handled_errors():
        context = open_context(tctx)
        planned = jobs.schedule(context.settings.worker)
        if not planned:
            fail("every job is off in [worker]; nothing to run", 3)
        configure_logging(context.settings.server.log_format)
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        log = logging.getLogger("bopo.worker")  # in the log's format, JSON included
        log.info(
            "worker: " + ", ".join(f"{job.name} every {every:g}s" for job, every in planned),
            extra={"jobs": {job.name: every for job, every in planned}},
        )
        if once:
            now = context.clock()
            for job, every in planned:
                jobs.run_job(
                    context, job, jobs.tick_of(now, every), should_stop=lambda: stop["now"]
                )
        else:
            jobs.run_worker(context, should_stop=lambda: stop["now"])
        context.db.dispose()
    logging.getLogger("bopo.worker").info("worker: stopped")


@app.command("backup")
def backup_cmd(
    tctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The new backup file.", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Copy the SQLite database to FILE while bopo runs (PostgreSQL: use pg_dump)."""
    with handled_errors():
        context = open_context(tctx, check=False)
        if not context.db.is_sqlite:
            fail(
                "bopo backup copies SQLite databases; for PostgreSQL use pg_dump "
                "(see docs/operations.md)",
                2,
            )
        done = backup.backup_sqlite(context, file)
    if as_json:
        print_json(to_json(done))
    else:
        out.print(f"backed up {done.source} to {done.target} ({done.pages} pages)", highlight=False)
