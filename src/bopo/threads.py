"""Where a request's blocking work runs, for the API and the web pages alike.

Every synchronous route runs on the worker's default thread pool, which the app
bounds to `[server] request_threads` at start-up. File imports run for seconds
or minutes, so they get threads of their own (`[server] import_threads`): a
few uploads at once never hold up orders and pages.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request

T = TypeVar("T")


async def in_import_thread(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)` on the threads kept for imports; waits for a free one."""
    state = request.app.state
    limiter = getattr(state, "import_threads", None)
    if limiter is None:  # made on first use: the limiter belongs to the running event loop
        limiter = state.import_threads = anyio.CapacityLimiter(
            state.ctx.settings.server.import_threads
        )
    return await anyio.to_thread.run_sync(functools.partial(fn, *args), limiter=limiter)
