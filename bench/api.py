"""HTTP order intake: `bopo serve --workers 2` on PostgreSQL, 16 clients posting orders,
then the same orders' work in process (2 worker processes) for the ratio of the two.

The load generator runs in its own process and is kept cheap (asyncio, raw
HTTP/1.1 on keep-alive connections, request bytes built before the clock
starts), because it shares the machine's cores with the server and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.common import WORK, ProcessTreeCpu, Scale, ServerCpu, context, database, run_workers
from bench.generate import STATUSES, generate
from bench.intake import single_worker
from bopo.services.admin import users
from bopo.services.files import imports
from bopo.services.supply import catalog

CLIENTS = 16
WORKERS = 2
LINES = 3
WARMUP_PER_CLIENT = 10
TODAY = date(2026, 11, 25)


def _load_data(url: str, scale: Scale) -> str:
    """Stock items and open PO lines; returns an operator's token."""
    files = generate(WORK / "api", items=scale.items, po_lines=scale.po_lines, orders=0)
    ctx = context(url)
    for code in STATUSES:
        catalog.add_status(ctx, code, code.title(), actor="bench")
    assert imports.import_stock_items(ctx, files["stock"]).ok
    assert imports.import_purchase_orders(ctx, files["po"]).ok
    users.add_user(ctx, "bench", "operator", actor="bench")
    token = users.create_token(ctx, "bench", actor="bench").secret
    ctx.db.dispose()
    return token


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "BOPO_DATABASE__URL": url,
        "BOPO_BACKORDERS__ALLOCATE_EXISTING_POS": "true",
        "BOPO_BACKORDERS__DEFAULT_PO_LINE_STATUS": "ON ORDER",
        "BOPO_SERVER__SECRET_KEY": "bench-" + "k" * 40,
    }
    bopo = str(Path(sys.executable).with_name("bopo"))
    server = subprocess.Popen(
        [bopo, "serve", "--port", str(port), "--workers", str(WORKERS), "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    os.killpg(server.pid, signal.SIGTERM)
    raise RuntimeError("bopo serve did not come up")


def _requests(client: int, count: int, items: int, token: str, port: int) -> list[bytes]:
    rng = random.Random(client)
    out = []
    for n in range(count):
        body = json.dumps(
            {
                "source": "bench-http",
                "number": f"H{client}-{n}",
                "customer": {
                    "code": f"HC{client}",
                    "name": f"Client {client}",
                    "email": f"client{client}@example.com",
                },
                "order_date": TODAY.isoformat(),
                "delivery_date": (TODAY + timedelta(days=rng.randint(1, 30))).isoformat(),
                "lines": [
                    {"line_no": i, "sku": f"SKU-{s:05d}", "qty": rng.randint(1, 3)}
                    for i, s in enumerate(rng.sample(range(items), LINES), 1)
                ],
            },
            separators=(",", ":"),
        ).encode()
        head = (
            f"POST /api/sales-orders HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append(head + body)
    return out


async def _send_all(
    port: int, requests: list[bytes], latencies: list[float], codes: Counter[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for request in requests:
        start = time.perf_counter()
        writer.write(request)
        status = int((await reader.readline()).split()[1])
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - start)
        codes[status] += 1
    writer.close()


def _load_generator(
    port: int, token: str, per_client: int, items: int, warm: Any, go: Any, done: Any
) -> None:
    batches = [
        _requests(c, WARMUP_PER_CLIENT + per_client, items, token, port) for c in range(CLIENTS)
    ]

    async def main() -> tuple[float, list[float], Counter[int]]:
        ignored: list[float] = []
        warmed: Counter[int] = Counter()
        await asyncio.gather(
            *(_send_all(port, b[:WARMUP_PER_CLIENT], ignored, warmed) for b in batches)
        )
        warm.put(None)  # the parent reads the servers' CPU, then lets the timed part go
        go.wait()
        latencies: list[float] = []
        codes: Counter[int] = Counter()
        start = time.perf_counter()
        await asyncio.gather(
            *(_send_all(port, b[WARMUP_PER_CLIENT:], latencies, codes) for b in batches)
        )
        return time.perf_counter() - start, latencies, codes

    seconds, latencies, codes = asyncio.run(main())
    done.put((seconds, latencies, dict(codes)))


def _connections_per_worker(server_pid: int, port: int) -> list[int]:
    """How many established connections to `port` each of the server's processes holds
    (socket inodes from /proc/<pid>/fd matched against /proc/net/tcp)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for row in Path(table).read_text().splitlines()[1:]:
                f = row.split()
                if f[3] == "01" and int(f[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f[9])
    held = []
    for pid in ProcessTreeCpu.descendants(server_pid):
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        held.append(sum(1 for link in links if link[8:-1] in inodes and link[:8] == "socket:["))
    return sorted((n for n in held if n), reverse=True)


def _split_while_running(server_pid: int, port: int, done: Any) -> list[int]:
    """The connections' split between workers once all clients are connected."""
    split: list[int] = []
    for _ in range(500):
        split = _connections_per_worker(server_pid, port)
        if sum(split) >= CLIENTS or not done.empty():
            break
        time.sleep(0.01)
    return split


def _server_mean_ms(port: int, token: str) -> float | None:
    """Mean time the workers spent per POST /api/sales-orders, from /api/metrics."""
    text = httpx.get(
        f"http://127.0.0.1:{port}/api/metrics",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).text
    found: dict[str, float] = {}
    for kind in ("sum", "count"):
        pattern = (
            rf'^bopo_http_request_duration_seconds_{kind}\{{[^}}]*method="POST"[^}}]*'
            rf'route="/api/sales-orders"[^}}]*status="201"[^}}]*\}} (\S+)$'
        )
        found[kind] = sum(float(m) for m in re.findall(pattern, text, re.M))
    return round(1000 * found["sum"] / found["count"], 2) if found["count"] else None


def _per_order(seconds: float | None, orders: int) -> float | None:
    return None if seconds is None else round(1000 * seconds / orders, 3)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(scale: Scale) -> dict[str, Any]:
    orders = max(1_600, scale.orders // 12)
    per_client = orders // CLIENTS
    with database("postgresql") as url:
        token = _load_data(url, scale)
        port = _free_port()
        server = _start_server(url, port)
        try:
            mp_ctx = mp.get_context("spawn")
            warm, go, done = mp_ctx.Queue(), mp_ctx.Event(), mp_ctx.Queue()
            loader = mp_ctx.Process(
                target=_load_generator,
                args=(port, token, per_client, scale.items, warm, go, done),
            )
            loader.start()
            warm.get()
            workers, database_cpu = ProcessTreeCpu(server.pid), ServerCpu(url)
            go.set()
            split = _split_while_running(server.pid, port, done)
            seconds, latencies, codes = done.get()
            workers_seconds, database_seconds = workers.seconds(), database_cpu.seconds()
            loader.join()
            server_ms = _server_mean_ms(port, token)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        # The same work without HTTP: as many processes as the server has workers,
        # each taking orders in a loop, on the same database right after.
        in_process = run_workers(
            url,
            single_worker,
            [
                (url, 50 + w, min(per_client * CLIENTS, 4_000) // WORKERS, scale.items)
                for w in range(WORKERS)
            ],
        )
    taken = len(latencies)
    return {
        "api_orders_per_s": round(taken / seconds),
        "api_orders_per_s_target": {"min": 400},
        "api_in_process_orders_per_s": in_process["orders_per_s"],
        "api_vs_in_process_ratio": round(taken / seconds / in_process["orders_per_s"], 3),
        "api_vs_in_process_ratio_target": {"min": 0.8},
        "api_p50_ms": round(1000 * _percentile(latencies, 0.50), 1),
        "api_p99_ms": round(1000 * _percentile(latencies, 0.99), 1),
        "api_p99_ms_target": {"max": 100},
        "api_detail": {
            "orders": taken,
            "lines_per_order": LINES,
            "clients": CLIENTS,
            "workers": WORKERS,
            "connections_per_worker": split,
            "seconds": round(seconds, 2),
            "status_codes": codes,
            "server_mean_ms_per_order": server_ms,
            # CPU per order of bopo's worker processes and of the PostgreSQL processes
            # serving them, to set beside in_process's client and server CPU per order
            "workers_cpu_ms_per_order": _per_order(workers_seconds, taken),
            "database_cpu_ms_per_order": _per_order(database_seconds, taken),
            "in_process": in_process,
        },
    }
