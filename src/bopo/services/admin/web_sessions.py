"""Web UI sessions, kept in the database so that signing out ends one for good.

A session is a row in `web_sessions`; the signed cookie carries a random secret
and the row is found by its SHA-256, so a copied cookie works exactly as long
as the row is live: until its user signs out (that session ends), changes
their password or is disabled (all of theirs end), or it goes `IDLE` without
a click. Every worker process reads the same rows, so an ended session is
refused by all of them at once.

Each page already looks its user up; the session is joined into that one
query. `last_seen_at` is written at most once a minute per session, which is
the only extra round trip a request can cost. A password change or disabling
a user ends their sessions in the same transaction (`users.set_password`,
`users.disable_user`). Ended and idle rows are deleted
at each sign-in (one DELETE): the table holds about one row per person signed
in today.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, insert, or_, select, update

from bopo.db.models import User, WebSession
from bopo.errors import AuthenticationFailed
from bopo.services.admin.users import UserView, user_view
from bopo.services.context import Context

IDLE = timedelta(hours=16)  # a long working day without a click; then sign in again
SEEN_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often


def _key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def start_session(ctx: Context, user_id: int, *, replacing: str | None = None) -> str:
    """A new session for a user who just signed in; the secret for the cookie. The
    session the same browser had before (`replacing`), if any, ends."""
    secret = secrets.token_urlsafe(32)
    now = ctx.clock()
    with ctx.db.write() as conn:
        if replacing is not None:
            conn.execute(
                update(WebSession)
                .where(WebSession.id == _key(replacing), WebSession.ended_at.is_(None))
                .values(ended_at=now)
            )
        conn.execute(
            delete(WebSession).where(
                or_(WebSession.ended_at.is_not(None), WebSession.last_seen_at < now - IDLE)
            )
        )
        conn.execute(
            insert(WebSession).values(
                id=_key(secret), user_id=user_id, created_at=now, last_seen_at=now
            )
        )
    return secret


def session_user(ctx: Context, secret: str) -> UserView:
    """The user behind a live session, checked on every page; AuthenticationFailed when
    the session ended, went idle or is unknown, or its user was disabled."""
    if len(secret) > 100:
        raise AuthenticationFailed()
    key = _key(secret)
    now = ctx.clock()
    with ctx.db.read() as conn:
        row = conn.execute(
            select(User, WebSession.last_seen_at)
            .join(WebSession, WebSession.user_id == User.id)
            .where(
                WebSession.id == key,
                WebSession.ended_at.is_(None),
                WebSession.last_seen_at > now - IDLE,
                User.disabled_at.is_(None),
                User.password_hash.is_not(None),
            )
        ).first()
    if row is None:
        raise AuthenticationFailed()
    if now - row.last_seen_at >= SEEN_EVERY:
        with ctx.db.write() as conn:
            conn.execute(
                update(WebSession)
                .where(WebSession.id == key, WebSession.ended_at.is_(None))
                .values(last_seen_at=now)
            )
    return user_view(row)


def end_session(ctx: Context, secret: str) -> None:
    """Sign out: this session ends, the user's others go on."""
    with ctx.db.write() as conn:
        conn.execute(
            update(WebSession)
            .where(WebSession.id == _key(secret), WebSession.ended_at.is_(None))
            .values(ended_at=ctx.clock())
        )
