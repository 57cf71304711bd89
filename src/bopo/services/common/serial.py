"""One way to turn a service's result into JSON data, for the CLI's `--json`, the web
pages and job summaries: the result's dataclass is its one definition (the API
returns it as is and FastAPI serialises it the same way, through pydantic).
"""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

from pydantic import TypeAdapter

_ADAPTERS: dict[type, TypeAdapter[Any]] = {}  # one per result type: building one is slow


def _adapter(kind: type) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return adapter


def to_json(obj: Any) -> Any:
    """`obj` as JSON data: dicts, lists, strings, numbers, None.

    Dates and datetimes are written as `isoformat()` does (`+00:00`, as the CLI's
    JSON always has); the API writes the same fields through FastAPI (`Z`).
    """
    if isinstance(obj, list | tuple):
        return [to_json(item) for item in obj]
    legacy = getattr(obj, "as_dict", None)  # a result not yet described by its dataclass
    data = (
        legacy()
        if legacy is not None
        else _adapter(type(obj)).dump_python(obj, by_alias=True, warnings="error")
    )
    return _plain(data)


def _plain(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _plain(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_plain(value) for value in data]
    if isinstance(data, date):  # datetime too
        return data.isoformat()
    if isinstance(data, Enum):
        return data.value
    return data
