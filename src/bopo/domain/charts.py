"""The dashboard's two charts as plain figures: how long worklist lines have waited, and
what is due from suppliers week by week. The database counts into these buckets; the
page draws them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    lines: int
    units: int


# Waiting at least this many days (and less than the next bucket's).
AGE_BUCKETS: tuple[tuple[int, str], ...] = (
    (0, "under a day"),
    (1, "1-2 days"),
    (3, "3-6 days"),
    (7, "1-2 weeks"),
    (14, "2-4 weeks"),
    (28, "4 weeks or more"),
)


def age_limits(now: datetime) -> list[datetime]:
    """Bucket i holds the lines waiting since after `limits[i]` (and not after
    `limits[i-1]`); the last bucket, every line waiting longer."""
    return [now - timedelta(days=days) for days, _ in AGE_BUCKETS[1:]]


def week_starts(today: date, weeks: int) -> list[date]:
    """The Mondays of this week and the `weeks - 1` after it; then one more, the end."""
    monday = today - timedelta(days=today.weekday())
    return [monday + timedelta(weeks=i) for i in range(weeks + 1)]


def week_labels(today: date, weeks: int) -> list[str]:
    """ "overdue", "this week", "w/c 14 Dec" ..., "later", "no date": the supply chart's bars."""
    mondays = week_starts(today, weeks)[1:-1]
    return [
        "overdue",
        "this week",
        *(f"w/c {m.day} {m:%b}" for m in mondays),
        "later",
        "no date",
    ]


def due_bucket(due: date | None, today: date, mondays: list[date]) -> int:
    """The supply chart's bar of a due date (week_labels' index): overdue, the week of
    each of `mondays` but the last (the end), later, no date."""
    if due is None:
        return len(mondays) + 1
    if due < today:
        return 0
    return next((i for i, monday in enumerate(mondays[1:], start=1) if due < monday), len(mondays))


def bars(labels: list[str], counted: dict[int, tuple[int, int]]) -> tuple[Bar, ...]:
    """Every bucket in order, the empty ones at zero: (lines, units) by bucket index."""
    return tuple(Bar(label, *counted.get(i, (0, 0))) for i, label in enumerate(labels))
