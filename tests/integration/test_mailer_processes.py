"""Mailers as separate processes: running side by side, and killed mid-batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from bopo.db.models import PendingEmail
from bopo.services.context import Context
from bopo.services.email import mailer
from bopo.services.orders.intake import take_orders
from tests.helpers import STARTUP_S, day, given_po, order
from tests.mailing import mailer_context, queue_emails
from tests.smtp_sink import Sink, SmtpServer

ROOT = Path(__file__).parents[2]


def _mailer(db_url: str, port: int, tmp_path: Path, **email: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOPO_")}
    env |= {
        "PYTHONPATH": str(ROOT),  # for tests.pinned: the mailer runs on the tests' clock
        "BOPO_DATABASE__URL": db_url,
        "BOPO_SMTP__HOST": "127.0.0.1",
        "BOPO_SMTP__PORT": str(port),
    }
    env |= {f"BOPO_EMAIL__{k.upper()}": v for k, v in email.items()}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.pinned", "emails", "send", "--json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _sent_ids(ctx: Context) -> dict[int, tuple[str, str, str | None]]:
    with ctx.db.read() as conn:
        return {
            r.id: (r.state, r.message_id, r.claimed_by)
            for r in conn.execute(
                select(
                    PendingEmail.id,
                    PendingEmail.state,
                    PendingEmail.message_id,
                    PendingEmail.claimed_by,
                )
            )
        }


@pytest.mark.postgres_only
@pytest.mark.slow
def test_two_mailers_at_once_deliver_each_of_a_thousand_emails_exactly_once(
    db_url: str, tmp_path: Path
) -> None:
    server = SmtpServer().start()
    ctx = mailer_context(db_url, server.port)
    try:
        queue_emails(ctx, 1200)
        mailers = [_mailer(db_url, server.port, tmp_path, batch_size="20") for _ in range(2)]
        for m in mailers:
            _, stderr = m.communicate(timeout=120)
            assert m.returncode == 0, stderr.decode()
    finally:
        server.stop()
    emails = _sent_ids(ctx)
    ctx.db.dispose()
    assert len(emails) == 1200
    assert {state for state, _, _ in emails.values()} == {"sent"}
    delivered = Counter(server.sink.ids())
    assert set(delivered) == {mid for _, mid, _ in emails.values()}
    assert set(delivered.values()) == {1}  # each exactly once
    assert len({by for _, _, by in emails.values()}) == 2  # both mailers took a share


@pytest.mark.slow
def test_a_mailer_killed_mid_batch_leaves_nothing_lost_and_at_most_one_sent_twice(
    db_url: str, tmp_path: Path
) -> None:
    server = SmtpServer(Sink(delay=0.004)).start()
    ctx = mailer_context(db_url, server.port, lease_seconds=2)
    try:
        queue_emails(ctx, 400)
        victim = _mailer(db_url, server.port, tmp_path, batch_size="50", lease_seconds="2")
        deadline = time.monotonic() + 60
        while len(server.sink.ids()) < 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        assert victim.returncode == -signal.SIGKILL
        assert len(server.sink.ids()) < 400, "the mailer finished before it could be killed"

        # Another mailer runs until everything is out: the killed one's claim expires.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            mailer.send_emails(ctx)
            if {s for s, _, _ in _sent_ids(ctx).values()} == {"sent"}:
                break
            time.sleep(0.5)
    finally:
        server.stop()
    emails = _sent_ids(ctx)
    ctx.db.dispose()
    assert {state for state, _, _ in emails.values()} == {"sent"}
    delivered = Counter(server.sink.ids())
    assert set(delivered) == {mid for _, mid, _ in emails.values()}  # nothing lost
    twice = [mid for mid, n in delivered.items() if n > 1]
    assert len(twice) <= 1  # only the one in flight when it was killed
    assert max(delivered.values()) <= 2


def test_a_looping_mailer_sends_as_emails_come_and_stops_cleanly_on_sigterm(
    db_url: str, tmp_path: Path
) -> None:
    server = SmtpServer().start()
    ctx = mailer_context(db_url, server.port)
    try:
        queue_emails(ctx, 5)
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOPO_")}
        env |= {
            "PYTHONPATH": str(ROOT),
            "BOPO_DATABASE__URL": db_url,
            "BOPO_SMTP__HOST": "127.0.0.1",
            "BOPO_SMTP__PORT": str(server.port),
            "BOPO_SERVER__LOG_FORMAT": "json",
        }
        loop = subprocess.Popen(
            [sys.executable, "-m", "tests.pinned", "emails", "send", "--loop", "--interval", "0.2"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + STARTUP_S
        while len(server.sink.ids()) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        given_po(ctx, "PO-2", ("KETTLE", 5, day(9), "ON ORDER"))
        take_orders(ctx, [order("SO-LATE", ("KETTLE", 1), customer="LATE")], actor="t")
        while len(server.sink.ids()) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        loop.send_signal(signal.SIGTERM)
        _, stderr = loop.communicate(timeout=10)
    finally:
        server.stop()
    emails = _sent_ids(ctx)
    ctx.db.dispose()
    assert loop.returncode == 0, stderr.decode()
    assert len(server.sink.ids()) == 6
    rounds = [json.loads(line) for line in stderr.decode().splitlines()]  # all JSON
    assert sum(r["summary"]["sent"] for r in rounds if r["logger"] == "bopo.mailer") == 6
    assert {state for state, _, _ in emails.values()} == {"sent"}
