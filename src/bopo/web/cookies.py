"""The web UI's session cookie: signed, HttpOnly, SameSite=Lax, and Secure over HTTPS.

Starlette's SessionMiddleware does the work, with two changes. The cookie is
marked Secure when the request came over HTTPS, as the connection says or a
trusted proxy does (`[server] trusted_proxies`: the proxy-headers middleware
in front has set the scope's scheme from X-Forwarded-Proto by then). And the
signature carries no timestamp: how long a session lasts is decided by its
record in `web_sessions` against the services' clock (services/admin/web_sessions.py),
not by the machine's clock; the cookie's Max-Age only tells the browser when
to let it go.
"""

from __future__ import annotations

from typing import Any

import itsdangerous
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

SECURE_SCHEMES = ("https", "wss")


class _Unstamped(itsdangerous.Signer):
    """A signer that SessionMiddleware can use in place of its TimestampSigner."""

    def unsign(self, signed_value: str | bytes, max_age: Any = None) -> bytes:
        return super().unsign(signed_value)


class SessionCookies:
    def __init__(self, app: ASGIApp, *, secret_key: str, cookie: str, max_age: int) -> None:
        def made(secure: bool) -> SessionMiddleware:
            middleware = SessionMiddleware(
                app,
                secret_key=secret_key,
                session_cookie=cookie,
                max_age=max_age,
                same_site="lax",
                https_only=secure,
            )
            middleware.signer = _Unstamped(secret_key)  # type: ignore[assignment]
            return middleware

        self.plain, self.secure = made(False), made(True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chosen = self.secure if scope.get("scheme") in SECURE_SCHEMES else self.plain
        await chosen(scope, receive, send)
