"""`bopo serve --workers N`: a small supervisor and N uvicorn worker processes.

On Linux each worker listens on the port with a socket of its own (SO_REUSEPORT), so
the kernel spreads new connections over the workers. With one shared socket, whichever
worker wakes first accepts every connection waiting, and keep-alive clients that
connect together pile onto one worker.

Before any worker starts, the parent checks nothing holds the address (a bind without
SO_REUSEPORT), then keeps it with a bound socket that never listens, so that no other
program (a second bopo included) can take the port, even while the workers are being
replaced. Where SO_REUSEPORT is missing, uvicorn's own supervisor and shared socket
serve instead.

Signals to the parent, as with uvicorn's own supervisor: TERM or INT stops every worker
gracefully (uvicorn finishes the requests in flight) and exits 0, a second one kills
them; HUP replaces the workers one by one, each new one serving before the old stops;
TTIN adds a worker, TTOU removes one. A worker that dies is replaced, after a pause
that grows while replacements keep dying soon after starting. If no worker ever
started (the app, its configuration or the socket is broken) the parent stops, exit 3.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess
    from multiprocessing.synchronize import Event

logger = logging.getLogger("uvicorn.error")

STARTUP_FAILURE = 3  # uvicorn's exit code for a server that could not start
QUICK_DEATH_S = 10.0  # dying before serving this long backs off the next worker's start
MAX_PAUSE_S = 30.0
READY_TIMEOUT_S = 60.0  # how long a worker replaced on HUP may take to serve
_SPAWN = multiprocessing.get_context("spawn")


class PortInUse(Exception):
    """Something already listens on, or holds, the address bopo was asked to serve on."""


def reuseport_available() -> bool:
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn binds


def hold_port(host: str, port: int) -> socket.socket | None:
    """Refuse if anything has (host, port); else keep it for the workers.

    The check binds without SO_REUSEPORT (SO_REUSEADDR as servers bind, so only a
    listener or a holder counts, not a closed connection's TIME_WAIT). The holder binds
    with SO_REUSEPORT and without SO_REUSEADDR and never listens: the workers (same
    user, SO_REUSEPORT) can bind beside it, nothing else can, a second bopo's check
    included. A holder cannot bind beside the TIME_WAIT of connections a server without
    SO_REUSEPORT closed (an older bopo just stopped): then none is kept (None).
    """
    family = _family(host)
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(
                f"cannot serve on {host}:{port}: {exc.strerror or exc}"
                " (another bopo or program has it; stop it or choose another --port)"
            ) from None
    holder = socket.socket(family)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        holder.bind((host, port))
    except OSError:
        holder.close()
        return None
    return holder


def _listening_socket(host: str, port: int) -> socket.socket:
    """A worker's own socket, bound; uvicorn starts listening once the app is up."""
    sock = socket.socket(_family(host))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, telling the supervisor once it serves."""

    def __init__(self, config: uvicorn.Config, started: Event) -> None:
        super().__init__(config)
        self.started_event = started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.started_event.set()


def _worker_main(config: uvicorn.Config, started: Event) -> None:  # in the worker process
    config.configure_logging()
    try:
        sock = _listening_socket(str(config.host), config.port)
    except OSError as exc:
        logger.error("cannot listen on %s:%d: %s", config.host, config.port, exc)
        sys.exit(STARTUP_FAILURE)
    _Server(config, started).run(sockets=[sock])


@dataclass
class _Worker:
    process: SpawnProcess
    started: Event
    serving_since: float | None = None  # when the supervisor saw it serve

    @property
    def pid(self) -> int:
        return self.process.pid or 0

    def terminate(self) -> None:
        if self.process.exitcode is None:
            os.kill(self.pid, signal.SIGTERM)
            logger.info("Terminated child process [%d]", self.pid)

    def join(self) -> None:
        logger.info("Waiting for child process [%d]", self.pid)
        self.process.join()


@dataclass
class _Slot:
    worker: _Worker | None = None
    quick_deaths: int = 0  # deaths in a row, each before serving QUICK_DEATH_S
    start_at: float = 0.0  # when to start the next worker, if none runs


class Supervisor:
    """Runs `count` workers until TERM or INT; see the module's description."""

    def __init__(self, config: uvicorn.Config, count: int) -> None:
        self.config = config
        self.slots = [_Slot() for _ in range(count)]
        self.stopping = threading.Event()
        self.pending: list[signal.Signals] = []
        self.any_started = False
        self.exit_code = 0

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU):
            signal.signal(sig, self._on_signal)
        host = str(self.config.host)
        logger.info(
            "Uvicorn running on http://%s:%d (Press CTRL+C to quit)",
            f"[{host}]" if ":" in host else host,
            self.config.port,
        )
        logger.info("Started parent process [%d]", os.getpid())
        for slot in self.slots:
            slot.worker = self._start()
        while not self.stopping.wait(0.2):
            self._handle_signals()
            self._keep_alive()
        for slot in self.slots:
            if slot.worker is not None:
                slot.worker.terminate()
        for slot in self.slots:
            if slot.worker is not None:
                slot.worker.join()
        logger.info("Stopping parent process [%d]", os.getpid())
        return self.exit_code

    def _start(self) -> _Worker:
        started = _SPAWN.Event()
        process = _SPAWN.Process(target=_worker_main, args=(self.config, started))
        process.start()
        return _Worker(process, started)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        sig = signal.Signals(signum)
        if sig not in (signal.SIGINT, signal.SIGTERM):
            self.pending.append(sig)
        elif not self.stopping.is_set():
            logger.info("Received %s, stopping the workers gracefully.", sig.name)
            self.stopping.set()
        else:  # a second one: do not wait for them
            logger.warning("Received %s again, killing the workers.", sig.name)
            for slot in self.slots:
                if slot.worker is not None and slot.worker.process.exitcode is None:
                    slot.worker.process.kill()

    def _handle_signals(self) -> None:
        handlers: dict[signal.Signals, Callable[[], None]] = {
            signal.SIGHUP: self._restart_all,
            signal.SIGTTIN: self._add_worker,
            signal.SIGTTOU: self._remove_worker,
        }
        while self.pending and not self.stopping.is_set():
            handlers[self.pending.pop(0)]()

    def _keep_alive(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.worker and slot.worker.serving_since is None and slot.worker.started.is_set():
                slot.worker.serving_since = now
                self.any_started = True
        for slot in self.slots:
            worker = slot.worker
            if worker is not None and worker.process.is_alive():
                continue
            if worker is not None:
                self._buried(slot, worker, now)
                if self.stopping.is_set():
                    return
            if slot.worker is None and now >= slot.start_at:
                slot.worker = self._start()

    def _buried(self, slot: _Slot, worker: _Worker, now: float) -> None:
        """Note a dead worker and when its replacement starts."""
        worker.process.join()
        slot.worker = None
        code = worker.process.exitcode
        if not worker.started.is_set() and not self.any_started:
            logger.error(
                "Child process [%d] failed to start (exit code %s), stopping the parent process.",
                worker.pid,
                code,
            )
            self.exit_code = STARTUP_FAILURE
            self.stopping.set()
            return
        served = None if worker.serving_since is None else now - worker.serving_since
        slot.quick_deaths = 0 if served and served >= QUICK_DEATH_S else slot.quick_deaths + 1
        pause = min(MAX_PAUSE_S, 0.5 * 2 ** (slot.quick_deaths - 1)) if slot.quick_deaths else 0
        slot.start_at = now + pause
        logger.warning(
            "Child process [%d] died (exit code %s); a new one starts in %.1f s",
            worker.pid,
            code,
            pause,
        )

    def _restart_all(self) -> None:
        logger.info("Received SIGHUP, restarting processes.")
        for slot in self.slots:
            new = self._start()
            if not self._wait_until_serving(new):
                new.process.kill()
                new.process.join()
                if not self.stopping.is_set():
                    logger.error(
                        "New child process [%d] did not serve in time; keeping the others"
                        " and stopping the restart.",
                        new.pid,
                    )
                return
            old, slot.worker = slot.worker, new
            if old is not None:
                old.terminate()
                old.join()

    def _wait_until_serving(self, worker: _Worker) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self.stopping.is_set() and time.monotonic() < deadline:
            if worker.started.wait(0.2):
                return True
            if not worker.process.is_alive():
                return False
        return False

    def _add_worker(self) -> None:
        logger.info("Received SIGTTIN, increasing the number of processes.")
        self.slots.append(_Slot(worker=self._start()))

    def _remove_worker(self) -> None:
        logger.info("Received SIGTTOU, decreasing the number of processes.")
        if len(self.slots) <= 1:
            logger.info("Already at one process, cannot decrease the number of processes.")
            return
        worker = self.slots.pop().worker
        if worker is not None:
            worker.terminate()
            worker.join()


def serve(app: str, count: int, options: dict[str, Any], before: Callable[[], None]) -> int:
    """Serve `app` (a factory's import path) from `count` workers; `before` runs once the
    port is known to be free. Returns the exit code."""
    if not reuseport_available():
        before()
        uvicorn.run(app, factory=True, workers=count, **options)
        return 0
    holder = hold_port(options["host"], options["port"])
    try:
        before()
        return Supervisor(uvicorn.Config(app, factory=True, **options), count).run()
    finally:
        if holder is not None:
            holder.close()
