"""Who may sign in: users, their API tokens, web sessions, and failed sign-ins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bopo.db.base import Base, UTCDateTime


class User(Base):
    """A person or system that signs in; disabled users keep their history."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'operator', 'viewer')", name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))  # None: tokens only
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A bearer token, stored only as its SHA-256; `prefix` lets people tell them apart."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A web UI session: signed in, not signed out. The cookie carries a random secret,
    the table only its SHA-256 (`id`), so neither alone lets anyone in. Signing out
    ends one; a password change or a disabled user ends all of that user's."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)  # to the minute
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SignInFailure(Base):
    """Failed sign-ins of one user name (case-folded) or one client address, shared by
    every web node (bopo.web.throttle). A row quiet for the longest wait is forgiven and
    deleted at the next sign-in."""

    __tablename__ = "sign_in_failures"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # name | address
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    wait_until: Mapped[datetime] = mapped_column(UTCDateTime)  # no try before this
