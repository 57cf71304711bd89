"""`bopo` commands: serving, users and API tokens."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from bopo.cli.common import (
    JsonOpt,
    actor,
    app,
    err,
    fail,
    handled_errors,
    open_context,
    out,
    print_json,
)
from bopo.services.admin import users

if TYPE_CHECKING:
    from bopo.config import Settings

# --- serving, users and tokens -----------------------------------------------------------

users_app = typer.Typer(help="Users and their roles (admin, operator, viewer).")
tokens_app = typer.Typer(help="API tokens: made per user, shown once, stored hashed.")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")


@app.command()
def serve(
    tctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Listen here (default [server] host).")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Listen here (default [server] port).")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Also serve /metrics on this port, with no token (firewall it).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the web UI at / and the REST API under /api (OpenAPI docs at /docs)."""
    from bopo.logs import logging_config
    from bopo.web.app import check_secret_key

    with handled_errors():
        context = open_context(tctx)
        settings = context.settings
        context.db.dispose()
        check_secret_key(settings, workers=workers)
    host = host or settings.server.host
    port = port or settings.server.port
    out.print(f"bopo at http://{host}:{port}/ (sign in there; dashboard first)", highlight=False)
    out.print(
        f"API at http://{host}:{port}/api (docs at http://{host}:{port}/docs)", highlight=False
    )
    if settings.server.secret_key is None:
        err.print(
            "[yellow]note:[/] no BOPO_SERVER__SECRET_KEY: web sessions end when bopo stops",
            highlight=False,
        )
    uvicorn_options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": access_log,
        "log_config": logging_config(settings.server.log_format),
        "proxy_headers": False,  # the app itself believes [server] trusted_proxies only
    }
    if workers == 1:
        _serve_one(settings, metrics_port, uvicorn_options)
    else:
        _serve_workers(tctx, settings, workers, metrics_port, uvicorn_options)


def _serve_one(settings: Settings, metrics_port: int | None, options: dict[str, Any]) -> None:
    """One process: the app built here."""
    import uvicorn

    from bopo.api.app import create_app
    from bopo.api.metrics import serve_metrics

    web_app = create_app(settings)
    if metrics_port is not None:
        serve_metrics(web_app.state.metrics, web_app.state.ctx, options["host"], metrics_port)
    uvicorn.run(web_app, **options)


def _serve_workers(
    tctx: typer.Context,
    settings: Settings,
    workers: int,
    metrics_port: int | None,
    options: dict[str, Any],
) -> None:
    """Worker processes (bopo.cli.workers): each builds its own app from the same file
    and environment."""
    import os
    import shutil
    import tempfile

    from bopo.api.metrics import Metrics, serve_metrics
    from bopo.cli.workers import PortInUse, serve
    from bopo.services.context import Context

    def start_metrics() -> None:  # every worker's figures, from the files they share
        if metrics_port is not None:
            serve_metrics(Metrics(), Context.from_settings(settings), options["host"], metrics_port)

    if tctx.obj is not None:
        os.environ["BOPO_CONFIG"] = str(Path(tctx.obj).resolve())
    own_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    if own_metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bopo-metrics-")
    try:
        code = serve("bopo.api.app:app_from_env", workers, options, start_metrics)
    except PortInUse as exc:
        fail(str(exc), 1)
    finally:
        if own_metrics_dir:
            shutil.rmtree(os.environ.pop("PROMETHEUS_MULTIPROC_DIR"), ignore_errors=True)
    if code:
        raise typer.Exit(code)


def _user_dict(u: users.UserView) -> dict[str, Any]:
    return {
        "name": u.name,
        "role": u.role.value,
        "active": u.active,
        "password": u.has_password,
        "created_at": u.created_at.isoformat(),
        "disabled_at": u.disabled_at.isoformat() if u.disabled_at else None,
    }


