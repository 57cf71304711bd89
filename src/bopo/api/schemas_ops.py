"""Schemas of the operators' probes (the jobs route answers with the service's JobStatus)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Live(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]
    # current: the newest migration this bopo knows; newer: a newer bopo's (rolling upgrade)
    migrations: Literal["current", "newer"]
