"""Every request gets an id: the client's X-Request-ID when it is sane, else a new one.

It is set for the request's work (bopo.logs.request_id), so the log lines and audit
rows written meanwhile carry it, and it goes back in the X-Request-ID response header.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bopo.logs import accept_request_id, request_id

HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == _HEADER_KEY), None
        )
        rid = accept_request_id(incoming)
        token = request_id.set(rid)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            request_id.reset(token)
