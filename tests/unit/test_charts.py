"""The dashboard charts' buckets, on any calendar day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bopo.domain.charts import (
    AGE_BUCKETS,
    Bar,
    age_limits,
    bars,
    due_bucket,
    week_labels,
    week_starts,
)


def test_weeks_begin_on_monday_whatever_day_today_is() -> None:
    sunday = date(2028, 2, 27)
    assert week_starts(sunday, 2) == [date(2028, 2, 21), date(2028, 2, 28), date(2028, 3, 6)]
    assert week_labels(sunday, 3) == [
        "overdue", "this week", "w/c 28 Feb", "w/c 6 Mar", "later", "no date"
    ]  # fmt: skip
    monday = date(2031, 6, 30)
    assert week_starts(monday, 1) == [monday, monday + timedelta(weeks=1)]
    assert week_labels(monday, 1) == ["overdue", "this week", "later", "no date"]


def test_each_age_limit_is_that_many_days_before_now() -> None:
    now = datetime(2028, 2, 29, 12, tzinfo=UTC)
    limits = age_limits(now)
    assert limits[0] == now - timedelta(days=1)
    assert limits[-1] == now - timedelta(days=28)
    assert len(limits) == len(AGE_BUCKETS) - 1


def test_empty_buckets_are_drawn_at_zero() -> None:
    assert bars(["a", "b", "c"], {1: (2, 5)}) == (Bar("a", 0, 0), Bar("b", 2, 5), Bar("c", 0, 0))


def test_a_due_date_falls_in_its_weeks_bar() -> None:
    wednesday = date(2028, 3, 1)
    mondays = week_starts(wednesday, 2)  # 28 Feb, 6 Mar; the end 13 Mar
    labels = week_labels(wednesday, 2)
    dues = [None, date(2028, 2, 29), wednesday, date(2028, 3, 5), date(2028, 3, 6)]
    dues += [date(2028, 3, 12), date(2028, 3, 13)]
    assert [labels[due_bucket(d, wednesday, mondays)] for d in dues] == [
        "no date", "overdue", "this week", "this week", "w/c 6 Mar", "w/c 6 Mar", "later"
    ]  # fmt: skip
