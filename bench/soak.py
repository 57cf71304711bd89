"""`make soak`: bopo as in production, on one PostgreSQL, while things break.

Two web nodes (`bopo serve`, each with its own INI), two mailers (`bopo emails send
--loop`) and one worker run against one PostgreSQL database; an aiosmtpd sink plays
the mail server. Clients post sales orders over HTTP (loopback) for a bounded time
while this script kills (SIGKILL) and restarts a web node, a mailer and the worker,
and takes the SMTP sink down and brings it back. Afterwards it checks:

- every order the HTTP API accepted is in the database, exactly once;
- every PO line's active links fit within it (and match qty_associated);
- every email was sent, once (at most one resend, with the same Message-ID, per
  killed process that sends mail: a mailer, or the worker's send_emails job);
- no job ran twice for one tick;

and prints orders, client errors, p50/p99, emails, duplicates and times to recover.
Exit code 1 when a check fails.

    make soak                                  # 90 s
    BOPO_SOAK_SECONDS=60 BOPO_SOAK_CLIENTS=4 .venv/bin/python bench/soak.py
    BOPO_BENCH_SUITES=soak make bench          # the same, as a bench suite
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import text
from tests.smtp_sink import Sink, SmtpServer, free_port

from bench.common import WORK, Scale, database
from bopo.config import BackorderSettings, DatabaseSettings, Settings
from bopo.db.engine import Database
from bopo.services.admin import users
from bopo.services.common.inputs import NewPurchaseOrder, NewPurchaseOrderLine, NewStockItem
from bopo.services.context import Context
from bopo.services.email import templates
from bopo.services.supply import catalog, purchasing

SKUS = [f"SOAK-{n:02d}" for n in range(40)]
SECRET_KEY = "soak-" + "k" * 40
TEMPLATE = "Dear {{ customer.name }}, {% for line in lines %}{{ line.sku }} {% endfor %}"


@dataclass
class Node:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bopo", *self.args],
                env=self.env,
                cwd=self.log.parent,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


@dataclass
class Clients:
    ports: list[int]
    token: str
    accepted: dict[str, int] = field(default_factory=dict)  # number -> HTTP status
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    numbers: itertools.count[int] = field(default_factory=itertools.count)

    def run(self, worker: int, until: float) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        today = datetime.now(UTC).date()
        with httpx.Client(timeout=10, headers=headers) as client:
            for i in itertools.count():
                if time.monotonic() >= until:
                    return
                n = next(self.numbers)
                number = f"SOAK-{n:06d}"
                body = {
                    "source": "soak",
                    "number": number,
                    "customer": {
                        "code": f"C{n % 500}",
                        "name": f"Customer {n % 500}",
                        "email": f"c{n % 500}@example.com",
                    },
                    "order_date": today.isoformat(),
                    "delivery_date": (today + timedelta(days=7 + n % 20)).isoformat(),
                    "lines": [
                        {"line_no": k + 1, "sku": SKUS[(n * 7 + k * 13) % len(SKUS)], "qty": 1}
                        for k in range(1 + n % 2)
                    ],
                }
                port = self.ports[(worker + i) % len(self.ports)]
                self._post(client, port, number, body)

    def _post(self, client: httpx.Client, port: int, number: str, body: Any) -> None:
        """Post the order; on a node that is down, the client tries the other one with
        the same order (source + number make a retry safe)."""
        for attempt, target in enumerate([port, *[p for p in self.ports if p != port]]):
            started = time.perf_counter()
            try:
                answer = client.post(f"http://127.0.0.1:{target}/api/sales-orders", json=body)
            except httpx.TransportError as exc:
                with self.lock:
                    self.errors[f"{type(exc).__name__} (then retried)"] += 1
                continue
            elapsed = time.perf_counter() - started
            with self.lock:
                if answer.status_code in {200, 201}:
                    self.accepted[number] = answer.status_code
                    if attempt == 0:
                        self.latencies.append(elapsed)
                else:
                    self.errors[f"HTTP {answer.status_code}"] += 1
            return


def _setup(url: str) -> tuple[Context, str]:
    settings = Settings(
        database=DatabaseSettings(url=url),
        backorders=BackorderSettings(allocate_existing_pos=True, default_po_line_status="ON ORDER"),
    )
    ctx = Context(Database(url), settings)
    catalog.add_status(ctx, "ON ORDER", "On order", actor="soak")
    templates.add_template(ctx, "Back order", "Order {{ order.number }}", TEMPLATE, actor="soak")
    catalog.set_status_template(ctx, "ON ORDER", "Back order", actor="soak")
    catalog.upsert_stock_items(
        ctx, [NewStockItem(sku=s, name=f"Item {s}", on_hand=0) for s in SKUS], actor="soak"
    )
    purchasing.add_purchase_orders(
        ctx,
        [
            NewPurchaseOrder(
                number=f"PO-{s}",
                supplier_code="SUP",
                lines=[
                    NewPurchaseOrderLine(line_no=k, sku=s, qty=400, due_date=None, status=None)
                    for k in (1, 2)
                ],
            )
            for s in SKUS
        ],
        actor="soak",
    )
    users.add_user(ctx, "soak", "operator", actor="soak")
    return ctx, users.create_token(ctx, "soak", actor="soak").secret


def _wait_ready(port: int, deadline: float) -> float | None:
    """Seconds until the node's readiness probe answers 200, or None."""
    started = time.monotonic()
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health/ready", timeout=2).is_success:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return None


