"""The batch mailer: claim due emails, send them over one SMTP connection, record each.

Claiming is one short transaction: the due emails (pending and past their
retry time, or `sending` under a lease that has run out) are selected FOR
UPDATE SKIP LOCKED on PostgreSQL, so mailers running at once each take a
different batch; on SQLite, BEGIN IMMEDIATE makes claims one at a time. A
claim marks the emails `sending` with this mailer's name, a lease and one
more attempt, and commits before anything is sent.

While a batch is held, a heartbeat thread renews its lease every third of
`[email] lease_seconds`, however long the server takes over one message; and
before each message the mailer checks that the lease (as last renewed) still
has a tenth of its length to run, else it hands the rest back and claims
afresh. So another mailer takes an email over only from a mailer that stopped
renewing: one that was killed, or cut off from the database.

Each email's result is committed on its own right after the server answers,
so a mailer killed mid-batch leaves only its unfinished emails `sending`;
when the lease runs out, another mailer takes them over. The one message
that can go twice is the one the server accepted just before the kill and
whose result was not yet committed: it goes again with the same Message-ID.

A 5xx answer fails the email at once; a 4xx answer or a lost connection
puts it back as pending with a growing delay, until `[email] max_attempts`
then it fails. If the server cannot be reached (even after one reconnect),
the rest of the batch is put back the same way and the run stops. Whatever
else goes wrong with one email (an address that cannot be sent to, a message
that cannot be built, an error the SMTP library did not expect) fails or
retries that email alone, on a fresh connection; the others go on.

An email is claimed only while it is still true: a claim checks each pending
email's links (still active, with the quantity and due date it states); one that
is not is superseded instead, and what is true is queued in its place
(bopo.services.superseding). The changes themselves supersede what they make
untrue, so this catches what time alone changes (a date now past) and an email
a person put back in the queue.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol

from pydantic import Field
from sqlalchemy import Connection, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import aliased

from bopo.db.models import PendingEmail, SalesOrder
from bopo.domain.addresses import BadAddress
from bopo.domain.statuses import EmailState
from bopo.services.context import Context
from bopo.services.superseding import refresh_emails, untrue
from bopo.smtp import Outgoing, SendFailure, SmtpTransport, build_message

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = timedelta(days=1)
_TAKEN_OVER = "email %d was taken over by another mailer before its result was kept"


class Transport(Protocol):
    def send(self, email: Outgoing) -> None: ...

    def close(self) -> None: ...


@dataclass
class SendSummary:
    sent: int = 0
    failed: Annotated[int, Field(description="Refused for good (5xx), or out of attempts")] = 0
    retrying: Annotated[int, Field(description="Back to pending after a transient failure")] = 0
    released: Annotated[int, Field(description="Claimed but handed back unsent")] = 0
    superseded: Annotated[
        int, Field(description="No longer true when claimed: superseded, not sent")
    ] = 0
    errors: list[str] = field(default_factory=list)
    stopped: Annotated[
        str | None, Field(description="Why the run ended early, e.g. server unreachable")
    ] = None

    def add(self, other: SendSummary) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.retrying += other.retrying
        self.released += other.released
        self.superseded += other.superseded
        self.errors.extend(other.errors)
        self.stopped = other.stopped


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    to_address: str
    to_name: str | None
    subject: str
    body_text: str
    body_html: str | None
    message_id: str
    created_at: datetime
    attempts: int  # counting this one
    lease_until: datetime


def mailer_name() -> str:
    """Who holds a claim: host, process and a random part."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def send_emails(
    ctx: Context,
    *,
    ids: Collection[int] | None = None,
    limit: int | None = None,
    transport: Transport | None = None,
    mailer: str | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SendSummary:
    """Send due emails (or just `ids`, due or not), batch by batch, until none is left."""
    me = mailer or mailer_name()
    own = transport is None
    smtp: Transport = SmtpTransport(ctx.settings.smtp) if transport is None else transport
    summary = SendSummary()
    claimed = 0
    try:
        while limit is None or claimed < limit:
            size = ctx.settings.email.batch_size
            if limit is not None:
                size = min(size, limit - claimed)
            batch = _claim(ctx, me, ids, size, summary)
            if not batch:
                break
            claimed += len(batch)
            if not _send_batch(ctx, me, smtp, batch, summary, should_stop):
                break
    finally:
        if own:
            smtp.close()
    return summary


