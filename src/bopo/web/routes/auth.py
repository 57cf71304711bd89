"""Signing in and out with a user name and password (users made by `bopo users add`)."""

from __future__ import annotations

import contextlib
import math

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from bopo.errors import AuthenticationFailed
from bopo.services.admin import users
from bopo.web.render import redirect, render
from bopo.web.session import (
    Form,
    LoginRequired,
    context_of,
    current_user,
    sign_in,
    sign_out,
)
from bopo.web.throttle import SignInThrottles
from bopo.web.urls import local_path

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    with contextlib.suppress(LoginRequired):  # signed in already: straight on
        current_user(request)
        return RedirectResponse(local_path(next), status_code=303)
    return render(request, "login.html", next=local_path(next), name="", error=None)


@router.post("/login")
def login(request: Request, form: Form) -> Response:
    name = str(form.get("name") or "")[:64]
    password = str(form.get("password") or "")[:1024]
    target = local_path(str(form.get("next") or "/"))
    throttles: SignInThrottles = request.app.state.sign_in_throttles
    who = (name.strip().casefold(), request.client.host if request.client else "-")
    wait = math.ceil(throttles.wait(*who))
    if wait:
        error = f"Too many failed sign-ins: try again in {_duration(wait)}."
        page = render(request, "login.html", 429, next=target, name=name, error=error)
        page.headers["retry-after"] = str(wait)
        return page
    try:
        user = users.login(context_of(request), name, password)
    except AuthenticationFailed as exc:
        throttles.failed(*who)
        return render(request, "login.html", 401, next=target, name=name, error=str(exc))
    throttles.succeeded(*who)
    sign_in(request, user)
    return redirect(target, f"Signed in as {user.name} ({user.role.value}).", request=request)


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@router.post("/logout")
def logout(request: Request, form: Form) -> RedirectResponse:
    sign_out(request)
    return redirect("/login", "Signed out.", request=request)
