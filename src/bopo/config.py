"""Settings: one INI file, every key overridable by BOPO_<SECTION>__<KEY>.

Parsed once into a frozen Settings object that is passed where it is needed;
a bad or unknown key is reported by name when bopo starts, not at first use.
"""

from __future__ import annotations

import codecs
import configparser
import ipaddress
import os
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url

from bopo.domain.allocation import POLICIES
from bopo.domain.templating import RenderLimits
from bopo.errors import ConfigError

CONFIG_ENV = "BOPO_CONFIG"
DEFAULT_FILE = "bopo.ini"
_ENV_KEY = re.compile(r"^BOPO_([A-Z0-9_]+?)__([A-Z0-9_]+)$")


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
    # the longest it may take, and the most any part (or text built on the way) may hold.
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


FORMAT_SECTION = "format:"
# The fields of a sales order a mapping profile can fill, each from a column or a constant.
PROFILE_FIELDS = (
    "order_number",
    "customer_code",
    "customer_name",
    "customer_email",
    "order_date",
    "delivery_date",
    "line_no",
    "sku",
    "qty",
    "priority",
)
PROFILE_REQUIRED = ("order_number", "customer_email", "order_date", "sku", "qty")
BUILT_IN_FORMATS = ("bopo", "shopify", "amazon")
# What a [format:shopify] or [format:amazon] section may set: the rest is their own layout.
_BUILT_IN_KEYS = {
    "customer_code",
    "customer_name",
    "source",
    "delivery_lead_days",
    "encoding",
    "delimiter",
}


class FormatProfile(_Section):
    """A [format:NAME] section: how a shop's or an ERP's file maps to a sales order.

    Each field names the column it is read from, or holds a constant in double
    quotes (`customer_code = "BIGCLIENT"`). For shopify and amazon only a few
    choices are open (which column is the customer code, the source, the lead time).
    """

    name: str
    order_number: str | None = None
    customer_code: str | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    order_date: str | None = None
    delivery_date: str | None = None
    line_no: str | None = None
    sku: str | None = None
    qty: str | None = None
    priority: str | None = None
    source: str | None = Field(default=None, max_length=40)
    date_format: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    delivery_lead_days: int | None = Field(default=None, ge=0, le=365)

    @classmethod
    def for_section(cls, name: str, values: Mapping[str, str]) -> FormatProfile:
        data: dict[str, Any] = {k: (v.strip() or None) for k, v in values.items()}
        if name in BUILT_IN_FORMATS:
            extra = sorted(set(data) - _BUILT_IN_KEYS)
            if extra or name == "bopo":
                raise ValidationError.from_exception_data(
                    cls.__name__,
                    [
                        {
                            "type": "value_error",
                            "loc": (k,),
                            "input": data.get(k),
                            "ctx": {"error": ValueError(f"not a choice for the {name} format")},
                        }
                        for k in (extra or ["(section)"])
                    ],
                )
        return cls.model_validate({**data, "name": name})

    @field_validator("name")
    @classmethod
    def _a_name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", v):
            raise ValueError("a format's name is letters, digits, '_', '-' or '.'")
        return v

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(v, v)
        if len(v) != 1:
            raise ValueError("one character, or tab, comma, semicolon, pipe")
        return v

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return codecs.lookup(v).name
        except LookupError:
            raise ValueError(f"unknown encoding {v!r}") from None

    @field_validator("date_format")
    @classmethod
    def _a_date_format(cls, v: str | None) -> str | None:
        if v is None:
            return None
        sample = datetime(2026, 12, 31, 23, 59, 58)
        try:
            back = datetime.strptime(sample.strftime(v), v)
        except ValueError:
            raise ValueError(f"{v!r} does not read back the dates it writes") from None
        if back.date() != sample.date():
            raise ValueError(f"{v!r} must hold the day, month and year (e.g. %d/%m/%Y)")
        return v

    @model_validator(mode="after")
    def _mapped_fields(self) -> Self:
        if self.name in BUILT_IN_FORMATS:
            return self
        missing = [f for f in PROFILE_REQUIRED if getattr(self, f) is None]
        if missing:
            raise ValueError(
                f"a mapping profile needs {', '.join(missing)} (a column name, or a "
                '"constant" in double quotes)'
            )
        return self

    def column(self, fieldname: str) -> str | None:
        """The column a field is read from (None for a constant or an unset field)."""
        value = getattr(self, fieldname)
        if value is None or _is_constant(value):
            return None
        return str(value)

    def constant(self, fieldname: str) -> str | None:
        value = getattr(self, fieldname)
        return value[1:-1] if value is not None and _is_constant(value) else None


def _is_constant(value: str) -> bool:
    return len(value) >= 2 and value[0] == value[-1] == '"'


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


