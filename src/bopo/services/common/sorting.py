"""Sorting a list by a key from the URL: only keys a list names are taken, so a column
never comes from what was typed. `-key` sorts the other way; a tie goes by id, so that
paging is stable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def sort_key(sort: str | None, keys: Mapping[str, Any]) -> str | None:
    """The key asked for (with its `-`), if the list has it."""
    if not sort:
        return None
    return sort if sort.removeprefix("-") in keys else None


def order_by(sort: str | None, keys: Mapping[str, Any], tie: Any, default: list[Any]) -> list[Any]:
    """ORDER BY clauses for `sort`, or `default` when it is none of the keys."""
    chosen = sort_key(sort, keys)
    if chosen is None:
        return default
    column = keys[chosen.removeprefix("-")]
    if chosen.startswith("-"):
        return [column.desc().nulls_last(), tie.desc()]
    return [column.asc().nulls_last(), tie.asc()]
