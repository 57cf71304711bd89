"""Who is signed in, what their role lets them do, CSRF tokens and flash messages.

The session is a signed cookie (web/cookies.py) holding the secret of a
session record (services/admin/web_sessions.py), a CSRF token and messages waiting
to be shown. The record and its user are looked up on every request, in one
query: signing out, a password change, disabling a user or changing a role
takes effect on the next click, in every worker process, and a copied cookie
stops working with its session. Every POST must carry the session's CSRF token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.middleware.sessions import Session

from bopo.domain.roles import Role, allows
from bopo.errors import AuthenticationFailed
from bopo.services.admin import users, web_sessions
from bopo.services.context import Context

SESSION_KEY = "sid"
CSRF_KEY = "csrf"
FLASH_KEY = "flash"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True, slots=True)
class WebUser:
    id: int
    name: str
    role: Role

    @property
    def actor(self) -> str:
        """How the audit trail names what this user does in the web UI."""
        return f"web:{self.name}"

    def can(self, role: str) -> bool:
        return allows(self.role, Role(role))


class LoginRequired(Exception):
    """No session, or its user is gone or disabled: to the login page."""


class Forbidden(Exception):
    def __init__(self, needed: Role, role: Role) -> None:
        super().__init__(f"this needs the {needed.value} role; you are signed in as {role.value}")
        self.needed = needed


class CsrfFailed(Exception):
    """A POST without the session's token: forged, or the session expired meanwhile."""


def context_of(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def current_user(request: Request) -> WebUser:
    secret = request.session.get(SESSION_KEY)
    if not isinstance(secret, str):
        raise LoginRequired()
    try:
        view = web_sessions.session_user(context_of(request), secret)
    except AuthenticationFailed:
        request.session.clear()
        raise LoginRequired() from None
    if isinstance(request.session, Session):  # sent again: the browser keeps it while in use
        request.session.mark_modified()
    user = WebUser(view.id, view.name, view.role)
    request.state.user = user  # for the error pages
    return user


def _require(needed: Role) -> Any:
    def check(user: Annotated[WebUser, Depends(current_user)]) -> WebUser:
        if not allows(user.role, needed):
            raise Forbidden(needed, user.role)
        return user

    return Depends(check)


Viewer = Annotated[WebUser, _require(Role.VIEWER)]
Operator = Annotated[WebUser, _require(Role.OPERATOR)]
Admin = Annotated[WebUser, _require(Role.ADMIN)]


def sign_in(request: Request, user: users.UserView) -> None:
    """A fresh session for the user: nothing from before the login carries over, and
    the session this browser had before, if any, ends."""
    before = request.session.get(SESSION_KEY)
    secret = web_sessions.start_session(
        context_of(request), user.id, replacing=before if isinstance(before, str) else None
    )
    request.session.clear()
    request.session[SESSION_KEY] = secret
    request.session[CSRF_KEY] = secrets.token_urlsafe(32)


def sign_out(request: Request) -> None:
    """End this session for good (a copy of the cookie stops working too)."""
    secret = request.session.get(SESSION_KEY)
    if isinstance(secret, str):
        web_sessions.end_session(context_of(request), secret)
    request.session.clear()


def csrf_token(request: Request) -> str:
    token = request.session.get(CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_KEY] = token
    return token


async def checked_form(request: Request) -> FormData:
    """The POSTed form, once its CSRF token matches the session's."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get(CSRF_KEY)
    if not (
        isinstance(sent, str)
        and isinstance(expected, str)
        and secrets.compare_digest(sent.encode(), expected.encode())
    ):
        raise CsrfFailed()
    return form


Form = Annotated[FormData, Depends(checked_form)]


def flash(request: Request, kind: str, text: str) -> None:
    """Keep a message for the next page shown: kind is ok, warn or error."""
    request.session[FLASH_KEY] = [*request.session.get(FLASH_KEY, []), [kind, text]]


def take_flashes(request: Request) -> list[tuple[str, str]]:
    if FLASH_KEY not in request.session:
        return []
    return [(k, t) for k, t in request.session.pop(FLASH_KEY)]
