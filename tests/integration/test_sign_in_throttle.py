"""The sign-in throttle's counts, kept in the database: shared by every node, kept
across restarts, forgiven after a quiet spell, cleared by a success."""

from __future__ import annotations

from sqlalchemy import func, select

from bopo.db.models import SignInFailure
from bopo.services.context import Context
from bopo.web.throttle import SignInThrottles
from tests.clock import Clock


def on_a_still_clock(ctx: Context) -> Clock:
    clock = Clock()
    ctx.clock = clock
    return clock


def rows(ctx: Context) -> int:
    with ctx.db.read() as conn:
        return int(conn.scalar(select(func.count()).select_from(SignInFailure)) or 0)


def test_each_failure_after_the_free_ones_doubles_the_wait_up_to_the_longest(ctx: Context) -> None:
    clock = on_a_still_clock(ctx)
    throttles = SignInThrottles(ctx, names_free=3, addresses_free=100, longest=100)
    waits = []
    for _ in range(7):
        throttles.failed("ada", "10.0.0.1")
        waits.append(throttles.wait("ada", "10.0.0.1"))
    assert waits == [0, 0, 30, 60, 100, 100, 100]  # after the 3rd failure, the next try waits
    clock.advance(seconds=99)
    assert throttles.wait("ada", "10.0.0.1") == 1
    clock.advance(seconds=1)
    assert throttles.wait("ada", "10.0.0.1") == 0
    assert throttles.wait("bob", "10.0.0.2") == 0  # another name, another address


def test_the_try_after_the_fifth_failure_for_a_name_waits_and_a_success_clears_it(
    ctx: Context,
) -> None:
    clock = on_a_still_clock(ctx)
    throttles = SignInThrottles(ctx)
    for _ in range(4):
        throttles.failed("ada", "10.0.0.1")
    assert throttles.wait("ada", "10.0.0.1") == 0  # the 5th try is checked
    throttles.failed("ada", "10.0.0.1")
    assert throttles.wait("ada", "10.0.0.1") == 30  # the 6th waits
    assert throttles.wait("bob", "10.0.0.1") == 0  # a colleague at the same office
    clock.advance(seconds=30)
    throttles.succeeded("ada", "10.0.0.1")
    throttles.failed("ada", "10.0.0.1")
    assert throttles.wait("ada", "10.0.0.1") == 0  # counting starts again


def test_the_try_after_the_thirtieth_failure_from_an_address_waits(ctx: Context) -> None:
    on_a_still_clock(ctx)
    throttles = SignInThrottles(ctx)
    for n in range(29):
        throttles.failed(f"user{n}", "10.0.0.2")
    assert throttles.wait("carol", "10.0.0.2") == 0  # the 30th try is checked
    throttles.failed("user29", "10.0.0.2")
    assert throttles.wait("carol", "10.0.0.2") == 30  # the 31st waits
    assert throttles.wait("carol", "10.0.0.3") == 0


def test_fifteen_quiet_minutes_forgive_and_the_forgiven_rows_are_deleted(ctx: Context) -> None:
    clock = on_a_still_clock(ctx)
    throttles = SignInThrottles(ctx)
    for _ in range(5):
        throttles.failed("ada", "10.0.0.1")
    assert rows(ctx) == 2  # the name and the address
    clock.advance(minutes=15, seconds=1)
    throttles.failed("bob", "10.0.0.9")
    assert rows(ctx) == 2  # ada's and 10.0.0.1's are gone: bob's and 10.0.0.9's
    throttles.failed("ada", "10.0.0.1")
    assert throttles.wait("ada", "10.0.0.1") == 0  # the first failure of a new run


def test_names_are_kept_as_given_and_a_long_one_is_cut_to_the_column(ctx: Context) -> None:
    on_a_still_clock(ctx)
    throttles = SignInThrottles(ctx, names_free=1)
    long = "ß" * 300
    throttles.failed(long, "2001:db8::1")
    assert throttles.wait(long, "2001:db8::2") == 30
    assert throttles.wait("ß" * 200, "2001:db8::2") == 30  # the same key, cut
