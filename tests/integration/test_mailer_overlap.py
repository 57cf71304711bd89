"""The mailer offers the next message while the last one's result is being committed,
and ends it only once that commit has returned: at most one accepted message is ever
unrecorded, whatever stops the mailer in between."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bopo.db.models import PendingEmail
from bopo.services.context import Context
from bopo.services.email import mailer, mailer_results
from tests.mailing import mailer_context, queue_emails
from tests.smtp_sink import Sink, SmtpServer

ROOT = Path(__file__).parents[2]


def _states(ctx: Context) -> dict[str, str]:
    """Message-ID -> state."""
    with ctx.db.read() as conn:
        return dict(conn.execute(select(PendingEmail.message_id, PendingEmail.state)).all())


def _sent(ctx: Context) -> int:
    with ctx.db.read() as conn:
        query = select(func.count()).where(PendingEmail.state == "sent")
        return int(conn.scalar(query.select_from(PendingEmail)) or 0)


@dataclass
class Witness(Sink):
    """Before accepting each message, counts the emails recorded sent: every message
    accepted before this one must be, as the mailer ends a message only once the last
    one's result is committed."""

    ctx: Context | None = None
    unrecorded: list[int] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        assert self.ctx is not None
        accepted = len(self.ids())
        self.unrecorded.append(accepted - _sent(self.ctx))
        return await super().handle_DATA(server, session, envelope)


def test_each_message_is_accepted_only_once_the_last_ones_result_is_kept(
    db_url: str,
) -> None:
    sink = Witness(parse=False)
    server = SmtpServer(sink).start()
    ctx = mailer_context(db_url, server.port, batch_size=20)
    sink.ctx = ctx
    try:
        queue_emails(ctx, 45)
        summary = mailer.send_emails(ctx)
    finally:
        server.stop()
    states = _states(ctx)
    ctx.db.dispose()

    assert summary.sent == 45
    assert sink.unrecorded == [0] * 45
    assert Counter(sink.ids()) == Counter(list(states))  # each once, with its Message-ID
    assert set(states.values()) == {"sent"}


def test_a_result_that_cannot_be_kept_stops_the_mailer_before_the_next_message_ends(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = SmtpServer(Sink(parse=False)).start()
    ctx = mailer_context(db_url, server.port, batch_size=10, lease_seconds=60)
    record = mailer_results.ResultWriter._record
    kept: list[int] = []

    def record_until_the_database_goes(self: mailer_results.ResultWriter, email_id: int) -> None:
        if len(kept) == 2:
            raise OperationalError("UPDATE", {}, Exception("the database went away"))
        record(self, email_id)
        kept.append(email_id)

    monkeypatch.setattr(mailer_results.ResultWriter, "_record", record_until_the_database_goes)
    try:
        queue_emails(ctx, 6)
        with pytest.raises(OperationalError):
            mailer.send_emails(ctx)
        delivered = server.sink.ids()
        states = _states(ctx)

        # The fourth message was offered while the third's result failed: never ended.
        assert len(delivered) == 3
        assert [states[m] for m in delivered] == ["sent", "sent", "sending"]
        assert list(states.values()).count("sending") == 6 - 2

        # The database is back; once the lease ends another mailer sends the rest, the
        # third again (the one accepted and not recorded), the others once.
        monkeypatch.setattr(mailer_results.ResultWriter, "_record", record)
        ctx.clock.advance(seconds=61)  # type: ignore[attr-defined]
        assert mailer.send_emails(ctx).sent == 4
    finally:
        server.stop()
    states = _states(ctx)
    ctx.db.dispose()
    assert set(states.values()) == {"sent"}
    assert Counter(server.sink.ids()) == Counter({**dict.fromkeys(states, 1), delivered[2]: 2})


@dataclass
class KillsAtRecipient(Sink):
    """SIGKILLs the mailer process when it names the recipient of message `at` (1-based):
    between that message's envelope and its content."""

    at: int = 3
    victim: int | None = None
    rcpts: int = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.rcpts += 1
        if self.rcpts == self.at:
            while self.victim is None:
                await asyncio.sleep(0.01)
            os.kill(self.victim, signal.SIGKILL)
            await asyncio.sleep(0.5)  # the mailer is gone before it hears an answer
        return await super().handle_RCPT(server, session, envelope, address, options)


def _mailer(db_url: str, port: int, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOPO_")}
    env |= {
        "PYTHONPATH": str(ROOT),  # tests.pinned: the mailer runs on the tests' clock
        "BOPO_DATABASE__URL": db_url,
        "BOPO_SMTP__HOST": "127.0.0.1",
        "BOPO_SMTP__PORT": str(port),
        "BOPO_EMAIL__LEASE_SECONDS": "2",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.pinned", "emails", "send", "--json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_a_mailer_killed_between_a_messages_envelope_and_content_sends_it_once_later(
    db_url: str, tmp_path: Path
) -> None:
    sink = KillsAtRecipient(parse=False)
    server = SmtpServer(sink).start()
    ctx = mailer_context(db_url, server.port, lease_seconds=2)
    try:
        queue_emails(ctx, 5)
        victim = _mailer(db_url, server.port, tmp_path)
        sink.victim = victim.pid
        victim.wait(timeout=60)
        assert victim.returncode == -signal.SIGKILL
        first = server.sink.ids()
        assert len(first) == 2  # the third was never ended

        deadline = time.monotonic() + 30
        while set(_states(ctx).values()) != {"sent"} and time.monotonic() < deadline:
            time.sleep(0.5)  # until the killed mailer's lease ends
            mailer.send_emails(ctx)
    finally:
        server.stop()
    states = _states(ctx)
    ctx.db.dispose()
    assert set(states.values()) == {"sent"}
    delivered = Counter(server.sink.ids())
    assert set(delivered) == set(states)  # nothing lost
    twice = [m for m, n in delivered.items() if n > 1]
    assert twice in ([], [first[1]])  # at most the second, if its result was not yet kept
