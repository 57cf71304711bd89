"""Shared pieces of the benchmarks: throw-away databases and timing."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


# --- several worker processes, timed together ------------------------------------------


@dataclass
class Gate:
    """What a worker process is handed to start with the others and to report.

    A worker connects and warms up, calls `ready()`, times its work, `report()`s
    it and stays connected until the parent has read the server's CPU.
    """

    _ready: Any
    _start: Any
    _done: Any
    _finish: Any

    def ready(self) -> None:
        self._ready.wait()
        self._start.wait()

    def report(self, count: int, seconds: float, cpu_seconds: float, **extra: Any) -> None:
        self._done.put((count, seconds, cpu_seconds, extra))
        self._finish.wait()


def run_workers(url: str, target: Any, args: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Run `target(*a, gate)` for each `a` in processes at once; what they did, how fast.

    `cpu_ms_per_order` is the workers' own CPU (time.process_time) and, on
    PostgreSQL when its processes can be read under /proc (a server on this
    machine), the CPU of the server processes serving them: per order, all in.
    """
    mp_ctx = mp.get_context("spawn")
    ready = mp_ctx.Barrier(len(args) + 1)
    start = mp_ctx.Barrier(len(args) + 1)
    done = mp_ctx.Queue()
    finish = mp_ctx.Event()
    procs = [
        mp_ctx.Process(target=target, args=(*a, Gate(ready, start, done, finish))) for a in args
    ]
    for p in procs:
        p.start()
    try:
        ready.wait(timeout=WORKER_TIMEOUT_S)  # a worker that died breaks the barrier
        server = ServerCpu(url)
        start.wait(timeout=WORKER_TIMEOUT_S)
        with Timer() as t:
            results = [_result(done, procs) for _ in procs]
        server_seconds = server.seconds()
    finally:
        finish.set()
        for p in procs:
            p.join(timeout=WORKER_TIMEOUT_S)
            if p.is_alive():
                p.kill()
    count = sum(r[0] for r in results)
    client = sum(r[2] for r in results)
    out: dict[str, Any] = {
        "orders": count,
        "seconds": round(t.seconds, 2),
        "orders_per_s": round(count / t.seconds),
        "ms_per_order_per_worker": round(1000 * sum(r[1] for r in results) / count, 3),
        "client_cpu_ms_per_order": round(1000 * client / count, 3),
    }
    if server_seconds is not None:
        out["server_cpu_ms_per_order"] = round(1000 * server_seconds / count, 3)
    out["cpu_ms_per_order"] = round(1000 * (client + (server_seconds or 0)) / count, 3)
    for r in results:
        for key, value in r[3].items():
            out[key] = out.get(key, 0) + value
    return out


WORKER_TIMEOUT_S = 600


def _result(done: Any, procs: list[Any]) -> Any:
    """The next worker's report; an error, not a hang, if a worker died without one."""
    while True:
        try:
            return done.get(timeout=1)
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"a benchmark worker failed (exit codes {dead})") from None


def _cpu_ticks(pids: list[int]) -> int | None:
    """utime + stime of the processes, in clock ticks; None if one cannot be read."""
    total = 0
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, IndexError, ValueError):
        return None
    return total


class ProcessTreeCpu:
    """CPU time of a process and its descendants (`bopo serve`'s workers), from /proc."""

    def __init__(self, pid: int) -> None:
        self.pids = [pid, *self.descendants(pid)]
        self.start = _cpu_ticks(self.pids)

    @staticmethod
    def descendants(pid: int) -> list[int]:
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found, todo = [], [pid]
        while todo:
            kids = children.get(todo.pop(), [])
            found += kids
            todo += kids
        return found

    def seconds(self) -> float | None:
        end = _cpu_ticks(self.pids)
        if self.start is None or end is None:
            return None
        return (end - self.start) / os.sysconf("SC_CLK_TCK")


class ServerCpu:
    """CPU time of the PostgreSQL processes serving a database's clients, from /proc.

    Read when it is made and again by `seconds()`; None on SQLite, or when the
    server's processes cannot be read (another machine, another namespace). With
    `include_new`, backends that connected in between count too, all their CPU (a
    connection pool that grows during the work).
    """

    def __init__(self, url: str, *, include_new: bool = False) -> None:
        self.url, self.include_new = url, include_new
        self.pids: list[int] = []
        self.start: int | None = None
        if url.startswith("sqlite"):
            return
        self.pids = self._backends()
        self.start = _cpu_ticks(self.pids)

    def _backends(self) -> list[int]:
        import psycopg

        with psycopg.connect(psycopg_url(self.url), autocommit=True) as conn:
            return [
                r[0]
                for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                )
            ]

    def seconds(self) -> float | None:
        if self.start is None:
            return None
        pids = self.pids
        if self.include_new:
            known = set(pids)
            pids = pids + [pid for pid in self._backends() if pid not in known]
        end = _cpu_ticks(pids)
        if end is None or not pids:
            return None
        return (end - self.start) / os.sysconf("SC_CLK_TCK")


def psycopg_url(url: str) -> str:
    """The libpq form of a SQLAlchemy PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def sqlite_path(url: str) -> str:
    path = make_url(url).database
    assert path
    return path
