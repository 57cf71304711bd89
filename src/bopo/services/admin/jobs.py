"""Recurring jobs (`bopo worker`): each runs once per tick of its schedule, whichever
worker gets there first.

A job's schedule divides time into ticks of `[worker] <job>_every` seconds (the
clock's epoch seconds, floored). For each tick, a worker:

1. takes `pg_try_advisory_xact_lock(key of job + tick)` on a connection of its own
   (PostgreSQL), held until the run ends: another worker asking meanwhile is told
   no at once and moves on, it does not wait;
2. inserts the run's `job_runs` row, committed at once; the unique (job, tick)
   refuses a second row, so a worker arriving after the run ended finds it done;
3. runs the job (which owns its transactions) and records how it went.

The lock keeps workers from racing through a tick; the row is what says, for good,
that the tick ran once. A worker killed during a run leaves its row `running`
with no `finished_at`; that tick is not run again, the next one runs as usual.
On SQLite (one host, one worker) the same rows are written, without a lock.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from bopo.config import WorkerSettings
from bopo.db.models import JobRun, PendingEmail
from bopo.db.queries import pairs
from bopo.domain.statuses import EmailState
from bopo.domain.templating import EmailEvent
from bopo.services.common.serial import to_json
from bopo.services.context import Context
from bopo.services.email import mailer
from bopo.services.worklist import backorders

log = logging.getLogger(__name__)

StopCheck = Callable[[], bool]
WORKER_ACTOR = "worker"
_MAX_ERROR = 2000


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a job reports: figures, and an error when it did not do its work."""

    summary: dict[str, Any]
    error: str | None = None


def _send_emails(ctx: Context, should_stop: StopCheck) -> Outcome:
    sent = mailer.send_emails(ctx, should_stop=should_stop)
    return _mail_outcome(sent, should_stop)


def _notices(ctx: Context, should_stop: StopCheck) -> Outcome:
    """Send the due-date notices whose hold (notify_min_interval_hours) has ended.

    Notices are queued when a due date moves; one within the interval of the last
    is held back until then. This sends those that are due, so they go out close to
    the end of their hold even when the emails job runs seldom or is off.
    """
    now = ctx.clock()
    with ctx.db.read() as conn:
        due = list(
            conn.scalars(
                select(PendingEmail.id).where(
                    PendingEmail.event == EmailEvent.DUE_DATE.value,
                    PendingEmail.state == EmailState.PENDING.value,
                    (PendingEmail.next_attempt_at.is_(None))
                    | (PendingEmail.next_attempt_at <= now),
                )
            )
        )
    if not due:
        return Outcome({"due": 0, "sent": 0, "failed": 0, "retrying": 0})
    sent = mailer.send_emails(ctx, ids=due, should_stop=should_stop)
    outcome = _mail_outcome(sent, should_stop)
    return Outcome({"due": len(due), **outcome.summary}, outcome.error)


def _mail_outcome(sent: mailer.SendSummary, should_stop: StopCheck) -> Outcome:
    summary = {k: v for k, v in to_json(sent).items() if k not in {"errors", "stopped"}}
    # A stop asked for (SIGTERM) is not a failure; a server out of reach is.
    error = sent.stopped if sent.stopped and not should_stop() else None
    if sent.errors:
        summary["errors"] = sent.errors[:10]
    return Outcome(summary, error)


def _worklist_retry(ctx: Context, _should_stop: StopCheck) -> Outcome:
    return Outcome(to_json(backorders.allocate_worklist(ctx, actor=WORKER_ACTOR)))


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    setting: str  # the [worker] key that says how often
    run: Callable[[Context, StopCheck], Outcome]
    what: str


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job("send_emails", "send_emails_every", _send_emails, "send due emails (the mailer)"),
        Job("notices", "notices_every", _notices, "send due-date notices whose hold ended"),
        Job(
            "worklist_retry",
            "worklist_retry_every",
            _worklist_retry,
            "retry the backorder worklist",
        ),
    )
}


def schedule(settings: WorkerSettings) -> list[tuple[Job, float]]:
    """The jobs turned on, with their period in seconds."""
    out = []
    for job in JOBS.values():
        every = getattr(settings, job.setting)
        if every is not None:
            out.append((job, float(every)))
    return out


def tick_of(now: datetime, every: float) -> datetime:
    """The start of the tick `now` falls in."""
    start = (now.timestamp() // every) * every
    return datetime.fromtimestamp(start, UTC)


def lock_key(job: str, tick: datetime) -> int:
    """One signed 64-bit advisory-lock key per job and tick."""
    digest = hashlib.blake2b(f"bopo.job:{job}:{tick.isoformat()}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def worker_name() -> str:
    return f"{socket.gethostname()[:80]}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class JobRunView:
    job: str
    tick: datetime
    worker: str
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    result: Literal["running", "ok", "failed"]
    summary: dict[str, Any] | None
    error: str | None


@contextmanager
def _tick_lock(ctx: Context, job: str, tick: datetime) -> Iterator[bool]:
    """Whether this worker may take the tick; on PostgreSQL held until the block ends."""
    if ctx.db.is_sqlite:
        yield True
        return
    with ctx.db.engine.connect() as conn, conn.begin():
        got = conn.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(job, tick)}
        )
        yield bool(got)
        # The transaction ends here (it wrote nothing), and the lock with it.


