"""What every use case needs: the database, the settings, the clock, compiled templates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from bopo.config import Settings
from bopo.db.engine import Database
from bopo.db.models import PoLineStatus
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
    _default_status_id: int | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        return cls(Database(settings.database.url), settings)

    def rules(self, conn: Connection) -> AllocationRules:
        """The allocation settings, with the default status resolved to its id.

        A found id is kept (statuses are never deleted while referenced); a
        missing one is looked up again next time, so adding it takes effect.
        """
        cfg = self.settings.backorders
        if cfg.default_po_line_status and self._default_status_id is None:
            self._default_status_id = conn.scalar(
                select(PoLineStatus.id).where(PoLineStatus.code == cfg.default_po_line_status)
            )
            if self._default_status_id is None:
                raise ConfigError([_missing_status(cfg.default_po_line_status)])
        return AllocationRules(
            enabled=cfg.allocate_existing_pos,
            default_status_id=self._default_status_id if cfg.default_po_line_status else None,
            policy=cfg.policy,
            allow_split=cfg.allow_split,
        )

    def check(self) -> None:
        """Settings that depend on the database: report them at start, by name."""
        with self.db.read() as conn:
            self.rules(conn)


def _missing_status(code: str) -> str:
    return (
        f"[backorders] default_po_line_status: there is no PO line status {code!r} "
        f"(add it with `bopo statuses add`)"
    )