class Settings(_Section):
    database: DatabaseSettings = DatabaseSettings()
    backorders: BackorderSettings = BackorderSettings()
    email: EmailSettings = EmailSettings()
    smtp: SmtpSettings = SmtpSettings()
    server: ServerSettings = ServerSettings()
    import_: ImportSettings = Field(default=ImportSettings(), alias="import")
    shopify: ShopifySettings = ShopifySettings()
    # [format:NAME] sections: mapping profiles, and options of the shopify/amazon formats
    formats: dict[str, FormatProfile] = Field(default_factory=dict)
    worker: WorkerSettings = WorkerSettings()
    metrics: MetricsSettings = MetricsSettings()
    source: str = Field(default="(defaults)", exclude=True)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def masked(self) -> dict[str, dict[str, Any]]:
        """Every setting by section, secrets (and a password in the database URL) hidden."""
        data = {
            name: getattr(self, _ATTRS.get(name, name)).model_dump(mode="json")
            for name in _SECTIONS
        }
        data["database"]["url"] = make_url(self.database.url).render_as_string(hide_password=True)
        for name, profile in self.formats.items():
            data[f"format:{name}"] = profile.model_dump(
                mode="json", exclude_none=True, exclude={"name"}
            )
        return data

    def lead_days(self, source: str) -> int:
        """Days from order date to delivery date for a file that has none, by source."""
        for profile in self.formats.values():
            if profile.delivery_lead_days is not None and profile.source == source:
                return profile.delivery_lead_days
        named = self.formats.get(source)
        if named is not None and named.delivery_lead_days is not None:
            return named.delivery_lead_days
        return self.import_.delivery_lead_days


_SECTIONS: dict[str, type[_Section]] = {
    "database": DatabaseSettings,
    "backorders": BackorderSettings,
    "email": EmailSettings,
    "smtp": SmtpSettings,
    "server": ServerSettings,
    "import": ImportSettings,
    "shopify": ShopifySettings,
    "worker": WorkerSettings,
    "metrics": MetricsSettings,
}
_ATTRS = {"import": "import_"}
_SECRETS = {
    ("smtp", "password"),
    ("server", "secret_key"),
    ("shopify", "webhook_secret"),
    ("metrics", "token"),
}


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the INI (explicit path, else $BOPO_CONFIG, else ./bopo.ini if present) and env."""
    env = os.environ if env is None else env
    raw: dict[str, dict[str, str]] = {name: {} for name in _SECTIONS}
    problems: list[str] = []
    profiles: dict[str, dict[str, str]] = {}
    chosen = path or env.get(CONFIG_ENV)
    source = "(defaults)"
    if chosen is None and Path(DEFAULT_FILE).is_file():
        chosen = DEFAULT_FILE
    if chosen is not None:
        file = Path(chosen)
        if not file.is_file():
            raise ConfigError([f"config file {str(file)!r} does not exist"])
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(file, encoding="utf-8")
        except configparser.Error as exc:
            raise ConfigError([f"{file}: {exc}"]) from exc
        source = str(file)
        for section in parser.sections():
            if section.startswith(FORMAT_SECTION):
                profiles[section[len(FORMAT_SECTION) :].strip()] = dict(parser.items(section))
                continue
            if section not in raw:
                problems.append(f"[{section}]: unknown section")
                continue
            for key, value in parser.items(section):
                if (section, key) in _SECRETS:
                    problems.append(
                        f"[{section}] {key}: not read from the file; "
                        f"set BOPO_{section.upper()}__{key.upper()} instead"
                    )
                    continue
                raw[section][key] = value
    for name, value in env.items():
        match = _ENV_KEY.match(name)
        if not match:
            continue
        section, key = match.group(1).lower(), match.group(2).lower()
        if section not in raw:
            problems.append(f"{name}: unknown section [{section}]")
            continue
        raw[section][key] = value

    sections: dict[str, _Section] = {}
    for name, model in _SECTIONS.items():
        try:
            sections[name] = model.model_validate(raw[name])
        except ValidationError as exc:
            for err in exc.errors():
                key = ".".join(str(p) for p in err["loc"]) or "?"
                msg = err["msg"]
                if err["type"] == "extra_forbidden":
                    msg = "unknown key"
                elif err["type"] == "value_error":
                    msg = str(err.get("ctx", {}).get("error", msg))
                shown = raw[name].get(key)
                value = "" if shown is None or (name, key) in _SECRETS else f" (got {shown!r})"
                problems.append(f"[{name}] {key}: {msg}{value}")
    formats: dict[str, FormatProfile] = {}
    for name, values in profiles.items():
        try:
            formats[name] = FormatProfile.for_section(name, values)
        except ValidationError as exc:
            for err in exc.errors():
                key = ".".join(str(p) for p in err["loc"]) or "?"
                msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
                if err["type"] == "value_error":
                    msg = str(err.get("ctx", {}).get("error", msg))
                problems.append(f"[{FORMAT_SECTION}{name}] {key}: {msg}")
    if problems:
        raise ConfigError(problems)
    return Settings(
        **{_ATTRS.get(k, k): v for k, v in sections.items()}, formats=formats, source=source
    )
