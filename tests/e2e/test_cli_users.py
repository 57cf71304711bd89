"""`bopo users`, `bopo tokens` and `bopo serve`, as an operator would run them."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bopo.cli import app
from bopo.errors import AuthenticationFailed
from bopo.services.admin import users, web_sessions
from bopo.services.context import Context
from tests.smtp_sink import free_port

runner = CliRunner()


@pytest.fixture
def env(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Context:
    monkeypatch.setenv("BOPO_DATABASE__URL", ctx.settings.database.url)
    return ctx


def test_users_are_added_listed_and_disabled(env: Context) -> None:
    added = runner.invoke(app, ["users", "add", "alice", "--role", "operator"])
    assert added.exit_code == 0, added.output
    with_password = runner.invoke(
        app, ["users", "add", "bob", "--password-stdin"], input="a long password\n"
    )
    assert with_password.exit_code == 0, with_password.output
    assert users.login(env, "bob", "a long password").name == "bob"
    listed = json.loads(runner.invoke(app, ["users", "list", "--json"]).stdout)
    assert [(u["name"], u["role"], u["password"]) for u in listed] == [
        ("alice", "operator", False),
        ("bob", "viewer", True),
    ]
    assert runner.invoke(app, ["users", "disable", "alice"]).exit_code == 0
    assert runner.invoke(app, ["users", "disable", "carol"]).exit_code == 4
    assert runner.invoke(app, ["users", "add", "bob"]).exit_code == 5
    bad = runner.invoke(app, ["users", "add", "dave", "--role", "boss"])
    assert bad.exit_code == 1
    assert "role" in bad.output


def test_a_new_password_is_set_from_the_cli_and_ends_the_users_web_sessions(
    env: Context,
) -> None:
    runner.invoke(app, ["users", "add", "bob", "--password-stdin"], input="a long password\n")
    bob = users.login(env, "bob", "a long password")
    secret = web_sessions.start_session(env, bob.id)
    assert web_sessions.session_user(env, secret).name == "bob"
    changed = runner.invoke(
        app, ["users", "set-password", "bob", "--password-stdin"], input="another password\n"
    )
    assert changed.exit_code == 0, changed.output
    assert "web sessions have ended" in changed.output
    with pytest.raises(AuthenticationFailed):
        web_sessions.session_user(env, secret)
    with pytest.raises(AuthenticationFailed):
        users.login(env, "bob", "a long password")
    assert users.login(env, "bob", "another password").name == "bob"
    short = runner.invoke(app, ["users", "set-password", "bob", "--password-stdin"], input="x\n")
    assert short.exit_code == 1
    assert "password" in short.output
    unknown = ["users", "set-password", "carol", "--password-stdin"]
    assert runner.invoke(app, unknown, input="a long password\n").exit_code == 4


def test_a_token_is_printed_once_and_can_be_revoked(env: Context) -> None:
    runner.invoke(app, ["users", "add", "alice", "--role", "admin"])
    made = runner.invoke(app, ["tokens", "create", "alice", "--name", "laptop"])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    assert users.authenticate_token(env, secret).name == "alice"
    listed = runner.invoke(app, ["tokens", "list", "--json"]).stdout
    assert secret not in listed
    token_id = json.loads(listed)[0]["id"]
    assert runner.invoke(app, ["tokens", "revoke", str(token_id)]).exit_code == 0
    assert json.loads(runner.invoke(app, ["tokens", "list", "--json"]).stdout)[0]["revoked_at"]
    assert runner.invoke(app, ["tokens", "revoke", "999"]).exit_code == 4


def test_the_demo_login_is_printed_the_same_every_time(env: Context) -> None:
    assert runner.invoke(app, ["demo"]).exit_code == 0
    first = runner.invoke(app, ["users", "demo-login", "--json"])
    again = runner.invoke(app, ["users", "demo-login", "--json"])
    assert first.exit_code == again.exit_code == 0
    assert json.loads(first.stdout) == json.loads(again.stdout)
    assert json.loads(first.stdout)["token"] == users.DEMO_TOKEN


def test_the_demo_login_is_refused_on_a_database_the_demo_did_not_load(env: Context) -> None:
    refused = runner.invoke(app, ["users", "demo-login"])
    assert refused.exit_code == 5
    assert "not loaded by `bopo demo`" in refused.output
    assert users.list_users(env) == []


@pytest.mark.slow
def test_serve_with_two_workers_answers_over_real_http(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bopo.db'}"
    environ = os.environ | {
        "BOPO_DATABASE__URL": url,
        "BOPO_BACKORDERS__ALLOCATE_EXISTING_POS": "true",
        "BOPO_SERVER__SECRET_KEY": "k" * 40,
    }
    bopo = [str(Path(sys.executable).with_name("bopo"))]
    subprocess.run([*bopo, "demo"], env=environ, check=True, capture_output=True)
    subprocess.run([*bopo, "users", "demo-login"], env=environ, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [*bopo, "serve", "--port", str(port), "--workers", "2", "--no-access-log"],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        auth = {"Authorization": f"Bearer {users.DEMO_TOKEN}"}
        with httpx.Client(base_url=base, headers=auth, timeout=10) as client:
            assert client.get("/api/me").json()["role"] == "admin"
            assert client.get("/api/backorders").json()["total"] > 0
            for _ in range(4):  # spread over both workers
                assert client.get("/api/stock-items/KET-01").status_code == 200
            metrics = client.get("/api/metrics").text
        assert 'route="/api/stock-items/{sku}"' in metrics
        assert "bopo_sales_orders_total" in metrics
        with httpx.Client(base_url=base, timeout=10) as browser:  # a session, on both workers
            token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)
            assert token is not None
            form = {"name": users.DEMO_USER, "password": users.DEMO_PASSWORD}
            assert browser.post("/login", data=form | {"csrf_token": token[1]}).status_code == 303
            for _ in range(4):
                assert browser.get("/").status_code == 200
            copy = httpx.Client(base_url=base, timeout=10, cookies=dict(browser.cookies))
            with copy:
                page = copy.get("/")
                assert page.status_code == 200
                fresh = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert fresh is not None
                signed_out = browser.post("/logout", data={"csrf_token": fresh[1]})
                assert signed_out.headers["location"] == "/login"
                for _ in range(4):  # signed out on every worker at once
                    assert copy.get("/").headers["location"] == "/login"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=20)[0].decode()
    assert "Started parent process" in output or "Uvicorn running" in output


def test_serve_refuses_several_workers_without_a_secret_key_for_the_sessions(
    tmp_path: Path,
) -> None:
    environ = {k: v for k, v in os.environ.items() if k != "BOPO_SERVER__SECRET_KEY"}
    environ["BOPO_DATABASE__URL"] = f"sqlite:///{tmp_path / 'bopo.db'}"
    bopo = [str(Path(sys.executable).with_name("bopo"))]
    subprocess.run([*bopo, "init"], env=environ, check=True, capture_output=True)
    done = subprocess.run(
        [*bopo, "serve", "--workers", "2"], env=environ, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3
    assert "[server] secret_key: not set" in done.stderr
    assert "BOPO_SERVER__SECRET_KEY" in done.stderr
