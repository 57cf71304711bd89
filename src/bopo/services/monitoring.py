"""What monitoring asks of the database: is it there, and how the work stands."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select, text

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


@dataclass(frozen=True, slots=True)
class WorkCounts:
    """Counts across every worker and every way in (API, imports, CLI)."""

    orders: dict[str, int] = field(default_factory=dict)  # by sales-order status
    associations: dict[str, int] = field(default_factory=dict)  # by state
    worklist: dict[str, int] = field(default_factory=dict)  # lines waiting, by reason
    emails: dict[str, int] = field(default_factory=dict)  # by state


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
        )
