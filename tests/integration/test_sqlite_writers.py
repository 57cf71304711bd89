"""On SQLite every write transaction takes the database's write lock as it begins
(BEGIN IMMEDIATE): writers queue there, and one that waits past the busy timeout
fails as SQLAlchemy's OperationalError, like any other database error."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bopo.db import engine
from bopo.db.engine import Database


def test_a_writer_takes_the_lock_as_it_begins_and_one_kept_waiting_fails_in_sqlalchemys_terms(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "writers.db"
    shutil.copy(sqlite_template, path)
    monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_S", 0.05)
    db = Database(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None, timeout=0.05)
    try:
        with db.write() as conn:  # holds the write lock before it writes anything
            conn.execute(text("SELECT 1"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked"), db.write():
            pass
        other.execute("ROLLBACK")
        with db.write() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        other.close()
        db.dispose()
