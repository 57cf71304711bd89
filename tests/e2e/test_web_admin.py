"""Administration in the pages: only admins see it, and what each action does."""

from __future__ import annotations

import re

import pytest

from bopo.domain.roles import Role
from bopo.errors import AuthenticationFailed
from bopo.services.admin import users
from tests.e2e.conftest import Web
from tests.helpers import day, given_po, given_status, given_stock

V, OP, A = Role.VIEWER, Role.OPERATOR, Role.ADMIN


def test_only_an_admin_sees_users_in_the_menu(web: Web) -> None:
    web.sign_in(OP)
    assert 'href="/admin"' not in web.client.get("/").text
    assert web.client.get("/admin").status_code == 403
    web.sign_in(A)
    assert 'href="/admin"' in web.client.get("/").text


def test_an_admin_adds_a_user_who_can_then_sign_in(web: Web) -> None:
    web.sign_in(A)
    form = {"name": "ines", "role": "operator", "password": "a-long-password"}
    assert web.act("/admin/users", form) == ["User ines added as operator: they can sign in now."]
    assert web.act("/admin/users", form) == ["user 'ines' exists already"]
    said = web.act("/admin/users", form | {"name": "x y", "password": "short"})
    assert said[0].startswith("name: 1 to 64 letters")
    assert "password: must be at least" in said[0]
    web.client.cookies.clear()
    answer = web.post("/login", {"name": "ines", "password": "a-long-password"}, token=web.csrf())
    assert answer.status_code == 303
    assert "ines <small>(operator)</small>" in web.client.get("/").text


def test_an_admin_disables_a_user_but_not_themselves(web: Web) -> None:
    web.sign_in(A)
    page = web.client.get("/admin").text
    assert 'aria-label="Disable operator"' in page
    assert 'aria-label="Disable admin"' not in page
    said = web.act("/admin/users/disable", {"name": "operator"})
    assert said == ["User operator disabled: their sessions and API tokens no longer work."]
    assert web.act("/admin/users/disable", {"name": "admin"}) == [
        "you cannot disable yourself: ask another admin"
    ]
    active = {u.name: u.active for u in users.list_users(web.ctx)}
    assert (active["operator"], active["admin"]) == (False, True)


def test_a_new_tokens_secret_is_shown_once_and_works_until_revoked(web: Web) -> None:
    web.sign_in(A)
    answer = web.post("/admin/tokens", {"user": "viewer", "name": "web shop"})
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    found = re.search(r'<code id="new-secret">([^<]+)</code>', answer.text)
    assert found
    secret = found.group(1)
    bearer = {"Authorization": f"Bearer {secret}"}
    assert web.client.get("/api/stock-items", headers=bearer).status_code == 200
    assert secret not in web.client.get("/admin").text  # shown once
    token = next(t for t in users.list_tokens(web.ctx) if t.name == "web shop")
    said = web.act("/admin/tokens/revoke", {"id": str(token.id)})
    assert said == [f"Token {token.prefix}… of viewer (web shop) revoked."]
    with pytest.raises(AuthenticationFailed):  # the API stops taking it within 5 s
        users.authenticate_token(web.ctx, secret)
    assert web.act("/admin/tokens/revoke", {"id": "999"}) == ["API token 999 not found"]


def test_an_admin_keeps_statuses_by_the_code_rule_renames_and_retires_them(web: Web) -> None:
    given_stock(web.ctx, A=0)
    given_status(web.ctx, "DELAYED")
    given_status(web.ctx, "ON ORDER")
    given_po(web.ctx, "PO-1", ("A", 5, day(5), "DELAYED"), ("A", 5, day(5), "ON ORDER"))
    web.sign_in(OP)
    page = web.client.get("/system").text
    assert 'aria-label="Retire DELAYED"' not in page
    assert 'aria-label="Rename DELAYED"' not in page
    web.sign_in(A)
    said = web.act("/system/statuses", {"code": "bad code!", "name": "Bad"})
    assert said == [
        "code: 'BAD CODE!' is not a status code: 1 to 32 capital letters, digits, spaces, - or _"
    ]
    said = web.act("/system/statuses/rename", {"code": "DELAYED", "name": "Late at the supplier"})
    assert said == ["DELAYED is now called Late at the supplier."]
    said = web.act("/system/statuses/retire", {"code": "DELAYED"})
    assert said == [
        "DELAYED retired: it stays on the PO lines that have it and is given to no new one."
    ]
    page = web.client.get("/system").text
    assert "retired</span>" in page
    assert 'aria-label="Retire DELAYED"' not in page
    # PO-1's page offers DELAYED to the line that has it, and to no other
    po_page = web.client.get("/purchase-orders/PO-1").text
    assert po_page.count('<option value="DELAYED"') == 1
    said = web.act("/purchase-orders/PO-1", {"action": "status", "line_no": 2, "status": "DELAYED"})
    assert said == ["PO line status DELAYED is retired: choose another"]
