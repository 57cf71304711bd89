"""Keeping bopo: people and their roles, a token for the ERP, statuses, the audit trail.

Told in order, as the shop's administrator does it: the first admin is made from the
command line; she adds an operator and the ERP's account, gives the ERP a token, keeps
the PO line statuses (one renamed, one retired), takes a token back and a leaver's
account away, and reads in the audit trail who did what.
"""

from __future__ import annotations

import pytest

from bopo.domain.roles import Role, allows
from bopo.errors import AuthenticationFailed, Conflict
from bopo.services.admin import audit, statuses, users
from bopo.services.context import Context
from bopo.services.orders.intake import take_order
from bopo.services.supply import catalog
from bopo.services.supply.status_change import set_po_line_status
from tests.helpers import day, given_po, given_stock, order, po_line_of


def test_an_administrator_keeps_the_shop_in_order(
    ctx: Context,
) -> None:  # long: one story, read top to bottom
    # --- Day one: the first admin is made on the server's command line ------------------------
    users.add_user(ctx, "ines", "admin", password="ines-password-1", actor="cli:root")
    assert users.login(ctx, "ines", "ines-password-1").role is Role.ADMIN

    # --- Ines adds Anna, an operator, and an account for the ERP (tokens only) ----------------
    users.add_user(ctx, "anna", "operator", password="anna-password-1", actor="web:ines")
    users.add_user(ctx, "erp", "operator", actor="web:ines")
    assert [(u.name, u.role, u.active, u.has_password) for u in users.list_users(ctx)] == [
        ("anna", Role.OPERATOR, True, True),
        ("erp", Role.OPERATOR, True, False),
        ("ines", Role.ADMIN, True, True),
    ]

    # --- Anna signs in: she may work orders, not keep system data -----------------------------
    anna = users.login(ctx, "anna", "anna-password-1")
    assert (allows(anna.role, Role.OPERATOR), allows(anna.role, Role.ADMIN)) == (True, False)
    with pytest.raises(AuthenticationFailed):
        users.login(ctx, "anna", "a wrong guess")

    # --- Ines makes the ERP a token: its secret is shown this once ----------------------------
    made = users.create_token(ctx, "erp", name="nightly orders", actor="web:ines")
    assert made.secret.startswith("bopo_")
    [listed] = users.list_tokens(ctx, "erp")
    assert (listed.name, listed.prefix, listed.revoked_at) == (
        "nightly orders",
        made.secret[:11],
        None,
    )
    # The ERP calls with it and is known as api:erp.
    erp = users.authenticate_token(ctx, made.secret)
    assert (erp.name, erp.role, erp.actor) == ("erp", Role.OPERATOR, "api:erp")

    # --- The ERP sends an order; its changes are its own in the trail -------------------------
    given_stock(ctx, KETTLE=5)
    taken = take_order(ctx, order("ERP-1", ("KETTLE", 2)), actor=erp.actor)
    assert taken.lines[0].describe() == "2 from stock"

    # --- Ines keeps the PO line statuses ------------------------------------------------------
    catalog.add_status(ctx, "on order", "On order", actor="web:ines")
    catalog.add_status(ctx, "DELAYED", "Delayed", actor="web:ines")
    given_po(ctx, "PO-1", ("KETTLE", 5, day(5), "DELAYED"), ("KETTLE", 5, day(9), "ON ORDER"))
    # A clearer name; the code stays, as files and settings use it.
    renamed = statuses.rename_status(ctx, "ON ORDER", "On order with supplier", actor="web:ines")
    assert (renamed.code, renamed.name, renamed.changed) == (
        "ON ORDER",
        "On order with supplier",
        True,
    )
    # DELAYED is retired: kept where it is used, given to no PO line from now on.
    assert statuses.retire_status(ctx, "DELAYED", actor="web:ines").changed
    assert [
        (s.code, s.name, s.po_lines, s.retired_at is not None) for s in catalog.list_statuses(ctx)
    ] == [
        ("DELAYED", "Delayed", 1, True),
        ("ON ORDER", "On order with supplier", 1, False),
    ]
    assert po_line_of(ctx, "PO-1", 1).status == "DELAYED"
    with pytest.raises(Conflict) as refused:
        set_po_line_status(ctx, "PO-1", 2, "DELAYED", actor="web:anna")
    assert str(refused.value) == "PO line status DELAYED is retired: choose another"
    assert po_line_of(ctx, "PO-1", 2).status == "ON ORDER"

    # --- The ERP's token leaked into a log: Ines revokes it -----------------------------------
    assert users.revoke_token(ctx, made.view.id, actor="web:ines").revoked_at is not None
    with pytest.raises(AuthenticationFailed):
        users.authenticate_token(ctx, made.secret)

    # --- Anna leaves the company: her account is disabled, her history stays ------------------
    assert not users.disable_user(ctx, "anna", actor="web:ines").active
    with pytest.raises(AuthenticationFailed):
        users.login(ctx, "anna", "anna-password-1")

    # --- The audit trail: who did what, newest first ------------------------------------------
    by_ines = audit.find_audit(ctx, actor="ines").items
    assert [(row.actor, row.action) for row in by_ines] == [
        ("web:ines", "user.disable"),
        ("web:ines", "token.revoke"),
        ("web:ines", "status.retire"),
        ("web:ines", "status.rename"),
        ("web:ines", "status.create"),
        ("web:ines", "status.create"),
        ("web:ines", "token.create"),
        ("web:ines", "user.create"),
        ("web:ines", "user.create"),
    ]
    rename = next(row for row in by_ines if row.action == "status.rename")
    assert (rename.before, rename.after) == (
        {"name": "On order"},
        {"name": "On order with supplier"},
    )
    # The first admin came from the command line.
    [first] = audit.find_audit(ctx, actor="root").items
    assert (first.action, first.after) == ("user.create", {"role": "admin"})
    # The ERP's order set 2 kettles aside from stock, under its own name.
    [by_erp] = audit.find_audit(ctx, actor="erp").items
    assert (by_erp.actor, by_erp.action, by_erp.before) == (
        "api:erp",
        "stock.assign",
        {"assigned": 0},
    )
    assert (by_erp.after or {}).get("assigned") == 2
