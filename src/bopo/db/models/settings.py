"""Settings an admin changed while bopo runs (bopo.services.admin.runtime_settings)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from bopo.db.base import Base, UTCDateTime


class RuntimeSetting(Base):
    """A setting an admin changed while bopo runs ([backorders] allocate_existing_pos,
    default_po_line_status, policy): it replaces the INI's value until changed back.
    Every process reads it within a second (Context.backorders)."""

    __tablename__ = "runtime_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # "backorders.policy"
    value: Mapped[Any] = mapped_column(JSON, nullable=True)  # None: the setting is cleared
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(64))
