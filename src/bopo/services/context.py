"""What every use case needs: the database, the settings, the clock, compiled templates."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from bopo.config import BackorderSettings, Settings
from bopo.db.engine import Database
from bopo.db.models import PoLineStatus, RuntimeSetting
from bopo.domain.allocation import AllocationRules
from bopo.domain.templating import TemplateCache
from bopo.errors import ConfigError


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    db: Database
    settings: Settings
    clock: Callable[[], datetime] = utcnow
    templates: TemplateCache = field(default_factory=TemplateCache, repr=False)
    _default_status: tuple[str, int] | None = field(default=None, init=False, repr=False)
    # The [backorders] settings in effect, when they were read (time.monotonic()) and
    # the file's settings they were made from (replaced settings are read afresh).
    _backorders: tuple[float, BackorderSettings, BackorderSettings] | None = field(
        default=None, init=False, repr=False
    )
    _rules: tuple[BackorderSettings, AllocationRules] | None = field(
        default=None, init=False, repr=False
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        return cls(Database(settings.database.url), settings)

    def backorders(self, conn: Connection | None = None) -> BackorderSettings:
        """[backorders] as in effect: the INI's values with an admin's run-time changes
        (bopo.services.admin.runtime_settings) over them. Read again once RUNTIME_TTL has
        passed, so a change made on any node counts everywhere within that, without a
        restart."""
        cached, base = self._backorders, self.settings.backorders
        now = time.monotonic()  # a duration, not the day: the one clock is not needed
        if cached is not None and now - cached[0] < RUNTIME_TTL and cached[2] is base:
            return cached[1]
        if conn is None:
            with self.db.read() as own:
                changed = _runtime_settings(own)
        else:
            changed = _runtime_settings(conn)
        effective = base.model_copy(update=changed)
        self._backorders = (now, effective, base)
        return effective

    def forget_runtime_settings(self) -> None:
        """Read them again at the next use (this process just changed one)."""
        self._backorders = None

    def rules(self, conn: Connection) -> AllocationRules:
        """The allocation settings in effect, with the default status resolved to its id.

        A found id is kept (statuses are never deleted while referenced); a
        missing one is looked up again next time, so adding it takes effect.
        """
        cfg = self.backorders(conn)
        code = cfg.default_po_line_status
        if code and (self._default_status is None or self._default_status[0] != code):
            found = conn.scalar(select(PoLineStatus.id).where(PoLineStatus.code == code))
            if found is None:
                raise ConfigError([_missing_status(code)])
            self._default_status = (code, found)
        status_id = self._default_status[1] if code and self._default_status else None
        made = self._rules
        if made is not None and made[0] is cfg and made[1].default_status_id == status_id:
            return made[1]  # every order asks: the same settings make the same rules
        rules = AllocationRules(
            enabled=cfg.allocate_existing_pos,
            default_status_id=status_id,
            policy=cfg.policy,
            allow_split=cfg.allow_split,
        )
        self._rules = (cfg, rules)
        return rules

    def check(self) -> None:
        """Settings that depend on the database: report them at start, by name."""
        with self.db.read() as conn:
            self.rules(conn)


RUNTIME_TTL = 1.0  # seconds a process keeps the run-time settings it read
SECTION = "backorders."


def _runtime_settings(conn: Connection) -> dict[str, Any]:
    rows = conn.execute(select(RuntimeSetting.name, RuntimeSetting.value))
    return {name.removeprefix(SECTION): value for name, value in rows if name.startswith(SECTION)}


def _missing_status(code: str) -> str:
    return (
        f"[backorders] default_po_line_status: there is no PO line status {code!r} "
        f"(add it with `bopo statuses add`)"
    )
