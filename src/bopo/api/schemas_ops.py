"""Schemas of the operators' routes: probes and recurring jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel


class Live(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]
    # current: the newest migration this bopo knows; newer: a newer bopo's (rolling upgrade)
    migrations: Literal["current", "newer"]


class JobRunRead(BaseModel):
    job: str
    tick: datetime
    worker: str
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    result: Literal["running", "ok", "failed"]
    summary: dict[str, Any] | None
    error: str | None


class JobStatusRead(BaseModel):
    job: str
    what: str
    every_seconds: float | None
    last_run: JobRunRead | None
    failures: int
