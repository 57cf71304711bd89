"""Recurring jobs: each tick of each job runs once, whichever worker gets there first."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from bopo.config import (
    BackorderSettings,
    DatabaseSettings,
    EmailSettings,
    Settings,
    WorkerSettings,
)
from bopo.db.engine import Database
from bopo.db.models import JobRun
from bopo.services.admin import jobs
from bopo.services.admin.jobs import Job, Outcome
from bopo.services.common.inputs import NewStockItem
from bopo.services.context import Context
from bopo.services.email import outbox, templates
from bopo.services.orders.intake import take_order
from bopo.services.supply import catalog
from bopo.services.supply.changes import change_due_date
from tests.clock import T0, Clock
from tests.helpers import day, given_po, given_status, given_stock, order
from tests.smtp_sink import SmtpServer, smtp_to


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def node(db_url: str, clock: Clock) -> Iterator[Callable[..., Context]]:
    """A bopo node (its own pool, so its own database sessions) on the shared database."""
    made: list[Context] = []

    def make(smtp_port: int = 9, **worker: Any) -> Context:
        settings = Settings(
            database=DatabaseSettings(url=db_url),
            backorders=BackorderSettings(allocate_existing_pos=True),
            email=EmailSettings(from_address="shop@example.com", company_name="Kitchen & Co"),
            smtp=smtp_to(smtp_port),
            worker=WorkerSettings(**worker),
        )
        ctx = Context(Database(db_url), settings, clock=clock)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.db.dispose()


def counting_job(runs: list[str], *, hold: threading.Event | None = None) -> Job:
    """A job that notes each run and, given an event, waits for it before it ends."""

    def run(ctx: Context, _stop: Callable[[], bool]) -> Outcome:
        runs.append(threading.current_thread().name)
        if hold is not None:
            assert hold.wait(10)
        return Outcome({"runs": len(runs)})

    return Job("count", "send_emails_every", run, "count")


def rows(ctx: Context) -> list[tuple[str, str, str | None]]:
    with ctx.db.read() as conn:
        return [
            (r.job, r.result, r.error)
            for r in conn.execute(select(JobRun).order_by(JobRun.id)).all()
        ]


def test_the_tick_starts_at_a_multiple_of_the_period() -> None:
    now = T0 + timedelta(minutes=7, seconds=42)
    assert jobs.tick_of(now, 300) == T0 + timedelta(minutes=5)
    assert jobs.tick_of(now, 30) == T0 + timedelta(minutes=7, seconds=30)
    assert jobs.lock_key("count", T0) != jobs.lock_key("count", T0 + timedelta(seconds=30))
    assert jobs.lock_key("count", T0) != jobs.lock_key("other", T0)


def test_two_workers_on_one_tick_run_it_once(node: Callable[..., Context]) -> None:
    """Worker A is in the middle of the run; B, asking meanwhile, is told no at once
    (on PostgreSQL by the advisory lock; on SQLite by A's row), and after A is done,
    C finds the tick ran."""
    a, b, c = node(), node(), node()
    runs: list[str] = []
    hold = threading.Event()
    job = counting_job(runs, hold=hold)
    tick = jobs.tick_of(T0, 30)
    first = threading.Thread(target=jobs.run_job, args=(a, job, tick), kwargs={"worker": "A"})
    first.start()
    while not runs:
        threading.Event().wait(0.01)

    assert jobs.run_job(b, job, tick, worker="B") is None
    if not b.db.is_sqlite:  # A holds the tick's advisory lock while it runs
        with b.db.read() as conn:
            held = conn.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                    "database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            )
        assert held == 1
    hold.set()
    first.join(10)
    assert jobs.run_job(c, job, tick, worker="C") is None
    assert len(runs) == 1
    assert rows(a) == [("count", "ok", None)]
    later = jobs.run_job(c, job, tick + timedelta(seconds=30), worker="C")
    assert later is not None
    assert (later.worker, later.result, later.summary) == ("C", "ok", {"runs": 2})


def test_many_workers_racing_through_ticks_run_each_tick_once(
    node: Callable[..., Context],
) -> None:
    runs: list[str] = []
    job = counting_job(runs)
    ticks = [T0 + timedelta(seconds=30 * i) for i in range(8)]
    workers = [node() for _ in range(4)]
    start = threading.Barrier(len(workers))

    def work(ctx: Context, name: str) -> None:
        start.wait()
        for tick in ticks:
            jobs.run_job(ctx, job, tick, worker=name)

    threads = [
        threading.Thread(target=work, args=(ctx, f"w{i}"), name=f"w{i}")
        for i, ctx in enumerate(workers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(runs) == len(ticks)
    with workers[0].db.read() as conn:
        per_tick = conn.execute(
            select(JobRun.tick, func.count()).group_by(JobRun.tick).order_by(JobRun.tick)
        ).all()
    assert [(tick, n) for tick, n in per_tick] == [(tick, 1) for tick in ticks]


def test_a_job_that_fails_is_recorded_and_the_next_tick_runs(
    node: Callable[..., Context],
) -> None:
    ctx = node()
    calls: list[int] = []

    def flaky(_ctx: Context, _stop: Callable[[], bool]) -> Outcome:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return Outcome({"done": True})

    job = Job("flaky", "send_emails_every", flaky, "fails once")
    failed = jobs.run_job(ctx, job, T0)
    assert failed is not None
    assert (failed.result, failed.error) == ("failed", "RuntimeError: the database went away")
    ran = jobs.run_job(ctx, job, T0 + timedelta(seconds=30))
    assert ran is not None
    assert ran.result == "ok"
    assert ran.finished_at is not None
    assert ran.duration_seconds is not None


def test_the_worker_runs_each_job_once_per_tick_as_the_clock_moves(
    node: Callable[..., Context], clock: Clock
) -> None:
    ctx = node(send_emails_every="off", notices_every="5m", worklist_retry_every="15m")
    seen: list[tuple[str, str]] = []
    stop = {"now": False}

    def on_run(run: jobs.JobRunView) -> None:
        seen.append((run.job, run.tick.strftime("%H:%M")))
        if len(seen) == 2:
            clock.advance(minutes=5)  # 09:05: notices' next tick; worklist's is at 09:15
        elif len(seen) == 3:
            stop["now"] = True

    jobs.run_worker(ctx, should_stop=lambda: stop["now"], poll_seconds=0.01, on_run=on_run)
    assert seen == [("notices", "09:00"), ("worklist_retry", "09:00"), ("notices", "09:05")]


def test_a_stop_asked_for_during_a_job_lets_it_finish_then_ends_the_worker(
    node: Callable[..., Context],
) -> None:
    stop = {"now": False}
    finished: list[bool] = []

    def long_job(_ctx: Context, should_stop: Callable[[], bool]) -> Outcome:
        stop["now"] = True  # SIGTERM arrives while the job works
        finished.append(should_stop())
        return Outcome({"finished": True})

    ctx = node(notices_every="off", worklist_retry_every="off")
    original = jobs.JOBS["send_emails"]
    jobs.JOBS["send_emails"] = Job("send_emails", "send_emails_every", long_job, "test")
    try:
        jobs.run_worker(ctx, should_stop=lambda: stop["now"], poll_seconds=0.01)
    finally:
        jobs.JOBS["send_emails"] = original
    assert finished == [True]
    assert rows(ctx) == [("send_emails", "ok", None)]


def test_the_worklist_retry_job_gives_new_stock_to_waiting_lines(
    node: Callable[..., Context],
) -> None:
    ctx = node()
    given_stock(ctx, A=0)
    take_order(ctx, order("SO-1", ("A", 2)), actor="web")
    catalog.upsert_stock_items(ctx, [NewStockItem(sku="A", name="Item A", on_hand=5)], actor="t")
    run = jobs.run_job(ctx, jobs.JOBS["worklist_retry"], jobs.tick_of(T0, 900))
    assert run is not None
    assert run.summary is not None
    assert (run.result, run.summary["lines"], run.summary["lines_from_stock"]) == ("ok", 1, 1)
    assert [s.last_run.job for s in jobs.job_statuses(ctx) if s.last_run] == ["worklist_retry"]


NOTICE = "{% for line in lines %}{{ line.sku }}: now {{ line.expected | date }}\n{% endfor %}"


def test_the_notices_job_sends_the_notices_whose_hold_has_ended(
    node: Callable[..., Context], clock: Clock
) -> None:
    """A second slip within notify_min_interval_hours is held back; the notices job sends
    it when the hold ends, not before, and sends nothing else."""
    smtp = SmtpServer().start()
    try:
        ctx = node(smtp_port=smtp.port)
        given_stock(ctx, A=0)
        given_status(ctx, "ON ORDER")
        given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
        take_order(ctx, order("SO-ADA", ("A", 2), customer="ADA"), actor="web")
        templates.add_template(
            ctx, "Update", "New dates", NOTICE, kind="BACK_ORDER_UPDATE", actor="t"
        )
        notices = jobs.JOBS["notices"]

        change_due_date(ctx, "PO-1", 1, day(12), actor="buyer")
        first = jobs.run_job(ctx, notices, clock.now)
        assert first is not None
        assert first.summary == {
            "due": 1,
            "sent": 1,
            "failed": 0,
            "retrying": 0,
            "released": 0,
            "superseded": 0,
        }

        clock.advance(hours=1)
        change_due_date(ctx, "PO-1", 1, day(20), actor="buyer")  # held back for 23 hours
        held = jobs.run_job(ctx, notices, clock.now)
        assert held is not None
        assert held.summary == {"due": 0, "sent": 0, "failed": 0, "retrying": 0}

        clock.advance(hours=23)
        sent = jobs.run_job(ctx, notices, clock.now)
        assert sent is not None
        assert (sent.result, sent.summary["sent"]) == ("ok", 1)
        assert len(smtp.sink.ids()) == 2
        assert [e.event for e in outbox.list_emails(ctx, state="sent")] == ["due_date"] * 2
    finally:
        smtp.stop()


def test_a_worker_whose_database_is_away_says_so_and_keeps_trying(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-folder' / 'bopo.db'}"
    settings = Settings(
        database=DatabaseSettings(url=url),
        worker=WorkerSettings(send_emails_every="off", notices_every="off"),
    )
    ctx = Context(Database(url), settings, clock=Clock(ticking=True))
    rounds = {"n": 0}

    def stop() -> bool:
        rounds["n"] += 1
        return rounds["n"] > 6

    with caplog.at_level("WARNING", logger="bopo.services.admin.jobs"):
        jobs.run_worker(ctx, should_stop=stop, poll_seconds=0.01)
    ctx.db.dispose()
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) >= 2  # one line a round, and it went on trying
    assert warned[0].startswith("job worklist_retry: could not be started: OperationalError")
