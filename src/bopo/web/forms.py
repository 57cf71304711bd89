"""Reading form fields, and saying in one line what went wrong.

A bad field raises InvalidInput naming it, the same error the services raise,
so a route handles both the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError
from starlette.datastructures import FormData

from bopo.errors import BopoError, FieldError, InvalidInput, NotFound
from bopo.services.common.refusals import refusal
from bopo.services.files.parsing import _say as plain_message  # the import reports' wording
from bopo.web.session import flash
from bopo.web.urls import local_path

T = TypeVar("T")
log = logging.getLogger(__name__)


def text(form: FormData, name: str, *, required: bool = True, max_length: int = 200) -> str:
    value = form.get(name)
    value = value.strip() if isinstance(value, str) else ""
    if required and not value:
        raise InvalidInput([FieldError(name, "is required")])
    if len(value) > max_length:
        raise InvalidInput([FieldError(name, f"must be at most {max_length} characters")])
    return value


def whole(form: FormData, name: str, *, low: int = 1, high: int = 1_000_000) -> int:
    raw = text(form, name, max_length=20).replace(",", "")
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput([FieldError(name, f"must be a whole number, not {raw!r}")]) from None
    if not low <= value <= high:
        raise InvalidInput([FieldError(name, f"must be from {low:,} to {high:,}")])
    return value


def optional_date(form: FormData, name: str) -> date | None:
    raw = text(form, name, required=False, max_length=20)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(
            [FieldError(name, f"must be a date as YYYY-MM-DD, not {raw!r}")]
        ) from None


def query_date(raw: str | None) -> date | None:
    """A date filter from the query string; a bad one is ignored rather than an error page."""
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def say(exc: BopoError) -> str:
    """An error in one line for a flash message: each bad field by name."""
    if isinstance(exc, InvalidInput):
        return "; ".join(f"{e.field.replace('_', ' ')}: {e.message}" for e in exc.errors)
    if isinstance(exc, NotFound):
        return f"{exc.entity} {exc.key} not found"
    return str(exc)


def act(
    request: Request, back: str, run: Callable[[], str], *, then: Callable[[], str] | None = None
) -> RedirectResponse:
    """Run an action; go back to `back` with what it did, or why it did nothing. `then`
    names the page to go to once it is done, when that depends on what it did."""
    try:
        message = run()
    except BopoError as exc:
        flash(request, "error", say(exc))
    except (IntegrityError, DataError) as exc:  # a clash with a change made meanwhile, say
        said = refusal(exc)
        log.info("refused by the database on %s: %s", request.url.path, said.detail)
        flash(request, "error", f"Nothing was changed: {said.message}.")
    else:
        flash(request, "ok", message)
        back = then() if then else back
    return RedirectResponse(local_path(back), status_code=303)


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 line', '3 lines'."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def field_errors(exc: ValidationError, whole: str) -> list[FieldError]:
    """A form's typed-in problems by field, each line's by its number:
    ("lines", 0, "qty") -> qty on line 1; ("customer", "email") -> customer email."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        place = ""
        if len(loc) >= 2 and loc[0] == "lines" and loc[1].isdigit():
            place, loc = f"line {int(loc[1]) + 1}", loc[2:]
        name = " ".join(loc).replace("_", " ") or whole
        out.append(FieldError(name, plain_message(err), place))
    return out
