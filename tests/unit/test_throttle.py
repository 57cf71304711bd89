"""Failed sign-ins: a few are free, then each further one doubles the wait (the rule)."""

from __future__ import annotations

from bopo.web.throttle import wait_after


def test_a_few_failures_cost_nothing_then_each_one_doubles_the_wait_up_to_the_longest() -> None:
    waits = [wait_after(n, 3, first_wait=30, longest=100) for n in range(1, 8)]
    assert waits == [0, 0, 30, 60, 100, 100, 100]  # after the 3rd failure, the next try waits


def test_after_five_failures_of_a_name_the_wait_is_30_s_doubling_to_15_minutes() -> None:
    waits = [wait_after(n, 5) for n in range(1, 12)]
    assert waits == [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]


def test_the_try_after_the_thirtieth_failure_from_an_address_waits() -> None:
    assert wait_after(29, 30) == 0
    assert wait_after(30, 30) == 30


def test_a_guesser_who_never_stops_keeps_waiting_the_longest() -> None:
    assert wait_after(2000, 5) == 900
    assert wait_after(10**9, 5) == 900