def run_mailer(
    ctx: Context,
    *,
    interval: float,
    should_stop: Callable[[], bool],
    on_round: Callable[[SendSummary], None] | None = None,
    transport: Transport | None = None,
) -> SendSummary:
    """Send what is due, wait `interval` seconds, again, until `should_stop()`."""
    total = SendSummary()
    while not should_stop():
        summary = send_emails(ctx, transport=transport, should_stop=should_stop)
        total.add(summary)
        if on_round:
            on_round(summary)
        waited = 0.0
        while waited < interval and not should_stop():
            time.sleep(min(0.2, interval - waited))
            waited += 0.2
    return total


def _claim(
    ctx: Context,
    me: str,
    ids: Collection[int] | None,
    size: int,
    summary: SendSummary,
    *,
    again: int = 3,
) -> list[_Claimed]:
    cfg = ctx.settings.email
    stale: dict[int, str] = {}
    with ctx.db.write() as conn:
        now = ctx.clock()
        pending = PendingEmail.state == EmailState.PENDING.value
        if ids is None:
            pending = and_(
                pending,
                or_(PendingEmail.next_attempt_at.is_(None), PendingEmail.next_attempt_at <= now),
            )
        abandoned = and_(
            PendingEmail.state == EmailState.SENDING.value, PendingEmail.lease_until < now
        )
        stmt = (
            select(
                PendingEmail.id,
                PendingEmail.state,
                PendingEmail.attempts,
                PendingEmail.claimed_by,
                PendingEmail.to_address,
                PendingEmail.to_name,
                PendingEmail.subject,
                PendingEmail.body_text,
                PendingEmail.body_html,
                PendingEmail.message_id,
                PendingEmail.created_at,
            )
            .where(or_(pending, abandoned))
            .order_by(PendingEmail.id)
            .limit(size)
            .with_for_update(skip_locked=True)
        )
        if ids is not None:
            stmt = stmt.where(PendingEmail.id.in_(sorted(ids)))
        rows = conn.execute(stmt).all()
        # An email whose mailers keep dying on it is not tried for ever.
        exhausted = [r for r in rows if r.state == "sending" and r.attempts >= cfg.max_attempts]
        for r in exhausted:
            error = (
                f"mailer {r.claimed_by} stopped while sending it; {r.attempts} attempts, giving up"
            )
            conn.execute(
                update(PendingEmail)
                .where(PendingEmail.id == r.id)
                .values(state="failed", last_error=error, lease_until=None, updated_at=now)
            )
            summary.failed += 1
            summary.errors.append(f"email {r.id}: {error}")
        gone = {r.id for r in exhausted}
        # The last look before sending: an email that no longer says what is true is
        # not claimed, but superseded (below, with the locks a change takes).
        waiting = [r.id for r in rows if r.id not in gone and r.state == EmailState.PENDING]
        stale = untrue(conn, waiting, now.date())
        take = [r for r in rows if r.id not in gone and r.id not in stale]
        lease_until = now + timedelta(seconds=cfg.lease_seconds)
        if take:
            conn.execute(
                update(PendingEmail)
                .where(PendingEmail.id.in_([r.id for r in take]))
                .values(
                    state=EmailState.SENDING.value,
                    claimed_by=me,
                    lease_until=lease_until,
                    attempts=PendingEmail.attempts + 1,
                    updated_at=now,
                )
            )
    if stale:
        summary.superseded += _supersede(ctx, me, stale)
        if not take and again:  # their successors may be due now
            return _claim(ctx, me, ids, size, summary, again=again - 1)
    return [
        _Claimed(
            r.id,
            r.to_address,
            r.to_name,
            r.subject,
            r.body_text,
            r.body_html,
            r.message_id,
            r.created_at,
            r.attempts + 1,
            lease_until,
        )
        for r in take
    ]


