"""`bopo serve --workers N` on Linux: every worker listens on the port itself
(SO_REUSEPORT) and takes a share of the connections; the parent replaces a worker that
dies, stops them all gracefully on SIGTERM, and refuses a port something else has.

The workers are found from /proc: the server's children that hold a listening socket
on the port, and the connections each holds (socket inodes from /proc/<pid>/fd matched
against /proc/net/tcp)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

from bopo.cli.workers import reuseport_available
from tests.e2e.test_cli_ops import clean_env
from tests.helpers import STARTUP_S
from tests.smtp_sink import free_port

pytestmark = pytest.mark.skipif(not reuseport_available(), reason="needs SO_REUSEPORT (Linux)")

# The kernel hashes each connection to one of the 2 workers' sockets; if it were a fair
# coin, all 32 landing on one worker would happen once in 2**31 runs.
CONNECTIONS = 32
LISTEN, ESTABLISHED = "0A", "01"


def _serve(db_url: str, cwd: Path, port: int) -> subprocess.Popen[str]:
    env = clean_env(database__url=db_url, server__secret_key="s" * 40, server__log_format="json")
    command = [sys.executable, "-m", "bopo", "serve", "--workers", "2", "--port", str(port)]
    return subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@contextlib.contextmanager
def _serving(db_url: str, cwd: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    server = _serve(db_url, cwd, port)
    try:
        yield server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.communicate(timeout=60)


def _port_sockets(port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets on local `port` in `state`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            f = row.split()
            if f[3] == state and int(f[1].rsplit(":", 1)[1], 16) == port:
                found.add(f[9])
    return found


def _sockets_of(pid: int) -> set[str]:
    found = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    found.add(link[8:-1])
    return found


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(stat.parent.name))
    return kids


def _listeners(server_pid: int, port: int) -> dict[int, set[str]]:
    """The server's children that listen on `port`, with their listening sockets."""
    listening = _port_sockets(port, LISTEN)
    held = {pid: _sockets_of(pid) & listening for pid in _children(server_pid)}
    return {pid: inodes for pid, inodes in held.items() if inodes}


def _wait_for_workers(
    server: subprocess.Popen[str], port: int, replacing: Collection[int] = ()
) -> dict[int, set[str]]:
    """Two workers listening and answering, none of them one of `replacing`."""
    deadline = time.monotonic() + STARTUP_S
    while True:
        assert server.poll() is None, server.communicate()
        workers = _listeners(server.pid, port)
        if len(workers) == 2 and not workers.keys() & set(replacing) and _answers(port):
            return workers
        assert time.monotonic() < deadline, f"bopo serve did not start: {workers}"
        time.sleep(0.2)


def _answers(port: int) -> bool:
    """GET /api/health/live on a new connection: True on 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/api/health/live")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _logged(err: str) -> list[str]:
    return [json.loads(line)["message"] for line in err.splitlines() if line.startswith("{")]


def _refusal(port: int, cwd: Path, db_url: str) -> subprocess.CompletedProcess[str]:
    """A second `bopo serve --workers 2` on the same port."""
    second = _serve(db_url, cwd, port)
    out, err = second.communicate(timeout=STARTUP_S)
    return subprocess.CompletedProcess(second.args, second.returncode, out, " ".join(err.split()))


def test_each_worker_listens_and_takes_a_share_of_the_connections_and_a_second_bopo_is_refused(
    db_url: str, tmp_path: Path
) -> None:
    port = free_port()
    with _serving(db_url, tmp_path, port) as server:
        workers = _wait_for_workers(server, port)
        # Each worker listens with a socket of its own, not one shared.
        first, second = workers.values()
        assert len(first) == len(second) == 1
        assert first != second
        # Keep-alive clients connecting together, as a load balancer's pool would.
        clients = [
            http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(CONNECTIONS)
        ]
        for client in clients:
            client.connect()
        for client in clients:
            client.request("GET", "/api/health/live")
        assert [c.getresponse().status for c in clients] == [200] * CONNECTIONS
        established = _port_sockets(port, ESTABLISHED)
        held = {pid: len(_sockets_of(pid) & established) for pid in workers}
        for client in clients:
            client.close()
        assert sum(held.values()) == CONNECTIONS, held
        assert min(held.values()) >= 1, held

        refused = _refusal(port, tmp_path, db_url)
        assert refused.returncode == 1, refused
        assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in refused.stderr
        assert "Started parent process" not in refused.stderr
        assert _listeners(server.pid, port) == workers  # the first one serves on


def test_workers_are_replaced_on_hup_and_on_death_and_sigterm_stops_them_and_frees_the_port(
    sqlite_template: Path, tmp_path: Path
) -> None:
    db = tmp_path / "bopo.db"
    db.write_bytes(sqlite_template.read_bytes())
    port = free_port()
    with _serving(f"sqlite:///{db}", tmp_path, port) as server:
        first = _wait_for_workers(server, port)
        server.send_signal(signal.SIGHUP)  # replaced one by one, each new one serving first
        victim, survivor = _wait_for_workers(server, port, replacing=first)
        os.kill(victim, signal.SIGKILL)
        while victim in _listeners(server.pid, port):
            time.sleep(0.05)
        # The survivor takes every new connection while the replacement starts.
        assert all(_answers(port) for _ in range(10))
        workers = _wait_for_workers(server, port, replacing=[victim])
        assert survivor in workers
        assert all(_answers(port) for _ in range(10))

        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    logged = _logged(err)
    assert "Received SIGHUP, restarting processes." in logged
    for pid in first:
        assert f"Finished server process [{pid}]" in logged, logged
    assert any(m.startswith(f"Child process [{victim}] died (exit code -9)") for m in logged)
    for pid in workers:  # each stopped through uvicorn's graceful shutdown
        assert f"Finished server process [{pid}]" in logged, logged
        assert not Path(f"/proc/{pid}").exists()
    assert not _port_sockets(port, LISTEN)
    with socket.socket() as again:  # as a server binds: a closed connection's TIME_WAIT aside
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))


def test_a_port_another_program_listens_on_is_refused_before_any_worker_starts(
    sqlite_template: Path, tmp_path: Path
) -> None:
    db = tmp_path / "bopo.db"
    db.write_bytes(sqlite_template.read_bytes())
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        refused = _refusal(port, tmp_path, f"sqlite:///{db}")
    assert refused.returncode == 1, refused
    assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in refused.stderr
    assert "Started parent process" not in refused.stderr
