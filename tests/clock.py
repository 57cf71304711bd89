"""The tests' clock: time is an input, so every test runs on the same dates.

It starts at a fixed instant on the tests' today (`tests.helpers.TODAY`) and moves only
when a test moves it, or, ticking, with the real seconds that pass (leases, ordering by
time and waits keep working), never with the calendar the machine is on.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

TODAY = date(2026, 11, 25)
T0 = datetime(TODAY.year, TODAY.month, TODAY.day, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime = T0, *, ticking: bool = False) -> None:
        self._start = start
        self._ticking = ticking
        self._since = time.monotonic()

    @property
    def now(self) -> datetime:
        if not self._ticking:
            return self._start
        return self._start + timedelta(seconds=time.monotonic() - self._since)

    @now.setter
    def now(self, value: datetime) -> None:
        self._start, self._since = value, time.monotonic()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move on by a timedelta's keywords: advance(hours=2), advance(seconds=61)."""
        self.now += timedelta(**delta)
