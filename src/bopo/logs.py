"""Log lines, and the request id that ties a request's log lines and audit rows together.

`[server] log_format = json` writes one JSON object per line (time, level, logger,
message, request_id, and whatever `extra={...}` a call passed); `text` is for people.
The request id lives in a context variable: set by the API's middleware for each
request, it follows the request's work onto the thread pool (anyio copies the
context), so every log line and audit row written meanwhile carries it.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id: ContextVar[str | None] = ContextVar("bopo_request_id", default=None)

# What a client may send as X-Request-ID: short, printable, no spaces or quotes, so it
# can go into a header, a log line and the audit trail as it is.
_SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,99}$")


def current_request_id() -> str | None:
    return request_id.get()


def accept_request_id(incoming: str | None) -> str:
    """The client's id when it is sane, else a new one."""
    if incoming and _SANE_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "request_id", "request_id_text", "taskName", "color_message"}
)


class RequestIdFilter(logging.Filter):
    """Gives every record a `request_id` (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        record.request_id_text = getattr(record, "request_id", None) or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            # The moment the line was written: the logging system's own stamp, not
            # bopo's business clock (which tests pin and which never moves on its own).
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


_TEXT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id_text)s] %(message)s"


def logging_config(log_format: str, level: str = "INFO") -> dict[str, Any]:
    """A dictConfig for bopo's and uvicorn's loggers, in the format chosen."""
    formatter: dict[str, Any] = (
        {"()": "bopo.logs.JsonFormatter"} if log_format == "json" else {"format": _TEXT}
    )
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": "default",
        "filters": ["request_id"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "bopo.logs.RequestIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            # uvicorn's own handlers are replaced by ours: one format for every line.
            **{
                name: {"handlers": [], "level": level, "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # The readiness probe asks Alembic for the schema's revision: not news.
            "alembic": {"level": "WARNING"},
        },
    }


def configure_logging(log_format: str, level: str = "INFO") -> None:
    logging.config.dictConfig(logging_config(log_format, level))
