"""Running bopo in production from the command line: the worker, backups, start-up."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from bopo.cli import app
from bopo.config import DatabaseSettings, Settings
from bopo.db.engine import Database
from bopo.db.models import JobRun
from bopo.services.context import Context
from bopo.services.orders import sales
from bopo.services.orders.intake import take_order
from tests.clock import Clock
from tests.helpers import STARTUP_S, day, given_po, given_status, given_stock, order

HEAVY = ("fastapi", "starlette", "uvicorn", "argon2", "sqlalchemy", "alembic", "psycopg")


def clean_env(**bopo: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOPO_")}
    return env | {f"BOPO_{k.upper()}": v for k, v in bopo.items()}


def test_bopo_version_loads_neither_the_web_stack_nor_the_database(tmp_path: Path) -> None:
    probe = (
        "import json, sys\n"
        "sys.argv = ['bopo', 'version']\n"
        "from bopo.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))\n"
    )
    db = tmp_path / "never.db"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=clean_env(database__url=f"sqlite:///{db}"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    version, loaded = done.stdout.splitlines()
    assert version == "0.1.0"
    assert json.loads(loaded) == []
    assert not db.exists()


# --- the worker ---------------------------------------------------------------------------


def _worker(db_url: str, cwd: Path) -> subprocess.Popen[str]:
    env = clean_env(
        database__url=db_url,
        smtp__host="127.0.0.1",
        smtp__port="9",  # nobody listens: with no email due, the mailer never connects
        worker__send_emails_every="1s",
        worker__notices_every="1s",
        worker__worklist_retry_every="2s",
        server__log_format="json",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "bopo", "worker"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _runs(db_url: str) -> list[Any]:
    db = Database(db_url)
    try:
        with db.read() as conn:
            return list(conn.execute(select(JobRun).order_by(JobRun.job, JobRun.tick)).all())
    finally:
        db.dispose()


def test_workers_run_each_tick_once_and_stop_cleanly_on_sigterm(
    db_url: str, tmp_path: Path
) -> None:
    """Two worker processes on PostgreSQL (one on SQLite) for a few seconds of 1-second
    ticks: no tick ran twice, whichever worker took it, and SIGTERM ends each with exit
    code 0 and no run left half done. (A tick may pass unrun on a machine too busy to
    wake the workers in time: a missed tick is not made up, the next one runs.)"""
    count = 1 if db_url.startswith("sqlite") else 2
    workers = [_worker(db_url, tmp_path) for _ in range(count)]
    try:
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            ran = {r.tick for r in _runs(db_url) if r.job == "send_emails"}
            if len(ran) >= 4:
                break
            time.sleep(0.2)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        outputs = [w.communicate(timeout=20) for w in workers]
    for w, (_, err) in zip(workers, outputs, strict=True):
        assert w.returncode == 0, err
        lines = [json.loads(line) for line in err.splitlines()]  # log_format = json: all JSON
        assert lines[-1]["message"] == "worker: stopped"
    runs = _runs(db_url)
    assert {r.result for r in runs} == {"ok"}, [r.error for r in runs]
    for job, every in (("send_emails", 1), ("notices", 1), ("worklist_retry", 2)):  # seconds
        ticks = [r.tick.timestamp() for r in runs if r.job == job]
        assert len(ticks) == len(set(ticks)), f"{job} ran twice in a tick"
        assert all(t % every == 0 for t in ticks)
        assert {r.finished_at is not None for r in runs} == {True}
    send = [r for r in runs if r.job == "send_emails"]
    assert len(send) >= 4
    # Each log line on stderr but the two plain ones (start, stop) is one JSON object.
    for _, err in outputs:
        logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        assert logged, err
        assert {"time", "level", "logger", "message", "request_id"} <= set(logged[0])


def test_worker_once_runs_the_current_tick_of_each_job_and_no_more(
    db_url: str, tmp_path: Path
) -> None:
    env = clean_env(
        database__url=db_url,
        worker__send_emails_every="1d",
        worker__notices_every="1d",
        worker__worklist_retry_every="1d",
    )
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "bopo", "worker", "--once"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    runs = _runs(db_url)
    assert sorted((r.job, r.result) for r in runs) == [
        ("notices", "ok"),
        ("send_emails", "ok"),
        ("worklist_retry", "ok"),
    ]


def test_a_worker_with_every_job_off_refuses_to_start(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {
        "BOPO_DATABASE__URL": db_url,
        "BOPO_WORKER__SEND_EMAILS_EVERY": "off",
        "BOPO_WORKER__NOTICES_EVERY": "off",
        "BOPO_WORKER__WORKLIST_RETRY_EVERY": "off",
    }
    done = runner.invoke(app, ["worker"], env=env)
    assert done.exit_code == 3
    assert "every job is off in [worker]" in done.output


def test_a_bad_schedule_is_reported_by_name_at_start(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {
        "BOPO_WORKER__NOTICES_EVERY": "soon",
        "BOPO_WORKER__SEND_EMAILS_EVERY": "0.5s",
        "COLUMNS": "200",
    }
    done = runner.invoke(app, ["worker"], env=env)
    assert done.exit_code == 3
    assert (
        "[worker] notices_every: must be a duration such as 30s, 15m, 1h or 1d, or off"
        in done.output
    )
    assert "[worker] send_emails_every: must be from 1s to 7d, or off" in done.output


# --- backup and restore ---------------------------------------------------------------------


def given_a_shop(ctx: Context) -> None:
    given_stock(ctx, A=1, B=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("B", 10, day(5), "ON ORDER"))
    for n in range(5):
        take_order(ctx, order(f"SO-{n}", ("A", 1), ("B", 2), customer=f"C{n}"), actor="web")


def orders_seen(url: str) -> list[tuple[Any, ...]]:
    ctx = Context(Database(url), Settings(database=DatabaseSettings(url=url)), clock=Clock())
    try:
        page = sales.find_sales_orders(ctx, limit=500)
        return sorted((o.id, o.number, o.status, o.lines, o.waiting_lines) for o in page.items)
    finally:
        ctx.db.dispose()


def test_an_sqlite_backup_restored_holds_the_same_orders(ctx: Context, tmp_path: Path) -> None:
    if not ctx.db.is_sqlite:
        runner = CliRunner()
        done = runner.invoke(app, ["backup", str(tmp_path / "b.db")], env=_env(ctx))
        assert done.exit_code == 2
        assert "use pg_dump" in done.output
        return
    given_a_shop(ctx)
    before = orders_seen(ctx.db.url)
    target = tmp_path / "backup" / "bopo-backup.db"
    target.parent.mkdir()
    runner = CliRunner()
    done = runner.invoke(app, ["backup", str(target), "--json"], env=_env(ctx))
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["target"] == str(target)
    again = runner.invoke(app, ["backup", str(target)], env=_env(ctx))
    assert again.exit_code == 5  # never over an existing file

    restored = tmp_path / "restored.db"  # restore: the file copied into place, bopo stopped
    shutil.copy(target, restored)
    assert len(before) == 5
    assert orders_seen(f"sqlite:///{restored}") == before


def _env(ctx: Context) -> dict[str, str]:
    return {"BOPO_DATABASE__URL": ctx.db.url}


@pytest.mark.postgres_only
def test_a_postgresql_dump_restored_into_a_fresh_database_holds_the_same_orders(
    ctx: Context, tmp_path: Path
) -> None:
    pg_dump, pg_restore = shutil.which("pg_dump"), shutil.which("pg_restore")
    if pg_dump is None or pg_restore is None:
        pytest.skip("pg_dump and pg_restore are not installed (Debian: postgresql-client)")
    given_a_shop(ctx)
    before = orders_seen(ctx.db.url)
    source = make_url(ctx.db.url)
    libpq = source.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = tmp_path / "bopo.dump"
    subprocess.run([pg_dump, "-Fc", "--no-owner", "-f", str(dump), libpq], check=True)

    fresh = f"bopo_restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{fresh}"'))
    try:
        target = source.set(database=fresh)
        target_libpq = target.set(drivername="postgresql").render_as_string(hide_password=False)
        subprocess.run(
            [pg_restore, "--no-owner", "--exit-on-error", "-d", target_libpq, str(dump)],
            check=True,
        )
        url = target.render_as_string(hide_password=False)
        assert len(before) == 5
        assert orders_seen(url) == before
        db = Database(url)
        with db.read() as conn:  # the triggers came back too: a link still moves qty
            assert conn.scalar(text("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"))
            assert conn.scalar(select(func.count()).select_from(JobRun)) == 0
        db.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)'))
        admin.dispose()


def test_serve_answers_metrics_on_a_port_of_their_own_without_a_token(tmp_path: Path) -> None:
    from tests.smtp_sink import free_port

    url = f"sqlite:///{tmp_path / 'bopo.db'}"
    env = clean_env(database__url=url, server__log_format="json")
    subprocess.run([sys.executable, "-m", "bopo", "init"], env=env, cwd=tmp_path, check=True)
    port, metrics_port = free_port(), free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            *("-m", "bopo", "serve"),
            "--port",
            str(port),
            "--metrics-port",
            str(metrics_port),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            try:
                live = httpx.get(f"http://127.0.0.1:{port}/api/health/live", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "bopo serve did not start"
                time.sleep(0.2)
        assert live.status_code == 200
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30)
        assert scraped.status_code == 200
        assert 'bopo_emails{state="pending"} 0.0' in scraped.text
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).status_code == 401
        ready = httpx.get(f"http://127.0.0.1:{port}/api/health/ready", timeout=30)
        assert ready.headers["x-request-id"]
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=20)
    # uvicorn stops gracefully, then ends by the signal itself (systemd counts it clean).
    assert server.returncode in {0, -signal.SIGTERM}, (server.returncode, err)
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    access = [e for e in logged if e["logger"] == "uvicorn.access"]
    assert any(e["request_id"] == ready.headers["x-request-id"] for e in access), access
