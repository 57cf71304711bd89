"""Engines and transactions for SQLite and PostgreSQL.

On PostgreSQL, writers coordinate with row locks taken in a fixed order. On
SQLite there are no row locks (SQLAlchemy drops FOR UPDATE there without a
word), so every write transaction starts with BEGIN IMMEDIATE: writers queue
on the database lock, waiting up to the busy timeout, and readers go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

SQLITE_BUSY_TIMEOUT_S = 60


class Database:
    """One database: a write engine and, on SQLite, a separate read engine."""

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = _sqlite_engine(url, immediate=True)
            self._read_engine = _sqlite_engine(url, immediate=False)
        else:
            # executemany goes to psycopg as one prepared statement, pipelined; the
            # multi-VALUES rewrite would build statements psycopg re-parses each time.
            self.engine = create_engine(
                url,
                pool_size=pool_size,
                max_overflow=pool_size * 2,
                use_insertmanyvalues=False,
            )
            self._read_engine = self.engine

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits when the block ends, or rolls back on error."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction; on SQLite it does not queue behind writers."""
        with self._read_engine.connect() as conn, conn.begin():
            yield conn

    @property
    def read_engine(self) -> Engine:
        """The engine reads go to (the write engine itself on PostgreSQL)."""
        return self._read_engine

    def refresh_statistics(self, *tables: str) -> None:
        """ANALYZE tables that just grew a lot (PostgreSQL).

        Until autovacuum catches up, the planner still sees them as they were
        and may scan where it should use an index: every order taken meanwhile
        would pay for it. SQLite keeps no such statistics.
        """
        if not self.is_sqlite:
            with self.engine.begin() as conn:
                conn.exec_driver_sql(f"ANALYZE {', '.join(tables)}")

    def dispose(self) -> None:
        self.engine.dispose()
        if self._read_engine is not self.engine:
            self._read_engine.dispose()


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: bulk imports touch many index pages
        cur.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    def _begin(dbapi_conn: Any) -> None:
        dbapi_conn.driver_connection.execute(begin)

    # The dialect's own BEGIN (SQLAlchemy wraps its errors), not a "begin" event: a
    # connection event makes SQLAlchemy dispatch every event of every transaction,
    # and a statement executed through it costs more than BEGIN itself.
    engine.dialect.do_begin = _begin  # type: ignore[method-assign,assignment]
    return engine
