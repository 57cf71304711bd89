"""Where a request's blocking work runs, for the API and the web pages alike.

Every synchronous route runs on the worker's default thread pool, which the app
bounds to `[server] request_threads` at start-up. Requests that run long (a
file import, sending emails while the user waits on the SMTP server) get
threads of their own, `[server] long_threads`: a few of them at once never hold
up orders and pages.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request

T = TypeVar("T")


async def in_long_thread(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` on the threads kept for long requests; waits for a free one."""
    state = request.app.state
    limiter = getattr(state, "long_threads", None)
    if limiter is None:  # made on first use: the limiter belongs to the running event loop
        limiter = state.long_threads = anyio.CapacityLimiter(state.ctx.settings.server.long_threads)
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=limiter)
