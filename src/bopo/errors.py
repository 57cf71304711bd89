"""Domain errors that carry what went wrong, for the API and CLI to map."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class BopoError(Exception):
    """Base of every error bopo raises on purpose."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One bad value: where it is (row, order, path), which field, what is wrong."""

    field: str
    message: str
    place: str = ""

    def __str__(self) -> str:
        where = f"{self.place}: " if self.place else ""
        return f"{where}{self.field}: {self.message}"


class InvalidInput(BopoError):
    """Input that fails validation; carries every field error found."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


class NotFound(BopoError):
    def __init__(self, entity: str, key: object) -> None:
        self.entity = entity
        self.key = key
        super().__init__(f"{entity} {key!r} not found")


class Conflict(BopoError):
    """The request is well formed but clashes with the current state."""


class InvalidTransition(Conflict):
    def __init__(self, entity: str, current: str, wanted: str) -> None:
        self.entity = entity
        self.current = current
        self.wanted = wanted
        super().__init__(f"{entity} cannot go from {current!r} to {wanted!r}")


class ConfigError(BopoError):
    """A setting that is missing, unknown or has a bad value; names each one."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("bad configuration: " + "; ".join(self.problems))


class AuthenticationFailed(BopoError):
    """Unknown user, wrong password, disabled user, or a token that is not valid.

    Deliberately says no more than that, so it cannot be used to probe for names.
    """

    def __init__(self) -> None:
        super().__init__("the user name, password or token is not valid")