def _outbox(db: Database) -> dict[str, int]:
    with db.read() as conn:
        return dict(
            conn.execute(text("SELECT state, count(*) FROM pending_emails GROUP BY state")).all()
        )


def soak(url: str, seconds: float, clients: int, folder: Path) -> dict[str, Any]:
    folder = folder.resolve()
    ctx, token = _setup(url)
    smtp = SmtpServer(Sink(parse=False)).start()
    web_ports = [free_port(), free_port()]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOPO_")} | {
        "BOPO_DATABASE__URL": url,
        "BOPO_BACKORDERS__ALLOCATE_EXISTING_POS": "true",
        "BOPO_BACKORDERS__DEFAULT_PO_LINE_STATUS": "ON ORDER",
        "BOPO_SERVER__SECRET_KEY": SECRET_KEY,
        "BOPO_SERVER__LOG_FORMAT": "json",
        "BOPO_SMTP__HOST": "127.0.0.1",
        "BOPO_SMTP__PORT": str(smtp.port),
        "BOPO_SMTP__TIMEOUT": "5",
        "BOPO_EMAIL__LEASE_SECONDS": "5",  # a killed mailer's claim ends soon
        "BOPO_EMAIL__RETRY_DELAY_SECONDS": "1",
        "BOPO_EMAIL__MAX_ATTEMPTS": "100",  # the sink's outage must not fail emails
        "BOPO_EMAIL__BATCH_SIZE": "20",
        "BOPO_WORKER__SEND_EMAILS_EVERY": "2s",
        "BOPO_WORKER__NOTICES_EVERY": "2s",
        "BOPO_WORKER__WORKLIST_RETRY_EVERY": "3s",
    }
    nodes: dict[str, Node] = {}
    for i, port in enumerate(web_ports, 1):
        ini = folder / f"web{i}.ini"  # each web node with a config of its own
        ini.write_text(f"[server]\nhost = 127.0.0.1\nport = {port}\nrequest_threads = 3\n")
        nodes[f"web{i}"] = Node(
            f"web{i}",
            ["--config", str(ini), "serve", "--no-access-log"],
            env,
            folder / f"web{i}.log",
        )
    for i in (1, 2):
        nodes[f"mailer{i}"] = Node(
            f"mailer{i}",
            ["emails", "send", "--loop", "--interval", "0.5"],
            env,
            folder / f"mailer{i}.log",
        )
    nodes["worker"] = Node("worker", ["worker"], env, folder / "worker.log")
    try:
        return _faults(ctx, token, smtp, nodes, web_ports, seconds, clients)
    finally:
        for node in nodes.values():  # whatever went wrong, nothing is left running
            node.stop()
        smtp.stop()
        ctx.db.dispose()


def _faults(
    ctx: Context,
    token: str,
    smtp: SmtpServer,
    nodes: dict[str, Node],
    web_ports: list[int],
    seconds: float,
    clients: int,
) -> dict[str, Any]:
    db = ctx.db
    for node in nodes.values():
        node.start()
    for port in web_ports:
        if _wait_ready(port, time.monotonic() + 60) is None:
            raise SystemExit(f"web node on {port} did not become ready")

    load = Clients(web_ports, token)
    start = time.monotonic()
    until = start + seconds
    threads = [
        threading.Thread(target=load.run, args=(i, until), name=f"client{i}")
        for i in range(clients)
    ]
    for t in threads:
        t.start()

    recover: dict[str, float | None] = {}
    events: list[str] = []

    def at(fraction: float) -> None:
        time.sleep(max(0.0, start + seconds * fraction - time.monotonic()))

    at(0.15)
    nodes["web1"].kill()
    events.append(f"{time.monotonic() - start:5.1f}s kill -9 web1")
    time.sleep(2)
    nodes["web1"].start()
    recover["web1 restart to ready (s)"] = _wait_ready(web_ports[0], time.monotonic() + 60)

    at(0.3)
    nodes["mailer1"].kill()
    events.append(f"{time.monotonic() - start:5.1f}s kill -9 mailer1")
    time.sleep(2)
    nodes["mailer1"].start()

    at(0.45)
    smtp.stop()
    events.append(f"{time.monotonic() - start:5.1f}s SMTP sink down")
    time.sleep(min(10.0, seconds * 0.1))
    before = len(smtp.sink.ids())
    smtp.start()
    events.append(f"{time.monotonic() - start:5.1f}s SMTP sink up")
    back = time.monotonic()
    while len(smtp.sink.ids()) == before and time.monotonic() < back + 60:
        time.sleep(0.05)
    recover["SMTP up to first email accepted (s)"] = round(time.monotonic() - back, 2)

    at(0.6)
    nodes["worker"].kill()
    events.append(f"{time.monotonic() - start:5.1f}s kill -9 worker")
    time.sleep(2)
    nodes["worker"].start()

    for t in threads:
        t.join()
    load_ended = time.monotonic()
    # The outbox drains: pending and sending (a killed mailer's lease) go to sent.
    while time.monotonic() < load_ended + 120:
        left = _outbox(db)
        if not left.get("pending") and not left.get("sending"):
            break
        time.sleep(0.5)
    recover["end of load to outbox empty (s)"] = round(time.monotonic() - load_ended, 2)

    exits = {name: node.stop() for name, node in nodes.items()}
    smtp.stop()
    figures = _check(db, load, smtp.sink.ids(), seconds, exits)
    figures["events"] = events
    figures["recover"] = {k: round(v, 2) if v is not None else None for k, v in recover.items()}
    ctx.db.dispose()
    return figures


