"""Shared pieces of the benchmarks: throw-away databases and timing."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bopo.config import BackorderSettings, DatabaseSettings, Settings
from bopo.db.engine import Database
from bopo.db.migrate import upgrade
from bopo.services.context import Context

PG_ADMIN_URL = os.environ.get(
    "BOPO_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
WORK = Path(os.environ.get("BOPO_BENCH_DIR", "bench/data"))


@dataclass(frozen=True)
class Scale:
    """How big the data set is; `make bench` uses the issue's sizes."""

    items: int = 5_000
    po_lines: int = 20_000
    orders: int = 100_000


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A new, migrated database of `kind` ("sqlite" or "postgresql"), dropped afterwards."""
    if kind == "sqlite":
        folder = WORK / f"sqlite-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{folder / 'bench.db'}"
        db = Database(url)
        upgrade(db)
        db.dispose()
        try:
            yield url
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    name = f"bopo_bench_{uuid.uuid4().hex[:10]}"
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


def context(url: str, **backorders: object) -> Context:
    options = {"allocate_existing_pos": True, "default_po_line_status": "ON ORDER"} | backorders
    settings = Settings(
        database=DatabaseSettings(url=url),
        backorders=BackorderSettings(**options),  # type: ignore[arg-type]
    )
    return Context(Database(url), settings)


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
