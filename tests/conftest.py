"""Databases for the tests: SQLite always, PostgreSQL when a server is reachable.

Each run creates its own uniquely named PostgreSQL database, migrates it once,
empties it between tests and drops it at the end. SQLite tests copy a migrated
file. BOPO_REQUIRE_POSTGRES=1 turns a missing server into a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bopo.config import BackorderSettings, DatabaseSettings, EmailSettings, Settings
from bopo.db.engine import Database
from bopo.db.migrate import upgrade
from bopo.services.admin import users
from bopo.services.context import Context
from tests.clock import Clock

PG_ADMIN_URL = os.environ.get(
    "BOPO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_PG = os.environ.get("BOPO_REQUIRE_POSTGRES") == "1"
# BOPO_TEST_CALENDAR=2031-07-01 runs the tests with the machine's calendar moved to that day
# (time ticking on from there): a test or a code path that reads the real date fails there.
CALENDAR = os.environ.get("BOPO_TEST_CALENDAR")


def _pg_reachable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


_PG_PROBLEM = _pg_reachable()


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [
        f"PostgreSQL tests: SKIPPED, no server at {PG_ADMIN_URL} ({_PG_PROBLEM})"
        if _PG_PROBLEM
        else f"PostgreSQL tests: on, server at {PG_ADMIN_URL}"
    ]
    if CALENDAR:
        lines.append(f"The machine's calendar is moved to {CALENDAR} (BOPO_TEST_CALENDAR)")
    return lines


def pytest_configure(config: pytest.Config) -> None:
    # The CLI's consoles are made once, at import, whichever test imports them first; a
    # wide terminal for all, so that no table wraps the words a test reads.
    os.environ["COLUMNS"] = "200"
    # Passwords are hashed at a test's strength: full-strength Argon2 for every user of
    # every test was a third of the suite's time. Production strength is users' default.
    users._hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    if CALENDAR:
        import time_machine

        when = datetime.combine(date.fromisoformat(CALENDAR), time(10, 30), tzinfo=UTC)
        time_machine.travel(when, tick=True).start()


def pytest_sessionstart(session: pytest.Session) -> None:
    if _PG_PROBLEM and REQUIRE_PG:
        pytest.exit(
            f"BOPO_REQUIRE_POSTGRES=1 but PostgreSQL is not reachable: {_PG_PROBLEM}", returncode=3
        )


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Contexts made from settings (the CLI, an app without a context) run on the tests'
    clock too: no test reads the calendar of the machine it runs on."""

    def from_settings(cls: type[Context], settings: Settings) -> Context:
        return cls(Database(settings.database.url), settings, clock=Clock(ticking=True))

    monkeypatch.setattr(Context, "from_settings", classmethod(from_settings))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    if _PG_PROBLEM:
        pytest.skip(f"PostgreSQL not reachable: {_PG_PROBLEM}")
    name = f"bopo_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    upgrade(db)
    db.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return path


def _empty_pg(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = conn.scalars(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ).all()
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A freshly migrated, empty database of each kind."""
    if request.param == "sqlite":
        if request.node.get_closest_marker("postgres_only"):
            pytest.skip("runs only against PostgreSQL")
        path = tmp_path / "bopo.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _empty_pg(url)
    return url


@pytest.fixture
def make_ctx(db_url: str) -> Iterator[Callable[..., Context]]:
    """Contexts on the test database; keyword arguments set [backorders] options."""
    made: list[Context] = []

    def make(**backorders: Any) -> Context:
        options = {"allocate_existing_pos": True, "default_po_line_status": None} | backorders
        settings = Settings(
            database=DatabaseSettings(url=db_url),
            backorders=BackorderSettings(**options),
            email=EmailSettings(company_name="Test Shop", from_address="shop@example.com"),
        )
        ctx = Context(Database(db_url), settings, clock=Clock(ticking=True))
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.db.dispose()


@pytest.fixture
def ctx(make_ctx: Callable[..., Context]) -> Context:
    """Allocation on, no default status."""
    return make_ctx()
