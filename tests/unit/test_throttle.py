"""Failed sign-ins: a few are free, then each further one doubles the wait."""

from __future__ import annotations

from bopo.web.throttle import LoginThrottle, SignInThrottles


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_few_failures_cost_nothing_then_each_one_doubles_the_wait_up_to_the_longest() -> None:
    clock = Clock()
    throttle = LoginThrottle(3, first_wait=30, longest=100, clock=clock)
    waits = []
    for _ in range(7):
        throttle.failed("ada")
        waits.append(throttle.wait("ada"))
    assert waits == [0, 0, 30, 60, 100, 100, 100]  # after the 3rd failure, the next try waits
    clock.now += 99
    assert throttle.wait("ada") == 1
    clock.now += 1
    assert throttle.wait("ada") == 0
    assert throttle.wait("bob") == 0  # another key is not held up


def test_a_success_clears_the_failures() -> None:
    throttle = LoginThrottle(2, first_wait=30, clock=Clock())
    throttle.failed("ada")
    throttle.failed("ada")
    assert throttle.wait("ada") == 30
    throttle.succeeded("ada")
    assert throttle.wait("ada") == 0
    throttle.failed("ada")
    assert throttle.wait("ada") == 0  # counting starts again


def test_failures_long_ago_are_forgiven() -> None:
    clock = Clock()
    throttle = LoginThrottle(2, first_wait=30, longest=600, clock=clock)
    throttle.failed("ada")
    throttle.failed("ada")
    clock.now += 601
    throttle.failed("ada")
    assert throttle.wait("ada") == 0  # the first failure of a new run, not the third


def test_the_try_after_the_fifth_failure_for_a_name_waits_and_not_one_try_later() -> None:
    throttles = SignInThrottles.default(clock=Clock())
    for _ in range(4):
        throttles.failed("ada", "10.0.0.1")
    assert throttles.wait("ada", "10.0.0.1") == 0  # the 5th try is checked
    throttles.failed("ada", "10.0.0.1")
    assert throttles.wait("ada", "10.0.0.1") == 30  # the 6th waits


def test_the_try_after_the_thirtieth_failure_from_an_address_waits() -> None:
    throttles = SignInThrottles.default(clock=Clock())
    for n in range(29):
        throttles.failed(f"user{n}", "10.0.0.2")
    assert throttles.wait("carol", "10.0.0.2") == 0  # the 30th try is checked
    throttles.failed("user29", "10.0.0.2")
    assert throttles.wait("carol", "10.0.0.2") == 30  # the 31st waits
    assert throttles.wait("carol", "10.0.0.3") == 0


def test_one_address_gets_more_free_failures_than_one_name() -> None:
    throttles = SignInThrottles.default(clock=Clock())
    for _ in range(6):
        throttles.failed("ada", "10.0.0.1")
    assert throttles.wait("ada", "10.0.0.1") > 0
    assert throttles.wait("bob", "10.0.0.1") == 0  # a colleague at the same office
    for n in range(31):
        throttles.failed(f"user{n}", "10.0.0.2")
    assert throttles.wait("carol", "10.0.0.2") > 0  # one address trying many names


def test_a_guesser_who_never_stops_keeps_waiting_the_longest() -> None:
    clock = Clock()
    throttle = LoginThrottle(5, first_wait=30, longest=900, clock=clock)
    for _ in range(2000):  # each try made as soon as it is allowed
        clock.now += throttle.wait("admin")
        throttle.failed("admin")
    assert throttle.wait("admin") == 900
