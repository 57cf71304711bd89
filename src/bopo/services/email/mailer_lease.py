"""A claimed batch's lease, kept alive while the mailer works through it (see
bopo.services.email.mailer)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import update

from bopo.db.models import PendingEmail
from bopo.domain.statuses import EmailState
from bopo.services.context import Context
from bopo.services.email.mailer_claims import Claimed

log = logging.getLogger("bopo.services.email.mailer")


class Lease:
    """Keeps a claimed batch's lease alive while the mailer works through it.

    A thread renews the lease of the emails still held every third of its
    length; `holds()` says whether one may be sent: still held by this mailer,
    with at least a tenth of the lease left as last renewed. A renewal that
    finds an email gone (taken over after this mailer fell silent) marks it
    lost: it is not sent.
    """

    def __init__(self, ctx: Context, me: str, batch: Sequence[Claimed]) -> None:
        self._ctx = ctx
        self._me = me
        self._length = timedelta(seconds=ctx.settings.email.lease_seconds)
        self._margin = self._length / 10
        self._until = min(e.lease_until for e in batch)
        self._held = {e.id for e in batch}
        self._lost: set[int] = set()
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bopo-mailer-lease", daemon=True)

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def holds(self, email_id: int) -> bool:
        with self._guard:
            return (
                email_id in self._held
                and email_id not in self._lost
                and self._ctx.clock() < self._until - self._margin
            )

    def lost(self, email_id: int) -> bool:
        with self._guard:
            return email_id in self._lost

    def done(self, email_id: int) -> None:
        with self._guard:
            self._held.discard(email_id)

    def _run(self) -> None:
        every = self._length.total_seconds() / 3
        while not self._stop.wait(every):
            try:
                self._renew()
            except Exception:  # the database is away: holds() stops the sending in time
                log.warning("mailer %s could not renew its lease", self._me, exc_info=True)

    def _renew(self) -> None:
        with self._guard:
            ids = sorted(self._held - self._lost)
        if not ids:
            return
        until = self._ctx.clock() + self._length
        with self._ctx.db.write() as conn:
            kept = set(
                conn.scalars(
                    update(PendingEmail)
                    .where(
                        PendingEmail.id.in_(ids),
                        PendingEmail.state == EmailState.SENDING.value,
                        PendingEmail.claimed_by == self._me,
                    )
                    .values(lease_until=until)
                    .returning(PendingEmail.id)
                )
            )
        with self._guard:
            gone = (set(ids) & self._held) - kept  # not finished here, so taken over
            if gone:
                log.warning("emails %s were taken over by another mailer", sorted(gone))
            self._lost |= gone
            self._until = until
