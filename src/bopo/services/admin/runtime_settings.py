"""Settings an admin changes while bopo runs: the allocation switch, the default PO line
status and the allocation policy.

The INI (and the environment) gives their starting values; a change made in bopo is
kept in the database (runtime_settings), audited as `settings.change` with before and
after, and counts in every process within a second (Context.backorders): nobody is
signed out, nothing restarts. Changing one back to the file's value removes the row.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select

from bopo.db.audit import event
from bopo.db.models import AuditEvent, PoLineStatus, RuntimeSetting
from bopo.domain.allocation import POLICIES
from bopo.errors import FieldError, InvalidInput
from bopo.services.context import SECTION, Context

CHANGEABLE = ("allocate_existing_pos", "default_po_line_status", "policy")


@dataclass(frozen=True, slots=True)
class SettingChange:
    key: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class SettingOrigin:
    """A setting's value in effect and where it comes from."""

    section: str
    key: str
    value: Any
    origin: str  # "default", "file bopo.ini", "environment BOPO_X__Y", "changed by NAME at T"


def change_backorders(ctx: Context, *, actor: str, **wanted: Any) -> list[SettingChange]:
    """Set some of CHANGEABLE (None for default_po_line_status clears it). Each is checked
    first (a known policy, an existing status not retired) and nothing changes if any
    is wrong; values equal to those in effect are left alone."""
    unknown = sorted(set(wanted) - set(CHANGEABLE))
    if unknown:
        raise InvalidInput([FieldError(k, "cannot be changed while bopo runs") for k in unknown])
    now = ctx.clock()
    with ctx.db.write() as conn:
        current = ctx.backorders(conn)
        checked = _checked(conn, wanted)
        file = ctx.settings.backorders
        changes = [
            SettingChange(key, getattr(current, key), value)
            for key, value in checked.items()
            if getattr(current, key) != value
        ]
        for c in changes:
            name = SECTION + c.key
            conn.execute(delete(RuntimeSetting).where(RuntimeSetting.name == name))
            if c.after != getattr(file, c.key):  # the file's own value needs no row
                conn.execute(
                    insert(RuntimeSetting).values(
                        name=name, value=c.after, changed_at=now, changed_by=actor
                    )
                )
        if changes:
            conn.execute(
                insert(AuditEvent),
                [
                    event(now, actor, "settings.change", "settings", 0,
                          {c.key: c.before}, {c.key: c.after, "section": "backorders"})
                    for c in changes
                ],
            )  # fmt: skip
    ctx.forget_runtime_settings()
    return changes


def _checked(conn: Any, wanted: dict[str, Any]) -> dict[str, Any]:
    problems = []
    out = dict(wanted)
    if "policy" in wanted and wanted["policy"] not in POLICIES:
        problems.append(
            FieldError("policy", f"unknown policy {wanted['policy']!r}; choose one of "
                       + ", ".join(POLICIES))
        )  # fmt: skip
    if "allocate_existing_pos" in wanted and not isinstance(wanted["allocate_existing_pos"], bool):
        problems.append(FieldError("allocate_existing_pos", "must be true or false"))
    if "default_po_line_status" in wanted:
        code = (wanted["default_po_line_status"] or "").strip().upper() or None
        out["default_po_line_status"] = code
        if code is not None:
            retired = conn.scalar(
                select(PoLineStatus.retired_at.is_not(None)).where(PoLineStatus.code == code)
            )
            if retired is None:
                problems.append(FieldError("default_po_line_status", f"no status {code}"))
            elif retired:
                problems.append(FieldError("default_po_line_status", f"{code} is retired"))
    if problems:
        raise InvalidInput(problems)
    return out


def origins(ctx: Context) -> list[SettingOrigin]:
    """Every setting in effect (secrets masked) and where its value comes from: a change
    made in bopo, an environment variable, the file, or the default."""
    with ctx.db.read() as conn:
        changed = {
            r.name: r
            for r in conn.execute(
                select(RuntimeSetting.name, RuntimeSetting.changed_by, RuntimeSetting.changed_at)
            ).all()
        }
        effective = ctx.backorders(conn)
    shown = ctx.settings.masked()
    shown["backorders"] = {k: getattr(effective, k) for k in shown["backorders"]}
    out = []
    for section, values in shown.items():
        in_file = _keys_in_file(ctx.settings.source, section)
        for key, value in values.items():
            env = f"BOPO_{section.upper()}__{key.upper()}"
            if f"{section}.{key}" in changed:
                row = changed[f"{section}.{key}"]
                origin = f"changed by {row.changed_by} at {row.changed_at:%Y-%m-%d %H:%M} UTC"
            elif env in os.environ:
                origin = f"environment {env}"
            elif key in in_file:
                origin = f"file {ctx.settings.source}"
            else:
                origin = "default"
            out.append(SettingOrigin(section, key, value, origin))
    return out


def _keys_in_file(source: str, section: str) -> set[str]:
    if not Path(source).is_file():
        return set()
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(source, encoding="utf-8")
    return set(parser[section]) if parser.has_section(section) else set()