def _claim(conn: Connection, job: str, tick: datetime, worker: str, now: datetime) -> int | None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(JobRun)
        .values(job=job, tick=tick, worker=worker, started_at=now, result="running")
        .on_conflict_do_nothing(index_elements=["job", "tick"])
        .returning(JobRun.id)
    )
    run_id: int | None = conn.scalar(stmt)
    return run_id


def run_job(
    ctx: Context,
    job: Job,
    tick: datetime,
    *,
    worker: str | None = None,
    should_stop: StopCheck = lambda: False,
) -> JobRunView | None:
    """Run `job` for `tick` unless another worker has it or had it; the run, or None."""
    me = worker or worker_name()
    with _tick_lock(ctx, job.name, tick) as mine:
        if not mine:
            log.debug("job %s tick %s: another worker has it", job.name, tick.isoformat())
            return None
        with ctx.db.write() as conn:
            run_id = _claim(conn, job.name, tick, me, ctx.clock())
        if run_id is None:
            log.debug("job %s tick %s: ran already", job.name, tick.isoformat())
            return None
        started = time.monotonic()
        try:
            outcome = job.run(ctx, should_stop)
        except Exception as exc:  # a job that fails is recorded, and the worker goes on
            log.exception("job %s failed", job.name, extra={"job": job.name})
            outcome = Outcome({}, f"{type(exc).__name__}: {exc}"[:_MAX_ERROR])
        duration = round(time.monotonic() - started, 3)
        result = "failed" if outcome.error else "ok"
        with ctx.db.write() as conn:
            conn.execute(
                update(JobRun)
                .where(JobRun.id == run_id)
                .values(
                    finished_at=ctx.clock(),
                    duration_seconds=duration,
                    result=result,
                    summary=outcome.summary,
                    error=outcome.error,
                )
            )
    log.info(
        "job %s %s in %.3fs",
        job.name,
        result,
        duration,
        extra={"job": job.name, "tick": tick.isoformat(), "summary": outcome.summary},
    )
    with ctx.db.read() as conn:
        return _view(conn.execute(select(*_COLUMNS).where(JobRun.id == run_id)).one())


def run_worker(
    ctx: Context,
    *,
    should_stop: StopCheck,
    poll_seconds: float = 1.0,
    worker: str | None = None,
    on_run: Callable[[JobRunView], None] | None = None,
) -> None:
    """Run each scheduled job once per tick until `should_stop()`.

    A job is tried as soon as its tick begins (and at start, for the tick under way:
    if another worker ran it, the row says so). A stop asked for during a job lets
    it finish its work in hand first (the mailer its email), then the loop ends.
    """
    me = worker or worker_name()
    jobs = schedule(ctx.settings.worker)
    done: dict[str, datetime] = {}
    while not should_stop():
        now = ctx.clock()
        for job, every in jobs:
            if should_stop():
                break
            tick = tick_of(now, every)
            if done.get(job.name) == tick:
                continue
            try:
                ran = run_job(ctx, job, tick, worker=me, should_stop=should_stop)
            except Exception as exc:  # the database gone for a moment: try again next round
                reason = str(exc).splitlines()[0] if str(exc) else ""
                log.warning(
                    "job %s: could not be started: %s: %s",
                    job.name,
                    type(exc).__name__,
                    reason,
                    extra={"job": job.name},
                )
                continue
            done[job.name] = tick
            if ran is not None and on_run is not None:
                on_run(ran)
        # Sleep until the next tick begins (at most poll_seconds, so a stop, or a clock
        # set forward, is noticed soon).
        now = ctx.clock()
        wait = min(
            [poll_seconds]
            + [(tick_of(now, every) - now).total_seconds() + every for _, every in jobs]
        )
        deadline = time.monotonic() + max(wait, 0.01)
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(max(0.0, min(0.1, deadline - time.monotonic())))


_COLUMNS = (
    JobRun.job,
    JobRun.tick,
    JobRun.worker,
    JobRun.started_at,
    JobRun.finished_at,
    JobRun.duration_seconds,
    JobRun.result,
    JobRun.summary,
    JobRun.error,
)


def _view(row: Any) -> JobRunView:
    return JobRunView(**row._mapping)


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A job, how often it runs, its last run, and how many runs failed."""

    job: str
    what: str
    every_seconds: float | None  # None: off in this node's settings
    last_run: JobRunView | None
    failures: int


def job_statuses(ctx: Context) -> list[JobStatus]:
    """Every job with its last run (the latest started), whichever worker ran it."""
    latest = select(func.max(JobRun.id)).group_by(JobRun.job)
    with ctx.db.read() as conn:
        last = {
            row.job: _view(row)
            for row in conn.execute(select(*_COLUMNS).where(JobRun.id.in_(latest)))
        }
        failures: dict[str, int] = pairs(
            conn.execute(
                select(JobRun.job, func.count())
                .where(JobRun.result == "failed")
                .group_by(JobRun.job)
            )
        )
    return [
        JobStatus(
            job=job.name,
            what=job.what,
            every_seconds=getattr(ctx.settings.worker, job.setting),
            last_run=last.get(job.name),
            failures=failures.get(job.name, 0),
        )
        for job in JOBS.values()
    ]


def job_runs(ctx: Context, *, job: str | None = None, limit: int = 50) -> Sequence[JobRunView]:
    """The latest runs, newest first."""
    stmt = select(*_COLUMNS).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
    if job is not None:
        stmt = stmt.where(JobRun.job == job)
    with ctx.db.read() as conn:
        return [_view(row) for row in conn.execute(stmt)]
