"""Failed sign-ins slow down whoever makes them: per user name and per client address.

After `free` failures a key must wait before its next try (the try after the
`free`th failure is the first to wait), the wait doubling with each further
failure up to `longest`; a success clears it, and `longest` without a failure
forgives it. Every name counts, known or not, so the throttle does not tell
which names exist. A throttled try is refused before the password is checked,
which also spares the CPU its hashing.

The counts are kept in the database (`sign_in_failures`, one row per name or
address), so every web node and worker process counts the same failures and a
restart forgets none. A try costs one SELECT; a failure one transaction of a
DELETE (the rows quiet for `longest`: forgiven) and an upsert per key; a success
one DELETE. The rule itself, how long to wait after n failures, is `wait_after`,
a pure function. Time is the services' clock (`ctx.clock`), so tests move it as
they move every other rule's "now".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, and_, case, delete, func, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from bopo.db.base import UTCDateTime
from bopo.db.models import SignInFailure
from bopo.services.context import Context

FIRST_WAIT = 30.0  # seconds, after the last free failure
LONGEST_WAIT = 15 * 60.0
KEY_LENGTH = 200  # as the column; a longer key is cut (names are 64 characters)
NAME, ADDRESS = "name", "address"


def wait_after(
    failures: int, free: int, *, first_wait: float = FIRST_WAIT, longest: float = LONGEST_WAIT
) -> float:
    """Seconds to wait before the next try after `failures` failures in a row."""
    if failures < free:
        return 0.0
    doublings = min(failures - free, 32)  # long past `longest` by then
    return float(min(longest, first_wait * 2**doublings))


@dataclass(frozen=True, slots=True)
class SignInThrottles:
    """A person mistypes a few times (`names_free`); an office behind one address,
    rather more (`addresses_free`)."""

    ctx: Context
    names_free: int = 5
    addresses_free: int = 30
    first_wait: float = FIRST_WAIT
    longest: float = LONGEST_WAIT

    def _keys(self, name: str, address: str) -> ColumnElement[bool]:
        return or_(
            and_(SignInFailure.kind == NAME, SignInFailure.key == name[:KEY_LENGTH]),
            and_(SignInFailure.kind == ADDRESS, SignInFailure.key == address[:KEY_LENGTH]),
        )

    def wait(self, name: str, address: str) -> float:
        """Seconds before this name, from this address, may try again; 0 when it may now."""
        now = self.ctx.clock()
        with self.ctx.db.read() as conn:
            until = conn.scalar(
                select(func.max(SignInFailure.wait_until)).where(self._keys(name, address))
            )
        return 0.0 if until is None else max(0.0, (until - now).total_seconds())

    def failed(self, name: str, address: str) -> None:
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            self._forgive(conn, now)
            self._count(conn, now, NAME, name, self.names_free)
            self._count(conn, now, ADDRESS, address, self.addresses_free)

    def succeeded(self, name: str, address: str) -> None:
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            conn.execute(
                delete(SignInFailure).where(or_(self._keys(name, address), self._quiet_since(now)))
            )

    def _quiet_since(self, now: datetime) -> ColumnElement[bool]:
        return SignInFailure.last_at < now - timedelta(seconds=self.longest)

    def _forgive(self, conn: Connection, now: datetime) -> None:
        conn.execute(delete(SignInFailure).where(self._quiet_since(now)))

    def _count(self, conn: Connection, now: datetime, kind: str, key: str, free: int) -> None:
        """One more failure for the key, in one upsert: the count goes up and the wait is
        the one `wait_after` gives for the new count (every distinct wait, as a CASE)."""

        def until(failures: int) -> datetime:
            return now + timedelta(seconds=self._wait(failures, free))

        def at(moment: datetime) -> ColumnElement[datetime]:
            return literal(moment, UTCDateTime())

        count = SignInFailure.failures + 1
        waits, n = [], free
        while self._wait(n, free) < self.longest:
            waits.append((count == n, at(until(n))))
            n += 1
        wait_until = case((count < free, at(now)), *waits, else_=at(until(n)))
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(SignInFailure).values(
            kind=kind, key=key[:KEY_LENGTH], failures=1, last_at=now, wait_until=until(1)
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[SignInFailure.kind, SignInFailure.key],
                set_={"failures": count, "last_at": now, "wait_until": wait_until},
            )
        )

    def _wait(self, failures: int, free: int) -> float:
        return wait_after(failures, free, first_wait=self.first_wait, longest=self.longest)
