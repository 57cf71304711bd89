"""Users, roles and tokens: who may sign in, and with what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bopo.db.models import ApiToken, AuditEvent, User
from bopo.domain.roles import Role, allows
from bopo.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from bopo.services.admin import demo, users
from bopo.services.context import Context
from tests.helpers import given_stock


def test_a_user_signs_in_with_the_right_password_only(ctx: Context) -> None:
    users.add_user(ctx, "alice", "operator", password="correct horse", actor="test")
    assert users.login(ctx, "alice", "correct horse").role is Role.OPERATOR
    with pytest.raises(AuthenticationFailed):
        users.login(ctx, "alice", "wrong horse")
    with pytest.raises(AuthenticationFailed):
        users.login(ctx, "nobody", "correct horse")


def test_passwords_are_stored_as_argon2_hashes(ctx: Context) -> None:
    users.add_user(ctx, "alice", "viewer", password="correct horse", actor="test")
    with ctx.db.read() as conn:
        stored = conn.execute(select(User.password_hash)).scalar_one()
    assert stored.startswith("$argon2")
    assert "correct horse" not in stored


def test_a_user_without_a_password_cannot_sign_in_with_one(ctx: Context) -> None:
    users.add_user(ctx, "robot", "operator", actor="test")
    with pytest.raises(AuthenticationFailed):
        users.login(ctx, "robot", "")


def test_a_token_is_shown_once_and_stored_only_as_its_hash(ctx: Context) -> None:
    users.add_user(ctx, "alice", "viewer", actor="test")
    made = users.create_token(ctx, "alice", name="laptop", actor="test")
    with ctx.db.read() as conn:
        row = conn.execute(select(ApiToken)).one()
    assert made.secret.startswith("bopo_")
    assert row.token_hash == users.hash_token(made.secret)
    assert made.secret not in (row.token_hash, row.prefix, row.name)
    assert users.authenticate_token(ctx, made.secret).name == "alice"


def test_a_revoked_token_no_longer_works_but_others_do(ctx: Context) -> None:
    users.add_user(ctx, "alice", "viewer", actor="test")
    first = users.create_token(ctx, "alice", actor="test")
    second = users.create_token(ctx, "alice", actor="test")
    users.revoke_token(ctx, first.view.id, actor="test")
    with pytest.raises(AuthenticationFailed):
        users.authenticate_token(ctx, first.secret)
    assert users.authenticate_token(ctx, second.secret).name == "alice"
    assert users.revoke_token(ctx, first.view.id, actor="test").revoked_at is not None


def test_disabling_a_user_stops_their_password_and_tokens(ctx: Context) -> None:
    users.add_user(ctx, "alice", "admin", password="correct horse", actor="test")
    token = users.create_token(ctx, "alice", actor="test")
    users.disable_user(ctx, "alice", actor="test")
    with pytest.raises(AuthenticationFailed):
        users.login(ctx, "alice", "correct horse")
    with pytest.raises(AuthenticationFailed):
        users.authenticate_token(ctx, token.secret)
    with pytest.raises(Conflict):
        users.create_token(ctx, "alice", actor="test")
    assert [u.active for u in users.list_users(ctx)] == [False]


def test_a_made_up_token_is_refused(ctx: Context) -> None:
    for guess in ("", "bopo_", "bopo_" + "x" * 43, "Bearer", "x" * 500):
        with pytest.raises(AuthenticationFailed):
            users.authenticate_token(ctx, guess)


def test_using_a_token_records_when_at_most_once_a_minute(ctx: Context) -> None:
    users.add_user(ctx, "alice", "viewer", actor="test")
    token = users.create_token(ctx, "alice", actor="test")
    start = ctx.clock()
    ctx.clock = lambda: start
    users.authenticate_token(ctx, token.secret)
    ctx.clock = lambda: start + timedelta(seconds=30)
    users.authenticate_token(ctx, token.secret)
    assert users.list_tokens(ctx)[0].last_used_at == start
    ctx.clock = lambda: start + timedelta(seconds=90)
    users.authenticate_token(ctx, token.secret)
    assert users.list_tokens(ctx)[0].last_used_at == start + timedelta(seconds=90)


def test_bad_names_roles_and_short_passwords_are_refused_by_field(ctx: Context) -> None:
    with pytest.raises(InvalidInput) as caught:
        users.add_user(ctx, " ", "boss", password="short", actor="test")
    assert {e.field for e in caught.value.errors} == {"name", "role", "password"}
    users.add_user(ctx, "alice", "viewer", actor="test")
    with pytest.raises(Conflict):
        users.add_user(ctx, "alice", "admin", actor="test")
    with pytest.raises(NotFound):
        users.disable_user(ctx, "bob", actor="test")
    with pytest.raises(NotFound):
        users.revoke_token(ctx, 999, actor="test")


def test_users_and_tokens_leave_an_audit_trail(ctx: Context) -> None:
    users.add_user(ctx, "alice", "viewer", actor="cli:root")
    token = users.create_token(ctx, "alice", actor="cli:root")
    users.revoke_token(ctx, token.view.id, actor="cli:root")
    users.disable_user(ctx, "alice", actor="cli:root")
    with ctx.db.read() as conn:
        actions = conn.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["user.create", "token.create", "token.revoke", "user.disable"]


def test_the_demo_login_is_made_once_and_works(ctx: Context) -> None:
    demo.load_demo(ctx)
    first = users.ensure_demo_login(ctx)
    again = users.ensure_demo_login(ctx)
    assert first == again
    name, password, token = first
    assert users.login(ctx, name, password).role is Role.ADMIN
    assert users.authenticate_token(ctx, token).name == name
    assert len(users.list_users(ctx)) == len(users.list_tokens(ctx)) == 1


def test_there_is_no_demo_login_on_a_database_the_demo_did_not_load(ctx: Context) -> None:
    given_stock(ctx, A=5)  # a shop's own data
    with pytest.raises(Conflict, match="not loaded by `bopo demo`"):
        users.ensure_demo_login(ctx)
    assert users.list_users(ctx) == []
    assert users.list_tokens(ctx) == []


def test_each_role_may_do_what_the_roles_below_it_may() -> None:
    assert allows(Role.ADMIN, Role.OPERATOR)
    assert allows(Role.OPERATOR, Role.VIEWER)
    assert not allows(Role.VIEWER, Role.OPERATOR)
    assert not allows(Role.OPERATOR, Role.ADMIN)
