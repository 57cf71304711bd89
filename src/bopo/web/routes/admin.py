"""Administration (admins only): users and their API tokens.

Creating a token is the one action that answers its POST with a page instead of a
redirect: the secret is shown there once, and a redirect would have to carry it in
the session cookie (signed, not encrypted). That page is sent `no-store`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bopo.domain.roles import Role
from bopo.errors import BopoError, Conflict
from bopo.services.admin import users
from bopo.web.forms import act, say, text
from bopo.web.render import redirect, render
from bopo.web.session import Admin, Form, context_of

router = APIRouter(prefix="/admin", include_in_schema=False)
ROLES = [r.value for r in Role]


def _page(request: Request, new_token: users.NewToken | None = None) -> HTMLResponse:
    ctx = context_of(request)
    return render(
        request,
        "admin.html",
        section="admin",
        users=users.list_users(ctx),
        tokens=users.list_tokens(ctx),
        roles=ROLES,
        new_token=new_token,
    )


@router.get("")
def admin_page(request: Request, user: Admin) -> HTMLResponse:
    return _page(request)


@router.post("/users")
def create_user(request: Request, user: Admin, form: Form) -> RedirectResponse:
    """Add a user with a role and a password."""
    ctx = context_of(request)

    def run() -> str:
        added = users.add_user(
            ctx,
            text(form, "name", max_length=64),
            text(form, "role", max_length=16),
            password=text(form, "password", max_length=1000),
            actor=user.actor,
        )
        return f"User {added.name} added as {added.role.value}: they can sign in now."

    return act(request, "/admin", run)


@router.post("/users/disable")
def disable_user(request: Request, user: Admin, form: Form) -> RedirectResponse:
    """Disable a user: their sign-ins, tokens and sessions stop working."""
    ctx = context_of(request)

    def run() -> str:
        name = text(form, "name", max_length=64)
        if name == user.name:
            raise Conflict("you cannot disable yourself: ask another admin")
        users.disable_user(ctx, name, actor=user.actor)
        return f"User {name} disabled: their sessions and API tokens no longer work."

    return act(request, "/admin", run)


@router.post("/tokens", response_model=None)
def create_token(request: Request, user: Admin, form: Form) -> HTMLResponse | RedirectResponse:
    """Make an API token for a user and show its secret, once."""
    ctx = context_of(request)
    try:
        made = users.create_token(
            ctx,
            text(form, "user", max_length=64),
            name=text(form, "name", max_length=100),
            actor=user.actor,
        )
    except BopoError as exc:
        return redirect("/admin", say(exc), "error", request=request)
    page = _page(request, new_token=made)
    page.headers["cache-control"] = "no-store"
    return page


@router.post("/tokens/revoke")
def revoke_token(request: Request, user: Admin, form: Form) -> RedirectResponse:
    """Revoke an API token for good."""
    ctx = context_of(request)

    def run() -> str:
        raw = text(form, "id", max_length=12)
        token = users.revoke_token(ctx, int(raw) if raw.isdigit() else 0, actor=user.actor)
        return f"Token {token.prefix}… of {token.user} ({token.name}) revoked."

    return act(request, "/admin", run)
