"""The column types the tables share, and the index that serves searching by part of a value."""

from __future__ import annotations

from sqlalchemy import Index, String, func, text

Code = String(64)
Name = String(200)
Email = String(320)


def search_index(table: str, column: str) -> Index:
    """An index for searching a column by any part of it, in any case.

    PostgreSQL: a trigram GIN index on lower(column), which serves
    `lower(column) LIKE '%part%'` (and prefixes and equality). SQLite has no
    trigrams: the same index there is a b-tree on lower(column), which serves
    exact and prefix lookups; a search by a middle part scans.
    The migration creates the pg_trgm extension these need (0007_office).
    """
    return Index(
        f"ix_{table}_{column}_search",
        func.lower(text(column)).label(column),
        postgresql_using="gin",
        postgresql_ops={column: "gin_trgm_ops"},
    )