def _supersede(ctx: Context, me: str, stale: Collection[int]) -> int:
    """Supersede emails found untrue, queueing what is true instead; how many went."""
    with ctx.db.write() as conn:
        orders = conn.scalars(
            select(PendingEmail.sales_order_id).where(PendingEmail.id.in_(sorted(stale)))
        ).all()
        refresh_emails(
            conn,
            ctx,
            orders={o for o in orders if o is not None},
            now=ctx.clock(),
            actor=f"mailer {me}",
            notices=True,
        )
        gone = conn.scalar(
            select(func.count())
            .select_from(PendingEmail)
            .where(
                PendingEmail.id.in_(sorted(stale)),
                PendingEmail.state == EmailState.SUPERSEDED.value,
            )
        )
    return int(gone or 0)


class _Lease:
    """Keeps a claimed batch's lease alive while the mailer works through it.

    A thread renews the lease of the emails still held every third of its
    length; `holds()` says whether one may be sent: still held by this mailer,
    with at least a tenth of the lease left as last renewed. A renewal that
    finds an email gone (taken over after this mailer fell silent) marks it
    lost: it is not sent.
    """

    def __init__(self, ctx: Context, me: str, batch: Sequence[_Claimed]) -> None:
        self._ctx = ctx
        self._me = me
        self._length = timedelta(seconds=ctx.settings.email.lease_seconds)
        self._margin = self._length / 10
        self._until = min(e.lease_until for e in batch)
        self._held = {e.id for e in batch}
        self._lost: set[int] = set()
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bopo-mailer-lease", daemon=True)

    def __enter__(self) -> _Lease:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def holds(self, email_id: int) -> bool:
        with self._guard:
            return (
                email_id in self._held
                and email_id not in self._lost
                and self._ctx.clock() < self._until - self._margin
            )

    def lost(self, email_id: int) -> bool:
        with self._guard:
            return email_id in self._lost

    def done(self, email_id: int) -> None:
        with self._guard:
            self._held.discard(email_id)

    def _run(self) -> None:
        every = self._length.total_seconds() / 3
        while not self._stop.wait(every):
            try:
                self._renew()
            except Exception:  # the database is away: holds() stops the sending in time
                log.warning("mailer %s could not renew its lease", self._me, exc_info=True)

    def _renew(self) -> None:
        with self._guard:
            ids = sorted(self._held - self._lost)
        if not ids:
            return
        until = self._ctx.clock() + self._length
        with self._ctx.db.write() as conn:
            kept = set(
                conn.scalars(
                    update(PendingEmail)
                    .where(
                        PendingEmail.id.in_(ids),
                        PendingEmail.state == EmailState.SENDING.value,
                        PendingEmail.claimed_by == self._me,
                    )
                    .values(lease_until=until)
                    .returning(PendingEmail.id)
                )
            )
        with self._guard:
            gone = (set(ids) & self._held) - kept  # not finished here, so taken over
            if gone:
                log.warning("emails %s were taken over by another mailer", sorted(gone))
            self._lost |= gone
            self._until = until


def _send_batch(
    ctx: Context,
    me: str,
    transport: Transport,
    batch: Sequence[_Claimed],
    summary: SendSummary,
    should_stop: Callable[[], bool] | None,
) -> bool:
    """Send a claimed batch; False when the run should end (stopped, server unreachable)."""
    with _Lease(ctx, me, batch) as lease:
        return _send_held(ctx, me, transport, batch, lease, summary, should_stop)


