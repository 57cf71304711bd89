"""Every error as application/problem+json (RFC 9457), from one place.

bopo's errors map to 404, 409 and 422; FastAPI's validation errors to 422 with
the field and message of each; anything the database refuses to store to 422
or 409 (said in words, never with the database's own message: see
services/common/refusals.py), so that no input can produce a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bopo.errors import (
    AuthenticationFailed,
    BopoError,
    ConfigError,
    Conflict,
    FieldError,
    InvalidInput,
    InvalidTransition,
    NotFound,
)
from bopo.services.common.refusals import refusal
from bopo.services.files.parsing import _say as plain_message  # the same wording as import reports

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class ProblemField(BaseModel):
    field: str = Field(description="The bad value's place, e.g. `lines[0].qty` or `limit`.")
    message: str
    location: str | None = Field(default=None, description="body, query, path or a place in a file")


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[ProblemField] | None = None


class ApiProblem(Exception):
    """Raised by the API layer itself (authentication, permissions, uploads)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        errors: Sequence[ProblemField] = (),
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.headers = headers
        self.errors = list(errors)


def problem(
    status: int,
    detail: str | None = None,
    *,
    kind: str | None = None,
    errors: Sequence[ProblemField] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"urn:bopo:problem:{kind}" if kind else "about:blank",
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        errors=list(errors) or None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def field_errors(errors: Sequence[FieldError]) -> list[ProblemField]:
    return [
        ProblemField(field=e.field, message=e.message, location=e.place or None) for e in errors
    ]


def _field_name(loc: Sequence[Any]) -> tuple[str, str | None]:
    """("body", "lines", 0, "qty") -> ("lines[0].qty", "body")."""
    where = str(loc[0]) if loc and loc[0] in {"body", "query", "path", "header"} else None
    name = ""
    for part in loc[1:] if where else loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or (where or "request"), where


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        name, where = _field_name(err.get("loc", ()))
        errors.append(ProblemField(field=name, message=plain_message(err), location=where))
    return problem(422, "the request is not valid", kind="validation", errors=errors)


async def _bopo(_: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, InvalidInput):
        return problem(422, str(exc), kind="validation", errors=field_errors(exc.errors))
    if isinstance(exc, NotFound):
        return problem(404, str(exc), kind="not-found")
    if isinstance(exc, InvalidTransition):
        return problem(409, str(exc), kind="invalid-transition")
    if isinstance(exc, Conflict):
        return problem(409, str(exc), kind="conflict")
    if isinstance(exc, AuthenticationFailed):
        return problem(401, str(exc), kind="unauthenticated", headers=_CHALLENGE)
    if isinstance(exc, ConfigError):
        log.error("configuration problem: %s", exc)
        return problem(500, "bopo is not configured correctly; see the server log", kind="config")
    return problem(422, str(exc), kind="refused")


async def _api_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    return problem(exc.status, exc.detail, kind=exc.kind, errors=exc.errors, headers=exc.headers)


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem(exc.status_code, str(exc.detail), headers=exc.headers)


async def _database(request: Request, exc: Exception) -> JSONResponse:
    # A value the checks above let through but the database will not store (a NUL
    # byte in PostgreSQL text, a number out of range, a row that clashes with one
    # stored meanwhile): said in words; the driver's message, which names tables and
    # constraints, goes to the log only.
    assert isinstance(exc, DBAPIError)
    said = refusal(exc)
    if said.status == 503:
        log.error("database unavailable on %s: %s", request.url.path, said.detail)
    else:
        log.info("refused by the database on %s: %s", request.url.path, said.detail)
    return problem(said.status, said.message, kind=said.kind)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return problem(500, "an unexpected error; it has been logged", kind="internal")


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(BopoError, _bopo)
    app.add_exception_handler(ApiProblem, _api_problem)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(IntegrityError, _database)
    app.add_exception_handler(DataError, _database)
    app.add_exception_handler(OperationalError, _database)
    app.add_exception_handler(Exception, _unexpected)


_DESCRIPTIONS = {
    401: "No token, or a token that is not valid",
    403: "The token's role may not do this",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "The upload is too large",
    422: "The request is not valid; `errors` names each bad field",
    503: "The database is not available",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems a route can answer with."""
    return {code: {"model": Problem, "description": _DESCRIPTIONS[code]} for code in codes}


def problem_content_types(schema: dict[str, Any]) -> dict[str, Any]:
    """Say application/problem+json, not application/json, for every error response,
    and that a body which cannot be parsed at all gets a 400."""
    problem_ref = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            if "requestBody" in operation:
                operation["responses"].setdefault(
                    "400",
                    {
                        "description": "The body cannot be parsed",
                        "content": {PROBLEM_JSON: dict(problem_ref)},
                    },
                )
            for code, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if str(code)[0] in "45" and "application/json" in content:
                    content[PROBLEM_JSON] = content.pop("application/json")
                    content[PROBLEM_JSON]["schema"] = problem_ref["schema"]
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    return schema