@users_app.command("add")
def users_add(
    tctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user's name.")],
    role: Annotated[str, typer.Option(help="admin, operator or viewer.")] = "viewer",
    password: Annotated[
        bool, typer.Option("--password", help="Ask for a password (for signing in).")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a user; without a password they sign in with API tokens only."""
    secret: str | None = None
    if password_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    elif password:
        secret = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with handled_errors():
        user = users.add_user(
            open_context(tctx, check=False), name, role, password=secret, actor=actor()
        )
    if as_json:
        print_json(_user_dict(user))
    else:
        out.print(f"added user {user.name} ({user.role.value})")


@users_app.command("list")
def users_list(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every user, with role and whether they are active."""
    with handled_errors():
        rows = users.list_users(open_context(tctx, check=False))
    if as_json:
        print_json([_user_dict(u) for u in rows])
        return
    table = Table(title="users")
    for col in ("name", "role", "active", "password", "created"):
        table.add_column(col)
    for u in rows:
        table.add_row(
            u.name,
            u.role.value,
            "yes" if u.active else "no",
            "yes" if u.has_password else "no",
            u.created_at.date().isoformat(),
        )
    out.print(table)


@users_app.command("disable")
def users_disable(
    tctx: typer.Context, name: Annotated[str, typer.Argument(help="The user's name.")]
) -> None:
    """Disable a user: their password, tokens and web sessions stop working."""
    with handled_errors():
        users.disable_user(open_context(tctx, check=False), name, actor=actor())
    out.print(f"disabled user {name}")


@users_app.command("set-password")
def users_set_password(
    tctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user's name.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Give a user a new password; every web session of theirs ends."""
    if password_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    else:
        secret = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with handled_errors():
        users.set_password(open_context(tctx, check=False), name, secret, actor=actor())
    out.print(f"new password for {name}; their web sessions have ended")


@users_app.command("demo-login")
def users_demo_login(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Create the demo admin and its well-known token (demo databases only) and print them."""
    with handled_errors():
        user, password, token = users.ensure_demo_login(open_context(tctx, check=False))
    if as_json:
        print_json({"user": user, "password": password, "token": token})
        return
    out.print(f"demo login: user {user}, password {password}", highlight=False)
    out.print(f"API token:  {token}", highlight=False)
    out.print(
        f'try:        curl -H "Authorization: Bearer {token}" <url>/api/me',
        highlight=False,
        soft_wrap=True,
    )


def _token_dict(t: users.TokenView) -> dict[str, Any]:
    return {
        "id": t.id,
        "user": t.user,
        "name": t.name,
        "prefix": t.prefix,
        "created_at": t.created_at.isoformat(),
        "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
        "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
    }


@tokens_app.command("create")
def tokens_create(
    tctx: typer.Context,
    user: Annotated[str, typer.Argument(help="The user the token acts as.")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "api",
    as_json: JsonOpt = False,
) -> None:
    """Make an API token; it is printed this once and stored only hashed."""
    with handled_errors():
        made = users.create_token(open_context(tctx, check=False), user, name=name, actor=actor())
    if as_json:
        print_json(_token_dict(made.view) | {"token": made.secret})
        return
    err.print(f"token {made.view.id} for {user}; copy it now, it is not shown again:")
    sys.stdout.write(made.secret + "\n")


@tokens_app.command("list")
def tokens_list(
    tctx: typer.Context,
    user: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """API tokens (never the secrets): id, user, name, when made, used and revoked."""
    with handled_errors():
        rows = users.list_tokens(open_context(tctx, check=False), user)
    if as_json:
        print_json([_token_dict(t) for t in rows])
        return
    table = Table(title="API tokens")
    for col in ("id", "user", "name", "starts", "created", "last used", "revoked"):
        table.add_column(col)
    for t in rows:
        table.add_row(
            str(t.id),
            t.user,
            t.name,
            t.prefix + "...",
            t.created_at.isoformat(timespec="seconds"),
            t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "-",
            t.revoked_at.isoformat(timespec="seconds") if t.revoked_at else "-",
        )
    out.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    tctx: typer.Context, token_id: Annotated[int, typer.Argument(help="The token's id.")]
) -> None:
    """Revoke an API token for good."""
    with handled_errors():
        users.revoke_token(open_context(tctx, check=False), token_id, actor=actor())
    out.print(f"revoked token {token_id}")
