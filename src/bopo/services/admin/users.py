"""Users, their roles and API tokens; signing in with a password or a token.

Passwords are hashed with argon2 (slow on purpose). Tokens are 256 random bits,
so a plain SHA-256 of one is as good as a slow hash and lets every request be
checked with one indexed lookup. A token is shown once, when it is made.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, insert, select, update

from bopo.db.audit import event
from bopo.db.models import ApiToken, AuditEvent, User, WebSession
from bopo.db.queries import record_audit
from bopo.domain.roles import Role
from bopo.errors import AuthenticationFailed, Conflict, FieldError, InvalidInput, NotFound
from bopo.services.context import Context

TOKEN_PREFIX = "bopo_"
LAST_USED_EVERY_S = 60  # last_used_at is a hint: write it at most this often per token
MIN_PASSWORD = 8
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the user is unknown, so that a wrong name costs as long as a
    wrong password. Made at the first sign-in, not at import: commands never pay for it."""
    return _hasher.hash("not a password anyone has")


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    name: str
    role: Role
    active: bool
    has_password: bool
    created_at: datetime
    disabled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TokenView:
    id: int
    user: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just made: `secret` is shown this once and never stored."""

    view: TokenView
    secret: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as the API sees them."""

    user_id: int
    name: str
    role: Role
    token_id: int | None = None

    @property
    def actor(self) -> str:
        return f"api:{self.name}"


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _check_user(name: str, role: str, password: str | None) -> tuple[str, Role]:
    problems = []
    name = name.strip()
    if not _NAME.match(name):
        problems.append(
            FieldError(
                "name", "1 to 64 letters, digits or . _ @ -, starting with a letter or digit"
            )
        )
    try:
        parsed = Role(role)
    except ValueError:
        problems.append(FieldError("role", f"must be one of {', '.join(r.value for r in Role)}"))
        parsed = Role.VIEWER
    if password is not None and len(password) < MIN_PASSWORD:
        problems.append(FieldError("password", f"must be at least {MIN_PASSWORD} characters"))
    if problems:
        raise InvalidInput(problems)
    return name, parsed


def user_view(row: Any) -> UserView:
    return UserView(
        row.id,
        row.name,
        Role(row.role),
        row.disabled_at is None,
        row.password_hash is not None,
        row.created_at,
        row.disabled_at,
    )


def add_user(
    ctx: Context, name: str, role: str, *, password: str | None = None, actor: str
) -> UserView:
    """Add a user; without a password they can only use API tokens."""
    name, parsed = _check_user(name, role, password)
    hashed = _hasher.hash(password) if password is not None else None
    now = ctx.clock()
    with ctx.db.write() as conn:
        if conn.scalar(select(User.id).where(User.name == name)) is not None:
            raise Conflict(f"user {name!r} exists already")
        user_id = conn.scalar(
            insert(User)
            .values(name=name, role=parsed.value, password_hash=hashed, created_at=now)
            .returning(User.id)
        )
        assert user_id is not None
        record_audit(
            conn, [event(now, actor, "user.create", "user", user_id, None, {"role": parsed})]
        )
    return UserView(user_id, name, parsed, True, hashed is not None, now)


def list_users(ctx: Context) -> list[UserView]:
    with ctx.db.read() as conn:
        return [user_view(u) for u in conn.execute(select(User).order_by(User.name))]


def _user_row(conn: Connection, name: str) -> Any:
    row = conn.execute(select(User).where(User.name == name)).first()
    if row is None:
        raise NotFound("user", name)
    return row


def disable_user(ctx: Context, name: str, *, actor: str) -> UserView:
    """Disable a user: their password, every token and every web session stop working;
    history stays."""
    now = ctx.clock()
    with ctx.db.write() as conn:
        row = _user_row(conn, name)
        if row.disabled_at is not None:
            return user_view(row)
        conn.execute(update(User).where(User.id == row.id).values(disabled_at=now))
        _end_sessions(conn, row.id, now)
        record_audit(
            conn,
            [
                event(
                    now, actor, "user.disable", "user", row.id, {"active": True}, {"active": False}
                )
            ],
        )
        return user_view(_user_row(conn, name))


