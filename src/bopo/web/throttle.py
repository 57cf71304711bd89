"""Failed sign-ins slow down whoever makes them: per user name and per client address.

After `free` failures a key must wait before its next try (the try after the
`free`th failure is the first to wait), the wait doubling with each further
failure up to `longest`; a success clears it. Every
name counts, known or not, so the throttle does not tell which names exist.
A throttled try is refused before the password is checked, which also spares
the CPU its hashing. Kept per worker process, in memory: a restart or another
worker starts afresh, which bounds a guesser's rate without a table to keep.
Time is the services' clock in seconds (`ctx.clock`), so tests move it as
they move every other rule's "now".
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

FIRST_WAIT = 30.0  # seconds, after the last free failure
LONGEST_WAIT = 15 * 60.0
KEYS_KEPT = 10_000  # the least recently failed are forgotten first


@dataclass(slots=True)
class _Failures:
    count: int
    last: float  # seconds, from the clock
    until: float  # no try before this


class LoginThrottle:
    """Failures per key (a user name, or a client address)."""

    def __init__(
        self,
        free: int,
        *,
        first_wait: float = FIRST_WAIT,
        longest: float = LONGEST_WAIT,
        clock: Callable[[], float],
    ) -> None:
        self.free, self.first_wait, self.longest, self.clock = free, first_wait, longest, clock
        self._keys: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()  # sign-ins run on several threads

    def wait(self, key: str) -> float:
        """Seconds before this key may try again; 0 when it may now."""
        with self._lock:
            found = self._keys.get(key)
        return 0.0 if found is None else max(0.0, found.until - self.clock())

    def failed(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            f = self._keys.pop(key, None)
            if f is None or now - f.last > self.longest:  # quiet for long: forgiven
                f = _Failures(0, now, now)
            f.count += 1
            f.last = now
            if f.count >= self.free:
                doublings = min(f.count - self.free, 32)  # long past `longest` by then
                f.until = now + min(self.longest, self.first_wait * 2**doublings)
            self._keys[key] = f
            if len(self._keys) > KEYS_KEPT:
                self._keys.popitem(last=False)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)


@dataclass(frozen=True, slots=True)
class SignInThrottles:
    """A person mistypes a few times; an office behind one address, rather more."""

    names: LoginThrottle
    addresses: LoginThrottle

    @classmethod
    def default(cls, clock: Callable[[], float]) -> SignInThrottles:
        return cls(LoginThrottle(5, clock=clock), LoginThrottle(30, clock=clock))

    def wait(self, name: str, address: str) -> float:
        return max(self.names.wait(name), self.addresses.wait(address))

    def failed(self, name: str, address: str) -> None:
        self.names.failed(name)
        self.addresses.failed(address)

    def succeeded(self, name: str, address: str) -> None:
        self.names.succeeded(name)
        self.addresses.succeeded(address)
