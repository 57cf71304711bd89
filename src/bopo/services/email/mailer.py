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
On PostgreSQL that commit runs in a thread (mailer_results.ResultWriter)
while the next message is offered: its envelope goes out, but its content and
the line that ends it, after which the server may accept it, only once the
commit has returned. A mailer killed, or a commit failing, in between leaves
that next message unended; the server drops it, and it goes later as any
unsent email.

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
(bopo.services.email.superseding). The changes themselves supersede what they make
untrue, so this catches what time alone changes (a date now past) and an email
a person put back in the queue.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Protocol

from pydantic import Field

from bopo.domain.addresses import BadAddress
from bopo.services.context import Context
from bopo.services.email.mailer_claims import Claimed, claim_due, supersede_untrue
from bopo.services.email.mailer_lease import Lease
from bopo.services.email.mailer_results import ResultWriter, finish, release
from bopo.smtp import Outgoing, SendFailure, SmtpTransport, build_message

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = timedelta(days=1)


class Transport(Protocol):
    """start() offers a message and its content, all but the end; finish() ends it, and
    the server accepts it (SmtpTransport)."""

    def start(self, email: Outgoing) -> None: ...

    def finish(self) -> None: ...

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
) -> list[Claimed]:
    """Claim up to `size` due emails; when all were found untrue and superseded, claim
    again (up to `again` times): their successors may be due now."""
    for _ in range(again + 1):
        claim = claim_due(ctx, me, ids, size)
        summary.failed += len(claim.given_up)
        summary.errors.extend(claim.given_up)
        if not claim.stale:
            return claim.emails
        summary.superseded += supersede_untrue(ctx, me, claim.stale)
        if claim.emails:
            return claim.emails
    return []


def _send_batch(
    ctx: Context,
    me: str,
    transport: Transport,
    batch: Sequence[Claimed],
    summary: SendSummary,
    should_stop: Callable[[], bool] | None,
) -> bool:
    """Send a claimed batch; False when the run should end (stopped, server unreachable)."""
    with Lease(ctx, me, batch) as lease, ResultWriter(ctx, me, lease.done) as results:
        return _send_held(ctx, me, transport, batch, lease, results, summary, should_stop)


def _send_held(
    ctx: Context,
    me: str,
    transport: Transport,
    batch: Sequence[Claimed],
    lease: Lease,
    results: ResultWriter,
    summary: SendSummary,
    should_stop: Callable[[], bool] | None,
) -> bool:
    """Each message is offered (envelope and content) while the last one's result is
    being committed, and ended only once that commit has returned. The next message is
    built in that wait too: once a message is accepted, its result's commit (in a thread
    on PostgreSQL) starts while the next envelope goes out, not after Python has built
    the next message holding the interpreter's lock."""
    reconnected = False
    made: dict[int, Outgoing | Exception] = {}
    i = 0
    while i < len(batch):
        email = batch[i]
        if should_stop is not None and should_stop():
            results.wait()
            _release(ctx, me, batch[i:], summary)
            summary.stopped = "stopped"
            return False
        if lease.lost(email.id):  # another mailer has it now
            i += 1
            continue
        if not lease.holds(email.id):  # claim afresh rather than overstay
            results.wait()
            _release(ctx, me, batch[i:], summary)
            return True
        outgoing = _built(ctx, me, email, results, summary, made.pop(email.id, None))
        if outgoing is not None:
            try:
                transport.start(outgoing)
                if i + 1 < len(batch):
                    made[batch[i + 1].id] = _made(ctx, batch[i + 1])
                unkept = results.settle()
                if unkept is None:
                    transport.finish()
            except SendFailure as failure:
                results.wait()
                if failure.connection_lost and not reconnected:
                    reconnected = True  # one more go on a new connection
                    continue
                if failure.connection_lost:
                    for left in batch[i:]:
                        if not lease.lost(left.id):
                            _retry_or_fail(ctx, me, left, str(failure), summary)
                    summary.stopped = f"server unreachable: {failure}"
                    return False
                _refused(ctx, me, email, failure, summary)
            except Exception as exc:  # unforeseen: this email alone, the rest on a new connection
                results.wait()
                log.exception("email %d: sending failed unexpectedly", email.id)
                transport.close()
                _retry_or_fail(ctx, me, email, f"sending failed: {exc!r}", summary)
            else:
                if unkept is not None:  # the last result was not kept: this one must not go
                    transport.close()  # mid-message: the server drops it
                    raise unkept
                results.submit(email.id)  # the lease lets it go once recorded
                summary.sent += 1
                reconnected = False
                i += 1
                continue
        lease.done(email.id)
        i += 1
    return True


def _made(ctx: Context, email: Claimed) -> Outgoing | Exception:
    try:
        return _message(ctx, email)
    except Exception as exc:  # dealt with in its turn (_built)
        return exc


def _built(
    ctx: Context,
    me: str,
    email: Claimed,
    results: ResultWriter,
    summary: SendSummary,
    made: Outgoing | Exception | None,
) -> Outgoing | None:
    """The message to send (built already, or now); None when it cannot be built: it
    will not build next time either, so it fails, alone."""
    if made is None:
        made = _made(ctx, email)
    if isinstance(made, Outgoing):
        return made
    reason = str(made) if isinstance(made, BadAddress) else f"cannot be built: {made!r}"
    results.wait()
    finish(ctx, me, email.id, state="failed", last_error=reason)
    summary.failed += 1
    summary.errors.append(f"email {email.id}: {reason}")
    return None


def _refused(
    ctx: Context, me: str, email: Claimed, failure: SendFailure, summary: SendSummary
) -> None:
    """The server refused the email: for good (5xx), or for now (4xx)."""
    if failure.permanent:
        finish(ctx, me, email.id, state="failed", last_error=str(failure))
        summary.failed += 1
        summary.errors.append(f"email {email.id}: {failure}")
    else:
        _retry_or_fail(ctx, me, email, str(failure), summary)


def _message(ctx: Context, email: Claimed) -> Outgoing:
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


def _retry_or_fail(ctx: Context, me: str, email: Claimed, error: str, summary: SendSummary) -> None:
    cfg = ctx.settings.email
    summary.errors.append(f"email {email.id}: {error}")
    if email.attempts >= cfg.max_attempts:
        finish(ctx, me, email.id, state="failed", last_error=error)
        summary.failed += 1
        return
    delay = min(
        timedelta(seconds=cfg.retry_delay_seconds * 2 ** (email.attempts - 1)), MAX_RETRY_DELAY
    )
    finish(
        ctx,
        me,
        email.id,
        state="pending",
        last_error=error,
        claimed_by=None,
        next_attempt_at=ctx.clock() + delay,
    )
    summary.retrying += 1


def _release(ctx: Context, me: str, emails: Sequence[Claimed], summary: SendSummary) -> None:
    """Hand claimed emails back unsent, as they were before the claim."""
    summary.released += release(ctx, me, [e.id for e in emails])