def _send_held(
    ctx: Context,
    me: str,
    transport: Transport,
    batch: Sequence[_Claimed],
    lease: _Lease,
    summary: SendSummary,
    should_stop: Callable[[], bool] | None,
) -> bool:
    reconnected = False
    i = 0
    while i < len(batch):
        email = batch[i]
        if should_stop is not None and should_stop():
            _release(ctx, me, batch[i:], summary)
            summary.stopped = "stopped"
            return False
        if lease.lost(email.id):  # another mailer has it now
            i += 1
            continue
        if not lease.holds(email.id):  # claim afresh rather than overstay
            _release(ctx, me, batch[i:], summary)
            return True
        try:
            outgoing = _message(ctx, email)
        except Exception as exc:  # it will not build next time either: it fails alone
            reason = str(exc) if isinstance(exc, BadAddress) else f"cannot be built: {exc!r}"
            _finish(ctx, me, email.id, state="failed", last_error=reason)
            lease.done(email.id)
            summary.failed += 1
            summary.errors.append(f"email {email.id}: {reason}")
            i += 1
            continue
        try:
            transport.send(outgoing)
        except SendFailure as failure:
            if failure.connection_lost and not reconnected:
                reconnected = True  # one more go on a new connection
                continue
            if failure.connection_lost:
                for left in batch[i:]:
                    if not lease.lost(left.id):
                        _retry_or_fail(ctx, me, left, str(failure), summary)
                summary.stopped = f"server unreachable: {failure}"
                return False
            if failure.permanent:
                _finish(ctx, me, email.id, state="failed", last_error=str(failure))
                summary.failed += 1
                summary.errors.append(f"email {email.id}: {failure}")
            else:
                _retry_or_fail(ctx, me, email, str(failure), summary)
        except Exception as exc:  # unforeseen: this email alone, the rest on a new connection
            log.exception("email %d: sending failed unexpectedly", email.id)
            transport.close()
            _retry_or_fail(ctx, me, email, f"sending failed: {exc!r}", summary)
        else:
            _sent(ctx, me, email.id)
            summary.sent += 1
            reconnected = False
        lease.done(email.id)
        i += 1
    return True


def _message(ctx: Context, email: _Claimed) -> Outgoing:
    cfg = ctx.settings.email
    return build_message(
        from_address=cfg.from_address,
        from_name=cfg.company_name,
        to_address=email.to_address,
        to_name=email.to_name,
        subject=email.subject,
        body_text=email.body_text,
        body_html=email.body_html,
        message_id=email.message_id,
        date=email.created_at,
    )


_HELD = and_(
    PendingEmail.id == bindparam("email_id"),
    PendingEmail.state == EmailState.SENDING.value,
    PendingEmail.claimed_by == bindparam("mailer"),
)
# Built once: it runs for every email sent.
_SENT = (
    update(PendingEmail)
    .where(_HELD)
    .values(state=EmailState.SENT.value, sent_at=bindparam("at"), lease_until=None)
    .values(updated_at=bindparam("at"))
)


def _sent(ctx: Context, me: str, email_id: int) -> None:
    with ctx.db.write() as conn:
        done = conn.execute(_SENT, {"email_id": email_id, "mailer": me, "at": ctx.clock()})
    if not done.rowcount:
        log.warning(
            "email %d was taken over by another mailer before its result was kept", email_id
        )


def _finish(ctx: Context, me: str, email_id: int, **values: Any) -> None:
    """Record one email's result in its own transaction, if this mailer still holds it."""
    now = ctx.clock()
    with ctx.db.write() as conn:
        if values.get("state") == EmailState.PENDING.value and _give_way(conn, me, [email_id], now):
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
        log.warning(
            "email %d was taken over by another mailer before its result was kept", email_id
        )


def _retry_or_fail(
    ctx: Context, me: str, email: _Claimed, error: str, summary: SendSummary
) -> None:
    cfg = ctx.settings.email
    summary.errors.append(f"email {email.id}: {error}")
    if email.attempts >= cfg.max_attempts:
        _finish(ctx, me, email.id, state="failed", last_error=error)
        summary.failed += 1
        return
    delay = min(
        timedelta(seconds=cfg.retry_delay_seconds * 2 ** (email.attempts - 1)), MAX_RETRY_DELAY
    )
    _finish(
        ctx,
        me,
        email.id,
        state="pending",
        last_error=error,
        claimed_by=None,
        next_attempt_at=ctx.clock() + delay,
    )
    summary.retrying += 1


def _give_way(conn: Connection, me: str, ids: Sequence[int], now: datetime) -> int:
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
        .with_for_update()
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


def _release(ctx: Context, me: str, emails: Sequence[_Claimed], summary: SendSummary) -> None:
    """Hand claimed emails back unsent, as they were before the claim."""
    with ctx.db.write() as conn:
        _give_way(conn, me, [e.id for e in emails], ctx.clock())
        released = conn.execute(
            update(PendingEmail)
            .where(
                PendingEmail.id.in_([e.id for e in emails]),
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
    summary.released += released
