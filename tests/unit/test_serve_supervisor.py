"""When `bopo serve --workers N`'s supervisor starts a dead worker's replacement: at once
after a worker that served a while, later and later while replacements keep dying soon,
never if no worker ever started (the parent stops, exit 3). Processes are stand-ins
here; tests/e2e/test_serve_workers.py runs real ones."""

from __future__ import annotations

import threading
from typing import Any, cast

import uvicorn

from bopo.cli.workers import MAX_PAUSE_S, QUICK_DEATH_S, STARTUP_FAILURE, Supervisor, _Slot, _Worker


class _Dead:
    pid = 4242
    exitcode = 1

    def join(self) -> None:
        pass


def _worker(served_for: float | None, now: float) -> _Worker:
    started = threading.Event()
    if served_for is not None:
        started.set()
    serving_since = None if served_for is None else now - served_for
    return _Worker(cast(Any, _Dead()), cast(Any, started), serving_since)


def _supervisor() -> Supervisor:
    config = uvicorn.Config("bopo.api.app:app_from_env", factory=True, log_config=None)
    return Supervisor(config, 1)


def test_replacements_that_keep_dying_soon_wait_longer_each_time_up_to_the_cap() -> None:
    supervisor, slot, now = _supervisor(), _Slot(), 1000.0
    supervisor.any_started = True
    pauses = []
    for _ in range(9):
        supervisor._buried(slot, _worker(1.0, now), now)
        pauses.append(slot.start_at - now)
    assert pauses == [0.5, 1, 2, 4, 8, 16, MAX_PAUSE_S, MAX_PAUSE_S, MAX_PAUSE_S]
    # One that never served counts as dying soon too.
    supervisor._buried(slot, _worker(None, now), now)
    assert slot.start_at - now == MAX_PAUSE_S
    # One that served a while is replaced at once, and the count starts again.
    supervisor._buried(slot, _worker(QUICK_DEATH_S, now), now)
    assert slot.start_at == now
    supervisor._buried(slot, _worker(1.0, now), now)
    assert slot.start_at - now == 0.5
    assert slot.worker is None
    assert not supervisor.stopping.is_set()


def test_a_worker_that_fails_before_any_has_served_stops_the_parent_with_exit_3() -> None:
    supervisor, slot = _supervisor(), _Slot()
    supervisor._buried(slot, _worker(None, 1000.0), 1000.0)
    assert supervisor.stopping.is_set()
    assert supervisor.exit_code == STARTUP_FAILURE