def login(ctx: Context, name: str, password: str) -> UserView:
    """Check a user name and password (for sessions in the web UI)."""
    with ctx.db.read() as conn:
        row = conn.execute(select(User).where(User.name == name.strip())).first()
    stored = row.password_hash if row is not None else None
    try:
        _hasher.verify(stored or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        raise AuthenticationFailed() from None
    if row is None or stored is None or row.disabled_at is not None:
        raise AuthenticationFailed()
    if _hasher.check_needs_rehash(stored):  # the hashing parameters were raised since
        with ctx.db.write() as conn:
            conn.execute(
                update(User).where(User.id == row.id).values(password_hash=_hasher.hash(password))
            )
    return user_view(row)


def set_password(ctx: Context, name: str, password: str, *, actor: str) -> UserView:
    """Give a user a new password; every web session of theirs ends (a session opened
    with the old password, perhaps by whoever knew it, does not outlive it)."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput([FieldError("password", f"must be at least {MIN_PASSWORD} characters")])
    hashed = _hasher.hash(password)
    now = ctx.clock()
    with ctx.db.write() as conn:
        row = _user_row(conn, name)
        conn.execute(update(User).where(User.id == row.id).values(password_hash=hashed))
        ended = _end_sessions(conn, row.id, now)
        record_audit(
            conn,
            [event(now, actor, "user.password", "user", row.id, None, {"sessions_ended": ended})],
        )
        return user_view(_user_row(conn, name))


def _end_sessions(conn: Connection, user_id: int, now: datetime) -> int:
    """End every live web session of a user, in the caller's transaction; how many."""
    ended = conn.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return ended.rowcount


def _token_view(row: Any, user: str) -> TokenView:
    return TokenView(
        row.id, user, row.name, row.prefix, row.created_at, row.revoked_at, row.last_used_at
    )


def create_token(
    ctx: Context, user: str, *, name: str = "api", actor: str, secret: str | None = None
) -> NewToken:
    """Make a token for a user; the secret is in the result and nowhere else.

    `secret` is for fixed, well-known tokens (the demo login) only.
    """
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput([FieldError("name", "must be 1 to 100 characters")])
    secret = secret or TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = ctx.clock()
    with ctx.db.write() as conn:
        owner = _user_row(conn, user)
        if owner.disabled_at is not None:
            raise Conflict(f"user {user!r} is disabled")
        token_id = conn.scalar(
            insert(ApiToken)
            .values(
                user_id=owner.id,
                name=name,
                token_hash=hash_token(secret),
                prefix=secret[: len(TOKEN_PREFIX) + 6],
                created_at=now,
            )
            .returning(ApiToken.id)
        )
        assert token_id is not None
        record_audit(
            conn,
            [event(now, actor, "token.create", "api_token", token_id, None, {"user": owner.name})],
        )
        row = conn.execute(select(ApiToken).where(ApiToken.id == token_id)).one()
        return NewToken(_token_view(row, owner.name), secret)


def list_tokens(ctx: Context, user: str | None = None) -> list[TokenView]:
    stmt = select(ApiToken, User.name.label("user_name")).join(User, User.id == ApiToken.user_id)
    if user is not None:
        stmt = stmt.where(User.name == user)
    with ctx.db.read() as conn:
        return [_token_view(r, r.user_name) for r in conn.execute(stmt.order_by(ApiToken.id))]


def revoke_token(ctx: Context, token_id: int, *, actor: str) -> TokenView:
    """Revoke a token for good; revoking it again changes nothing."""
    now = ctx.clock()
    with ctx.db.write() as conn:
        row = conn.execute(
            select(ApiToken, User.name.label("user_name"))
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.id == token_id)
        ).first()
        if row is None:
            raise NotFound("API token", token_id)
        owner: str = row.user_name
        if row.revoked_at is None:
            conn.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=now))
            record_audit(
                conn,
                [event(now, actor, "token.revoke", "api_token", token_id, None, {"user": owner})],
            )
            return _token_view(
                conn.execute(select(ApiToken).where(ApiToken.id == token_id)).one(), owner
            )
        return _token_view(row, owner)


def authenticate_token(ctx: Context, secret: str) -> Principal:
    """The user behind a bearer token; AuthenticationFailed if it is unknown or revoked."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise AuthenticationFailed()
    with ctx.db.read() as conn:
        found = conn.execute(
            select(ApiToken.id, ApiToken.last_used_at, User.id, User.name, User.role)
            .join(User, User.id == ApiToken.user_id)
            .where(
                ApiToken.token_hash == hash_token(secret),
                ApiToken.revoked_at.is_(None),
                User.disabled_at.is_(None),
            )
        ).first()
    if found is None:
        raise AuthenticationFailed()
    token_id, last_used, user_id, name, role = found
    now = ctx.clock()
    if last_used is None or (now - last_used).total_seconds() > LAST_USED_EVERY_S:
        with ctx.db.write() as conn:
            conn.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    return Principal(user_id, name, Role(role), token_id)


# The demo login `make run` prints: fixed and well known, for a laptop's demo database only.
DEMO_USER = "demo"
DEMO_PASSWORD = "demo-password"
DEMO_TOKEN = TOKEN_PREFIX + "demo-admin-token-for-the-demo-database-only"


DEMO_LOADED = "demo.load"  # the audit row that marks a database `bopo demo` loaded


def is_demo_database(conn: Connection) -> bool:
    loaded = select(AuditEvent.id).where(AuditEvent.action == DEMO_LOADED).limit(1)
    return conn.scalar(loaded) is not None


def ensure_demo_login(ctx: Context, *, actor: str = "demo") -> tuple[str, str, str]:
    """Create the demo admin and its token once; return (user, password, token).

    Only on a database that `bopo demo` loaded: anywhere else a well-known admin
    password and token would be a door left open.
    """
    with ctx.db.read() as conn:
        if not is_demo_database(conn):
            raise Conflict(
                "this database was not loaded by `bopo demo`: no demo login here "
                "(add users with `bopo users add NAME --role ROLE`)"
            )
        have_user = conn.scalar(select(User.id).where(User.name == DEMO_USER)) is not None
        have_token = (
            conn.scalar(select(ApiToken.id).where(ApiToken.token_hash == hash_token(DEMO_TOKEN)))
            is not None
        )
    if not have_user:
        add_user(ctx, DEMO_USER, Role.ADMIN, password=DEMO_PASSWORD, actor=actor)
    if not have_token:
        create_token(ctx, DEMO_USER, name="demo", actor=actor, secret=DEMO_TOKEN)
    return DEMO_USER, DEMO_PASSWORD, DEMO_TOKEN
