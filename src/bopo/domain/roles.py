"""Who may do what: three roles, each allowed everything the one below it may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """viewer reads; operator also works orders, associations, goods-in and emails;
    admin also keeps system data, settings and users."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


def allows(role: Role, needed: Role) -> bool:
    """Whether a user with `role` may do what needs `needed`."""
    return _RANK[role] >= _RANK[needed]
