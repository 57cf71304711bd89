"""A consistent copy of a live SQLite database, with SQLite's online backup API.

The copy is made page by page while bopo goes on working; writes made meanwhile
restart the copy of what they touched, so the file is one moment's database. (On
PostgreSQL, pg_dump does the same: see docs/operations.md.)
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from bopo.errors import Conflict, FieldError, InvalidInput
from bopo.services.context import Context

PAGES_PER_STEP = 4096  # 16 MiB at a time (4 KiB pages): writers get the lock in between


@dataclass(frozen=True, slots=True)
class BackupDone:
    source: str
    target: str
    pages: int


def backup_sqlite(ctx: Context, target: Path) -> BackupDone:
    """Copy the database to `target`, a file that must not exist yet."""
    source = make_url(ctx.db.url).database
    if not ctx.db.is_sqlite or not source or source == ":memory:":
        raise InvalidInput([FieldError("database", "only an SQLite database file is backed up")])
    if target.exists():
        raise Conflict(f"{target} exists already; give a new file name")
    partial = target.with_name(target.name + ".partial")
    src = sqlite3.connect(source)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst, pages=PAGES_PER_STEP)
            pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
        finally:
            dst.close()
    finally:
        src.close()
    partial.replace(target)  # only a whole copy ever has the name asked for
    return BackupDone(str(source), str(target), pages)
