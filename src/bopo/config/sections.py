"""The INI file's sections, each a frozen model that checks its keys."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from bopo.domain.allocation import POLICIES
from bopo.domain.templating import RenderLimits


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatabaseSettings(_Section):
    url: str = "sqlite:///bopo.db"

    @field_validator("url")
    @classmethod
    def _known_backend(cls, v: str) -> str:
        if not v.startswith(("sqlite://", "postgresql")):
            raise ValueError("must be an sqlite:/// or postgresql+psycopg:// URL")
        return v


class BackorderSettings(_Section):
    allocate_existing_pos: bool = False
    default_po_line_status: str | None = None
    policy: str = "earliest_due"
    # One SO line may be covered by several PO lines (earliest due first) when no
    # single one can take it; off: whole or skip.
    allow_split: bool = False
    # Due-date notices: a move later by at least this many days tells the customers
    # linked to the PO line (BACK_ORDER_UPDATE), at most once per sales order per
    # notify_min_interval_hours (later moves wait and are merged into one email).
    notify_delay_days: int = Field(default=1, ge=1, le=3650)
    notify_min_interval_hours: float = Field(default=24, ge=0, le=24 * 365)

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, v: str) -> str:
        if v not in POLICIES:
            raise ValueError(f"unknown policy {v!r}; choose one of {', '.join(POLICIES)}")
        return v

    @field_validator("default_po_line_status")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None


class EmailSettings(_Section):
    from_address: str = "orders@example.com"
    company_name: str = "Our shop"
    max_attempts: int = Field(default=5, ge=1, le=100)
    # The mailer: emails claimed per batch (one SMTP connection each), how long a
    # claim holds before another mailer may take the emails over, and the wait
    # before retrying after a transient failure (doubling with each attempt).
    batch_size: int = Field(default=100, ge=1, le=10_000)
    lease_seconds: int = Field(default=300, ge=1, le=86_400)
    retry_delay_seconds: int = Field(default=60, ge=0, le=86_400)
    # Rendering one email from a template (at save, preview, intake, status change):
    # the most CPU time it may take, and the most any part (or text built on the way)
    # may hold.
    template_time_limit_ms: int = Field(default=200, ge=10, le=10_000)
    template_max_bytes: int = Field(default=256 * 1024, ge=16 * 1024, le=16 * 1024 * 1024)

    @property
    def render_limits(self) -> RenderLimits:
        return RenderLimits(self.template_time_limit_ms, self.template_max_bytes)

    @field_validator("from_address")
    @classmethod
    def _an_address(cls, v: str) -> str:
        v = v.strip()
        local, _, domain = v.rpartition("@")
        if not local or "." not in domain or any(c in v for c in " <>,;\r\n"):
            raise ValueError("must be an email address such as orders@example.com")
        return v


class SmtpSettings(_Section):
    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None  # only from BOPO_SMTP__PASSWORD
    timeout: float = Field(default=30.0, gt=0)


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Threads per worker process that run requests' blocking work. Python runs
    # one of them at a time: beyond a few, more only lengthen the slowest
    # responses (measured: p99 70 ms with 3, 150-190 ms with 40, on 2 cores).
    request_threads: int = Field(default=3, ge=1, le=64)
    # Requests that run long (imports, sending emails now) have threads of their own.
    long_threads: int = Field(default=2, ge=1, le=16)
    # Signs the web UI's session cookies; only from BOPO_SERVER__SECRET_KEY. Without
    # it `bopo serve` makes one per process, which is refused where that would log
    # people out at random (several workers, PostgreSQL): see web/app.py.
    secret_key: SecretStr | None = None
    # Log lines as `text` for people, or `json` (one object per line) for a log shipper.
    log_format: Literal["text", "json"] = "text"

    # Proxies (addresses or networks) whose X-Forwarded-Proto and X-Forwarded-For are
    # believed: the scheme makes the session cookie Secure, the client address is the one
    # the sign-in throttle counts. Nobody else's are. uvicorn's own default, 127.0.0.1.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _a_list(cls, v: object) -> object:
        if isinstance(v, str):
            return tuple(part for part in re.split(r"[\s,]+", v) if part)
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad, good = [], []
        for entry in v:
            try:
                net = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                bad.append(entry)
                continue
            good.append(str(net) if "/" in entry else str(net.network_address))
        if bad:
            raise ValueError(
                f"not an IP address or network: {', '.join(map(repr, bad))} "
                "(list the proxies' addresses, e.g. 127.0.0.1, 10.0.0.0/8; empty for none)"
            )
        return tuple(good)

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return v


class ImportSettings(_Section):
    # Files that carry no delivery date (Shopify, Amazon, most ERPs) get the order
    # date plus this many days; a [format:NAME] section may say otherwise for its source.
    delivery_lead_days: int = Field(default=2, ge=0, le=365)


class ShopifySettings(_Section):
    # The shared secret that signs Shopify's webhooks; only from BOPO_SHOPIFY__WEBHOOK_SECRET.
    # Without it the webhook route refuses every call.
    webhook_secret: SecretStr | None = None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_duration(text: str | float) -> float | None:
    """Seconds from `30s`, `15m`, `2h`, `1d` or a bare number of seconds; `off` is None."""
    if isinstance(text, int | float):
        seconds = float(text)
    elif text.strip().lower() in {"off", "never", "0"}:
        return None
    elif (match := _DURATION.match(text.lower())) is None:
        raise ValueError("must be a duration such as 30s, 15m, 1h or 1d, or off")
    else:
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if not 1 <= seconds <= 7 * 86_400:
        raise ValueError("must be from 1s to 7d, or off")
    return seconds


class WorkerSettings(_Section):
    """How often `bopo worker` runs each recurring job (seconds; None: never)."""

    # The batch mailer. Turn it off here when `bopo emails send --loop` runs on its own.
    send_emails_every: float | None = 30.0
    # Due-date notices held back by notify_min_interval_hours, sent once their hold ends.
    notices_every: float | None = 300.0
    # The backorder worklist, retried against new stock and POs (`bopo allocate`).
    worklist_retry_every: float | None = 900.0

    @field_validator("send_emails_every", "notices_every", "worklist_retry_every", mode="before")
    @classmethod
    def _duration(cls, v: str | float | None) -> float | None:
        return None if v is None else parse_duration(v)


class MetricsSettings(_Section):
    # A bearer token Prometheus presents on /metrics; only from BOPO_METRICS__TOKEN.
    token: SecretStr | None = None

    @field_validator("token")
    @classmethod
    def _long_enough(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (e.g. `openssl rand -hex 16`)")
        return v
