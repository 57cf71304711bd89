"""What to tell people when the database refuses a change, and what to keep for the log.

A constraint's name, a table's, a column's, the SQL and the driver's own words
are the schema's internals: they help whoever runs bopo (they go to the log,
`detail`) and nobody else. People get the kind of refusal in words (`message`)
and callers a problem type (`kind`) with a status: one mapping for the API,
the web pages, the CLI and the import reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

# PostgreSQL's SQLSTATE classes and codes; SQLite says the same in its message.
_UNIQUE, _FOREIGN_KEY, _NOT_NULL, _CHECK = "23505", "23503", "23502", "23514"
_SQLITE_WORDS = {
    "UNIQUE constraint failed": _UNIQUE,
    "FOREIGN KEY constraint failed": _FOREIGN_KEY,
    "NOT NULL constraint failed": _NOT_NULL,
    "CHECK constraint failed": _CHECK,
}
_SAID = {
    _UNIQUE: "the same thing is stored already",
    _FOREIGN_KEY: "it refers to something that is not stored (or no longer)",
    _NOT_NULL: "a value it needs is missing",
    _CHECK: "a quantity or other value is outside what may be stored",
}
CLASHES = "the change clashes with data already stored"
CANNOT_STORE = "a value cannot be stored as given (too long, too large or not allowed)"
UNAVAILABLE = "the database is not available; try again in a moment"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A database error as people and callers are told it."""

    kind: str  # the problem type: conflict, validation, unavailable
    status: int  # 409, 422, 503
    message: str  # in words, nothing of the schema or the driver
    detail: str  # for the log only: the driver's message

    def __str__(self) -> str:
        return self.message


def _code(exc: DBAPIError) -> str | None:
    code = getattr(exc.orig, "sqlstate", None)
    if isinstance(code, str):
        return code
    said = str(exc.orig)
    return next((c for words, c in _SQLITE_WORDS.items() if said.startswith(words)), None)


def refusal(exc: DBAPIError) -> Refusal:
    """How to say `exc` (an IntegrityError, DataError or OperationalError)."""
    detail = " ".join(str(exc.orig).split())[:2000]
    if isinstance(exc, IntegrityError):
        why = _SAID.get(_code(exc) or "")
        return Refusal("conflict", 409, f"{CLASHES}: {why}" if why else CLASHES, detail)
    if isinstance(exc, DataError):
        return Refusal("validation", 422, CANNOT_STORE, detail)
    if isinstance(exc, OperationalError):
        return Refusal("unavailable", 503, UNAVAILABLE, detail)
    return Refusal("internal", 500, "the database could not do that", detail)