def _check(
    db: Database, load: Clients, sent_ids: list[str], seconds: float, exits: dict[str, Any]
) -> dict[str, Any]:
    with db.read() as conn:
        in_db = Counter(
            dict(
                conn.execute(
                    text("SELECT number, count(*) FROM sales_orders GROUP BY number")
                ).all()
            )
        )
        over_linked = conn.scalar(
            text(
                "SELECT count(*) FROM po_lines p WHERE p.qty_associated > "
                "p.qty_ordered - p.qty_delivered - p.qty_cancelled OR p.qty_associated <> "
                "(SELECT coalesce(sum(a.qty), 0) FROM associations a "
                " WHERE a.po_line_id = p.id AND a.state = 'active')"
            )
        )
        emails = dict(conn.execute(text("SELECT message_id, state FROM pending_emails")).all())
        twice = conn.scalar(
            text(
                "SELECT count(*) FROM (SELECT job, tick FROM job_runs GROUP BY job, tick "
                "HAVING count(*) > 1) t"
            )
        )
        runs = conn.scalar(text("SELECT count(*) FROM job_runs"))
    accepted = set(load.accepted)
    missing = sorted(n for n in accepted if in_db[n] == 0)
    doubled = sorted(n for n, c in in_db.items() if c > 1)
    unacknowledged = sorted(set(in_db) - accepted)  # taken, answer lost with a killed node
    by_id = Counter(sent_ids)
    resent = sum(c - 1 for c in by_id.values() if c > 1)
    never_sent = sorted(m for m, state in emails.items() if state != "sent" or m not in by_id)
    strangers = sorted(set(by_id) - set(emails))
    killed_senders = 2  # mailer1 and the worker (whose send_emails job is a mailer too)
    latencies = sorted(load.latencies)

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000, 1)

    checks = {
        "every accepted order in the database once": not missing and not doubled,
        "every PO line's links within it": over_linked == 0,
        "every email sent": not never_sent and not strangers,
        f"at most {killed_senders} resends (one per killed sender)": resent <= killed_senders,
        "no job ran twice for one tick": twice == 0,
    }
    return {
        "seconds": seconds,
        "orders_accepted": len(accepted),
        "orders_per_second": round(len(accepted) / seconds, 1),
        "orders_taken_unacknowledged": len(unacknowledged),
        "client_errors": dict(load.errors),
        "latency_p50_ms": pct(0.50) if latencies else None,
        "latency_p99_ms": pct(0.99) if latencies else None,
        "emails": len(emails),
        "emails_sent_messages": len(sent_ids),
        "emails_resent": resent,
        "emails_not_sent": len(never_sent),
        "orders_missing": missing[:10],
        "orders_doubled": doubled[:10],
        "po_lines_over_linked": over_linked,
        "job_runs": runs,
        "job_ticks_run_twice": twice,
        "exit_codes": exits,
        "checks": checks,
        "ok": all(checks.values()),
    }


def run(scale: Scale | None = None) -> dict[str, Any]:
    """The bench suite's entry: the soak on a fresh PostgreSQL database."""
    seconds = float(os.environ.get("BOPO_SOAK_SECONDS", "90"))
    clients = int(os.environ.get("BOPO_SOAK_CLIENTS", "4"))
    folder = WORK / f"soak-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    folder.mkdir(parents=True, exist_ok=True)
    with database("postgresql") as url:
        return soak(url, seconds, clients, folder)


def main() -> None:
    figures = run()
    print(json.dumps(figures, indent=2))
    for name, ok in figures["checks"].items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    sys.exit(0 if figures["ok"] else 1)


if __name__ == "__main__":
    main()
