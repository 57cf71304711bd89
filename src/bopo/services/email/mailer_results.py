"""Recording what became of each email a mailer held: each in its own transaction, and
only while the mailer still holds it (see bopo.services.email.mailer).

An email sent is recorded with one statement on a connection kept for the batch. On
PostgreSQL it runs in autocommit (one round trip) in a thread of its own while the
mailer offers the next message to the server, and is committed before the server may
accept that message (see ResultWriter). On SQLite the commit is local and does not
wait for the disk (WAL, synchronous=NORMAL): it runs at once, in the mailer's thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, select, update
from sqlalchemy.orm import aliased

from bopo.db.bulk import sqlite_datetime
from bopo.db.models import PendingEmail, SalesOrder
from bopo.domain.statuses import EmailState
from bopo.services.context import Context

log = logging.getLogger("bopo.services.email.mailer")

_TAKEN_OVER = "email %d was taken over by another mailer before its result was kept"


# An email sent, recorded if this mailer still holds it. Straight on the driver's
# cursor, the statement's text fixed (sqlite3 and psycopg prepare it once): it runs for
# every email sent, and SQLAlchemy's execution of a compiled statement cost more than
# the statement itself.
_SENT = (
    f"UPDATE {PendingEmail.__tablename__} SET state = '{EmailState.SENT.value}',"
    " sent_at = {p}, lease_until = NULL, updated_at = {p}"
    f" WHERE id = {{p}} AND state = '{EmailState.SENDING.value}' AND claimed_by = {{p}}"
)
_SENT_SQLITE = _SENT.format(p="?")
_SENT_PG = _SENT.format(p="%s")


class ResultWriter:
    """Commits the result of the message just accepted while the next is being offered.

    One at a time: `submit()` starts recording an email sent; `settle()` waits for it.
    The mailer settles before it lets the server accept the next message, and before
    any write of its own, so at most one accepted message is ever unrecorded.
    """

    def __init__(self, ctx: Context, me: str, on_kept: Callable[[int], None]) -> None:
        self._ctx, self._me, self._on_kept = ctx, me, on_kept
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="bopo-mailer-results")
        self._pending: Future[None] | None = None
        self._conn: Connection | None = None  # used by one thread at a time

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        error = self.settle()
        self._thread.shutdown()
        self._disconnect()
        if error is not None:
            if kind is None:
                raise error
            log.error("mailer %s: a result could not be kept", self._me, exc_info=error)

    def submit(self, email_id: int) -> None:
        assert self._pending is None, "settle() the last result first"
        if self._ctx.db.is_sqlite:  # a local commit, not flushed (WAL): no wait to hide
            self._record(email_id)
            return
        self._pending = self._thread.submit(self._record, email_id)

    def settle(self) -> BaseException | None:
        """Wait for the result being recorded; what went wrong, if anything."""
        pending, self._pending = self._pending, None
        return None if pending is None else pending.exception()

    def wait(self) -> None:
        """settle(), raising what went wrong."""
        error = self.settle()
        if error is not None:
            raise error

    def _record(self, email_id: int) -> None:
        if self._conn is None:
            conn = self._ctx.db.engine.connect()
            if not self._ctx.db.is_sqlite:  # one statement: its own transaction
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            self._conn = conn
        raw = self._conn.connection.driver_connection
        assert raw is not None
        at = self._ctx.clock()
        if self._ctx.db.is_sqlite:
            stored = sqlite_datetime(at)
            raw.execute("BEGIN IMMEDIATE")  # as every write on SQLite (bopo.db.engine)
            try:
                done = raw.execute(_SENT_SQLITE, (stored, stored, email_id, self._me)).rowcount
                raw.execute("COMMIT")
            except BaseException:
                raw.rollback()
                raise
        else:
            done = raw.execute(_SENT_PG, (at, at, email_id, self._me), prepare=True).rowcount
        if not done:
            log.warning(_TAKEN_OVER, email_id)
        self._on_kept(email_id)

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def finish(ctx: Context, me: str, email_id: int, **values: Any) -> None:
    """Record one email's result in its own transaction, if this mailer still holds it."""
    now = ctx.clock()
    with ctx.db.write() as conn:
        if values.get("state") == EmailState.PENDING.value and give_way(conn, me, [email_id], now):
            log.info("email %d gave way to a newer one for its order", email_id)
            return
        done = conn.execute(
            update(PendingEmail)
            .where(
                PendingEmail.id == email_id,
                PendingEmail.state == EmailState.SENDING.value,
                PendingEmail.claimed_by == me,
            )
            .values(lease_until=None, updated_at=now, **values)
        ).rowcount
    if not done:
        log.warning(_TAKEN_OVER, email_id)


def give_way(conn: Connection, me: str, ids: Sequence[int], now: datetime) -> int:
    """Emails of this mailer going back in the queue give way to a newer one waiting there
    for the same order and template: a change queued it, saying what is true now, while
    these were out being sent. They are superseded by it, not queued beside it."""
    held = and_(
        PendingEmail.id.in_(sorted(ids)),
        PendingEmail.state == EmailState.SENDING.value,
        PendingEmail.claimed_by == me,
    )
    orders = conn.scalars(select(PendingEmail.sales_order_id).where(held)).all()
    if not any(orders):
        return 0
    # The orders first, as a change locks them before it queues their emails.
    conn.execute(
        select(SalesOrder.id)
        .where(SalesOrder.id.in_(sorted({o for o in orders if o is not None})))
        .order_by(SalesOrder.id)
        .with_for_update(key_share=True)
    ).all()
    waiting = aliased(PendingEmail)
    newer = (
        select(waiting.id)
        .where(
            waiting.sales_order_id == PendingEmail.sales_order_id,
            waiting.template_id == PendingEmail.template_id,
            waiting.state == EmailState.PENDING.value,
        )
        .limit(1)
        .scalar_subquery()
    )
    return conn.execute(
        update(PendingEmail)
        .where(held, newer.is_not(None))
        .values(
            state=EmailState.SUPERSEDED.value,
            superseded_by_id=newer,
            superseded_reason="a newer email for this order waits to be sent",
            claimed_by=None,
            lease_until=None,
            updated_at=now,
        )
    ).rowcount


def release(ctx: Context, me: str, ids: Sequence[int]) -> int:
    """Hand claimed emails back unsent, as they were before the claim; how many went back."""
    with ctx.db.write() as conn:
        give_way(conn, me, ids, ctx.clock())
        released = conn.execute(
            update(PendingEmail)
            .where(
                PendingEmail.id.in_(ids),
                PendingEmail.state == EmailState.SENDING.value,
                PendingEmail.claimed_by == me,
            )
            .values(
                state=EmailState.PENDING.value,
                attempts=PendingEmail.attempts - 1,
                claimed_by=None,
                lease_until=None,
                updated_at=ctx.clock(),
            )
        ).rowcount
    return int(released)
