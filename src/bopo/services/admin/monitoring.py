"""What monitoring asks of the database: is it there, and how the work stands."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text

from bopo.db.migrate import current_revision, head_revision, known_revisions
from bopo.db.models import Association, PendingEmail, SalesOrder, SoLine
from bopo.db.queries import pairs
from bopo.services.context import Context


def database_problem(ctx: Context) -> str | None:
    """None when the database answers; else what went wrong, in one line."""
    try:
        with ctx.db.read() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not healthy", whatever its kind
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


@functools.cache
def _head() -> str | None:
    return head_revision()  # the code's newest schema: fixed for the life of the process


@functools.cache
def _known() -> frozenset[str]:
    return known_revisions()


@dataclass(frozen=True, slots=True)
class Readiness:
    problem: str | None  # why this node cannot serve, in one line; None: it can
    schema: str = "current"  # or "newer": migrated by a newer bopo during a rolling upgrade


def readiness(ctx: Context) -> Readiness:
    """Whether this node can serve: the database answers and has this code's schema.

    A schema *behind* the code (or none) is not ready: run `bopo init`. A schema this
    code does not know is a newer release's, migrated during a rolling upgrade; bopo's
    migrations only add within a release (docs/operations.md), so this node still
    works on it and stays ready until it is replaced.
    """
    try:
        with ctx.db.read() as conn:
            found = current_revision(conn)
    except Exception as exc:  # any failure means "not ready", whatever its kind
        return Readiness(f"database not reachable: {type(exc).__name__}: {_first_line(exc)}")
    wanted = _head()
    if found == wanted:
        return Readiness(None)
    if found is not None and found not in _known():
        return Readiness(None, schema="newer")
    found = found or "not set up"
    return Readiness(f"database schema is {found}, this bopo needs {wanted}: run `bopo init`")


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else ""


@dataclass(frozen=True, slots=True)
class WorkCounts:
    """Counts across every worker and every way in (API, imports, CLI)."""

    orders: dict[str, int] = field(default_factory=dict)  # by sales-order status
    associations: dict[str, int] = field(default_factory=dict)  # by state
    worklist: dict[str, int] = field(default_factory=dict)  # lines waiting, by reason
    emails: dict[str, int] = field(default_factory=dict)  # by state
    oldest_pending_email: datetime | None = None  # created_at of the oldest one waiting


def work_counts(ctx: Context) -> WorkCounts:
    with ctx.db.read() as conn:
        return WorkCounts(
            orders=pairs(
                conn.execute(select(SalesOrder.status, func.count()).group_by(SalesOrder.status))
            ),
            associations=pairs(
                conn.execute(select(Association.state, func.count()).group_by(Association.state))
            ),
            worklist=pairs(
                conn.execute(
                    select(SoLine.backorder_reason, func.count())
                    .where(SoLine.backorder_reason.is_not(None))
                    .group_by(SoLine.backorder_reason)
                )
            ),
            emails=pairs(
                conn.execute(select(PendingEmail.state, func.count()).group_by(PendingEmail.state))
            ),
            oldest_pending_email=conn.scalar(
                select(func.min(PendingEmail.created_at)).where(PendingEmail.state == "pending")
            ),
        )
