"""Claiming due emails for one mailer, in one short transaction (see bopo.services.email.mailer).

The due emails are pending and past their retry time, or `sending` under a lease that
has run out; one whose mailers kept dying on it is given up. A pending email that no
longer says what is true is not claimed: it is superseded, and what is true queued.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, func, or_, select, update

from bopo.db.models import PendingEmail
from bopo.db.queries import AnySelect
from bopo.domain.statuses import EmailState
from bopo.services.context import Context
from bopo.services.email.superseding import refresh_emails, untrue


@dataclass(frozen=True, slots=True)
class Claimed:
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


@dataclass
class Claim:
    """One claim's outcome: the emails now held, and what was found on the way."""

    emails: list[Claimed] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)  # the errors of emails failed here
    stale: Collection[int] = ()  # pending emails no longer true: to supersede


def claim_due(ctx: Context, me: str, ids: Collection[int] | None, size: int) -> Claim:
    """Claim up to `size` due emails (any of `ids`, due or not): `sending`, held by `me`
    under a lease, with one more attempt."""
    cfg = ctx.settings.email
    with ctx.db.write() as conn:
        now = ctx.clock()
        rows = conn.execute(_due(ids, size, now)).all()
        # An email whose mailers keep dying on it is not tried for ever.
        exhausted = [r for r in rows if r.state == "sending" and r.attempts >= cfg.max_attempts]
        given_up = _give_up(conn, exhausted, now)
        gone = {r.id for r in exhausted}
        # The last look before sending: an email that no longer says what is true is
        # not claimed, but superseded (by supersede_untrue, with the locks a change takes).
        waiting = [r.id for r in rows if r.id not in gone and r.state == EmailState.PENDING]
        stale = untrue(conn, waiting, now.date())
        take = [r for r in rows if r.id not in gone and r.id not in stale]
        lease_until = now + timedelta(seconds=cfg.lease_seconds)
        if take:
            _mark_sending(conn, [r.id for r in take], me, lease_until, now)
    emails = [
        Claimed(
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
    return Claim(emails, given_up, stale)


def _due(ids: Collection[int] | None, size: int, now: datetime) -> AnySelect:
    """The due emails (of `ids`, due or not), oldest first, locked; others' locked ones skipped."""
    pending = PendingEmail.state == EmailState.PENDING.value
    if ids is None:
        pending = and_(
            pending,
            or_(PendingEmail.next_attempt_at.is_(None), PendingEmail.next_attempt_at <= now),
        )
    abandoned = and_(PendingEmail.state == EmailState.SENDING.value, PendingEmail.lease_until < now)
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
        .with_for_update(skip_locked=True, key_share=True)
    )
    if ids is not None:
        stmt = stmt.where(PendingEmail.id.in_(sorted(ids)))
    return stmt


def _give_up(conn: Connection, exhausted: Sequence[Row[Any]], now: datetime) -> list[str]:
    """Fail the emails whose mailers stopped while sending them too often; their errors."""
    errors = []
    for r in exhausted:
        error = f"mailer {r.claimed_by} stopped while sending it; {r.attempts} attempts, giving up"
        conn.execute(
            update(PendingEmail)
            .where(PendingEmail.id == r.id)
            .values(state="failed", last_error=error, lease_until=None, updated_at=now)
        )
        errors.append(f"email {r.id}: {error}")
    return errors


def _mark_sending(
    conn: Connection, ids: list[int], me: str, lease_until: datetime, now: datetime
) -> None:
    conn.execute(
        update(PendingEmail)
        .where(PendingEmail.id.in_(ids))
        .values(
            state=EmailState.SENDING.value,
            claimed_by=me,
            lease_until=lease_until,
            attempts=PendingEmail.attempts + 1,
            updated_at=now,
        )
    )


def supersede_untrue(ctx: Context, me: str, stale: Collection[int]) -> int:
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
