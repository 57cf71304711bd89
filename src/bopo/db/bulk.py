"""Bulk writes that cost a round trip or two, not one per row.

Ids are reserved before rows are written (a sequence on PostgreSQL; under
SQLite's write lock, past the current max), so rows can reference each other
without RETURNING. On PostgreSQL, large inserts go by COPY and all other
queued writes go out together in one pipeline, straight through psycopg. A
small insert is one statement whatever its row count: its rows go as one JSON
parameter read by json_populate_recordset, so the statement's text is fixed
(prepared once per connection) and neither side pays per-row statement costs
(psycopg re-parses, and does not cache, any statement with more than 50
parameters). On SQLite, which is in-process, each queued write simply runs as
an executemany.
"""

from __future__ import annotations

import functools
import sqlite3
from collections import namedtuple
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any, NamedTuple, cast

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Date,
    Executable,
    String,
    Table,
    TypeDecorator,
    any_,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError

from bopo.db.base import UTCDateTime

COPY_FROM_ROWS = 50  # fewer rows than this go in the pipeline instead


# Above this many values, SQLite gets them as one JSON parameter, not one each.
SQLITE_INLINE_MAX = 500
# From this many rows, a SQLite write converts its dates and timestamps column by column.
SQLITE_BY_COLUMN = 50


def one_of(conn: Connection, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """`column IN values`, for any number of values: one parameter, not one per value.

    A statement may carry at most 65,535 parameters on PostgreSQL (and 32,766
    on SQLite as commonly built), and a list of ids can be longer than that (a
    preview over the whole worklist). On PostgreSQL the values go as one array;
    on SQLite a long list goes as one JSON array read by json_each, a short one
    as a plain IN list, which the planner reads best.
    """
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))  # type: ignore[no-any-return]
    if len(values) > SQLITE_INLINE_MAX:
        each = func.json_each(bindparam(None, _json_text(list(values)), type_=String))
        return column.in_(select(each.table_valued("value").c.value))  # type: ignore[no-any-return]
    return column.in_(list(values))  # type: ignore[no-any-return]


class _JsonList(TypeDecorator[list[Any]]):
    """A list sent to SQLite as one JSON text parameter, read there by json_each."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: list[Any] | None, dialect: Any) -> str | None:
        return None if value is None else _json_text(value)


def in_list(dialect: str, column: Any, name: str) -> ColumnElement[bool]:
    """`column IN :name`, the list given when the statement runs: one parameter, an
    array on PostgreSQL and a JSON array on SQLite.

    Unlike one_of, the statement does not carry the values, so it is built once, and
    its text does not change with the list's length (nothing to expand each time).
    """
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))  # type: ignore[no-any-return]
    each = func.json_each(bindparam(name, type_=_JsonList))
    return column.in_(select(each.table_valued("value").c.value))  # type: ignore[no-any-return]


# Compiled forms of long-lived statements; each entry holds its statement, so
# an id cannot be reused by another statement while the entry exists.
_COMPILED: dict[tuple[int, str], tuple[Any, Any]] = {}


def _compiled(stmt: Any, dialect: Any, build: Callable[[Any], Any]) -> Any:
    """`build(compiled statement)`, once per long-lived statement and dialect."""
    key = (id(stmt), dialect.name)
    held, made = _COMPILED.get(key, (None, None))
    if held is not stmt:
        made = build(stmt.compile(dialect=dialect))
        _COMPILED[key] = (stmt, made)
    return made


def fetch_all(
    conn: Connection, queries: Sequence[tuple[Any, Mapping[str, Any]]]
) -> list[list[Any]]:
    """Run independent SELECTs (statement, parameters) and return each one's rows, as
    named tuples.

    On PostgreSQL they go out together in one pipeline: one round trip, not one
    each. On SQLite each goes straight to sqlite3, its parameters and columns
    converted as SQLAlchemy converts them: SQLAlchemy's execution context, made
    for every statement, costs more than a small SELECT itself. The statements
    must be long-lived (built once, e.g. with in_list): their compiled form is kept.
    """
    if conn.dialect.name == "sqlite":
        driver = sqlite_connection(conn)
        return [_sqlite_fetch(conn, driver, stmt, params) for stmt, params in queries]
    import psycopg
    from psycopg.rows import namedtuple_row

    raw = conn.connection.driver_connection
    assert raw is not None
    cursors = [raw.cursor(row_factory=namedtuple_row) for _ in queries]
    try:
        with raw.pipeline():
            for cur, (stmt, params) in zip(cursors, queries, strict=True):
                compiled = _compiled(stmt, conn.dialect, lambda c: c)
                cur.execute(compiled.string, compiled.construct_params(dict(params)))
        return [cur.fetchall() for cur in cursors]
    except psycopg.Error as exc:
        raise DBAPIError.instance("pipelined SELECTs", None, exc, psycopg.Error) from exc
    finally:
        for cur in cursors:
            cur.close()


@dataclass(slots=True)
class _SqliteSelect:
    """A SELECT compiled for sqlite3: its text; its parameters in order (name, the
    statement's own value when not given, converter); its columns, how many and
    those converted (index, converter); the type of its rows, once it has run."""

    sql: str
    params: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]
    width: int | None  # None: plain text, its columns untyped
    converted: tuple[tuple[int, Callable[[Any], Any]], ...]
    row: Any = None


_REQUIRED = object()


def _sqlite_select(compiled: Any) -> _SqliteSelect | None:
    """What SQLAlchemy's execution does with a compiled SELECT, worked out once; None for
    a statement whose text changes with its parameters (an expanding IN) or whose
    values are computed when it runs."""
    if compiled.post_compile_params or compiled.literal_execute_params:
        return None
    dialect = compiled.dialect
    params = []
    for name in compiled.positiontup or ():
        bind = compiled.binds[name]
        if bind.callable is not None:
            return None
        own = _REQUIRED if bind.required else bind.value
        params.append((name, own, bind.type.dialect_impl(dialect).bind_processor(dialect)))
    selected = getattr(compiled.statement, "selected_columns", None)  # plain text() has none
    processors = [
        c.type.dialect_impl(dialect).result_processor(dialect, None) for c in selected or ()
    ]
    converted = tuple((i, f) for i, f in enumerate(processors) if f is not None)
    width = None if selected is None else len(processors)
    return _SqliteSelect(compiled.string, tuple(params), width, converted)


def _sqlite_fetch(
    conn: Connection, raw: sqlite3.Connection, stmt: Any, params: Mapping[str, Any]
) -> list[Any]:
    query: _SqliteSelect | None = _compiled(stmt, conn.dialect, _sqlite_select)
    if query is None:
        return list(conn.execute(stmt, dict(params)).all())
    args = []
    for name, own, bind in query.params:
        value = params[name] if name in params or own is _REQUIRED else own
        args.append(value if bind is None else bind(value))
    description, rows = sqlite_driver(raw, query.sql, args)
    if query.row is None:
        if query.width is not None and query.width != len(description):
            raise AssertionError(f"columns read are not those selected: {query.sql}")
        query.row = namedtuple("Row", [d[0] for d in description], rename=True)  # type: ignore[misc]
    make = query.row._make
    if not query.converted:
        return [make(r) for r in rows]
    out = []
    for r in rows:
        values = list(r)
        for i, f in query.converted:
            values[i] = f(values[i])
        out.append(make(values))
    return out


def sqlite_connection(conn: Connection) -> sqlite3.Connection:
    """The sqlite3 connection under a SQLAlchemy one."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    return raw


def sqlite_driver(
    raw: sqlite3.Connection, sql: str, args: Any = (), *, many: bool = False
) -> tuple[Any, list[Any]]:
    """`sql` straight to sqlite3, which caches the statement: its cursor's description
    and rows. Its errors come out as SQLAlchemy's, like all others."""
    try:
        cur = raw.executemany(sql, args) if many else raw.execute(sql, args)
        return cur.description, cur.fetchall()
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, args, exc, sqlite3.Error) from exc


@functools.cache
def reserve_sql(models: tuple[type[Any], ...]) -> Any:
    """PostgreSQL: new ids of each model's table, how many given as parameters n0,
    n1, ... (zero allowed); a row per model: (its index, its ids in order). The text
    is fixed, so it is prepared once, and it can go ahead in a pipeline (fetch_all)."""
    return text(
        " UNION ALL ".join(
            # One row per table, its ids as an array: far less to fetch than a row each.
            f"SELECT {k} AS t, array_agg(id ORDER BY id) AS ids FROM (SELECT "
            f"nextval('{table_of(m).name}_id_seq') AS id FROM generate_series(1, :n{k})) s"
            for k, m in enumerate(models)
        )
    )


def reserved_ids(models: Sequence[type[Any]], rows: Iterable[Any]) -> dict[type[Any], list[int]]:
    """The rows of reserve_sql(models), by model."""
    out: dict[type[Any], list[int]] = {m: [] for m in models}
    for t, new_ids in rows:
        out[models[t]].extend(new_ids or ())  # none reserved: NULL
    return out


def table_of(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


@functools.cache
def _sqlite_maxima(tables: tuple[str, ...]) -> str:
    return "SELECT " + ", ".join(f"(SELECT coalesce(max(id), 0) FROM {t})" for t in tables)


class _Rows(NamedTuple):
    """Rows queued for one insert: their columns, and each row's values in that order."""

    columns: tuple[str, ...]
    values: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, v, strict=True)) for v in self.values]


class Writes:
    """The queued writes of one transaction; `flush()` sends them in order."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self._ops: list[tuple[str, Any, Any]] = []
        self._after: list[Callable[[], object]] = []
        self._sqlite_next: dict[str, int] = {}
        self._sqlite_floor: dict[str, int] = {}
        self._sqlite_stored: dict[Callable[[Any], Any], dict[Any, Any]] = {}

    @functools.cached_property
    def _sqlite_raw(self) -> sqlite3.Connection:
        return sqlite_connection(self.conn)

    def reserve_ids(
        self,
        counts: Mapping[type[Any], int],
        reserved: Mapping[type[Any], Sequence[int]] | None = None,
    ) -> dict[type[Any], list[int]]:
        """New primary keys for each model's table, in one round trip; taken first
        from `reserved` (ids reserved ahead, see reserve_sql), which may leave none."""
        out: dict[type[Any], list[int]] = {}
        short: dict[type[Any], int] = {}
        for m, n in counts.items():
            pool = (reserved or {}).get(m, ())
            out[m] = list(pool[:n])
            if len(out[m]) < n:
                short[m] = n - len(out[m])
            if pool:  # SQLite reserves past the table's max: past these too
                name = table_of(m).name
                self._sqlite_floor[name] = max(self._sqlite_floor.get(name, 0), max(pool) + 1)
        for m, more in self._reserve(short).items():
            out[m] += more
        return out

    def _reserve(self, counts: Mapping[type[Any], int]) -> dict[type[Any], list[int]]:
        wanted = {m: n for m, n in counts.items() if n > 0}
        out: dict[type[Any], list[int]] = {m: [] for m in counts}
        if not wanted:
            return out
        if self.pg:
            models = tuple(wanted)
            params = {f"n{k}": n for k, n in enumerate(wanted.values())}
            return out | reserved_ids(models, self.conn.execute(reserve_sql(models), params))
        tables = [t.name for t in dict.fromkeys(table_of(m) for m in wanted)]
        unknown = [t for t in tables if t not in self._sqlite_next]
        if unknown:  # every table's max in one statement
            _, (maxima,) = sqlite_driver(self._sqlite_raw, _sqlite_maxima(tuple(unknown)))
            for t, last in zip(unknown, maxima, strict=True):
                self._sqlite_next[t] = max(last + 1, self._sqlite_floor.get(t, 0))
        for m, n in wanted.items():
            name = table_of(m).name
            start = self._sqlite_next[name]
            out[m] = list(range(start, start + n))
            self._sqlite_next[name] = start + n
        return out

    def insert(self, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
        """Rows as dicts with the same keys, ids included. Rows queued right after
        others for the same table and columns join them: one statement for both."""
        if rows:
            columns = tuple(rows[0])
            pick = itemgetter(*columns)
            values = list(map(pick, rows)) if len(columns) > 1 else [(pick(r),) for r in rows]
            self.insert_values(model, columns, values)

    def insert_values(
        self, model: type[Any], columns: Sequence[str], values: Sequence[tuple[Any, ...]]
    ) -> None:
        """Rows as tuples of the `columns`' values: what insert() makes of dicts, built
        directly where many rows are made (intake), without a dict each."""
        if not values:
            return
        table = table_of(model)
        columns = tuple(columns)
        if self._ops:
            kind, last, queued = self._ops[-1]
            if kind == "insert" and last is table and queued.columns == columns:
                self._ops[-1] = ("insert", table, _Rows(columns, [*queued.values, *values]))
                return
        self._ops.append(("insert", table, _Rows(columns, list(values))))

    def update_by_id(self, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
        """Rows of {"id": ..., column: value, ...}, all with the same columns."""
        if rows:
            self._ops.append(("update", table_of(model), rows))

    def execute(self, stmt: Executable, params: Sequence[dict[str, Any]] | None = None) -> None:
        self._ops.append(("execute", stmt, params))

    def after_flush(self, step: Callable[[], object]) -> None:
        """Run `step` once the queued writes are sent (it may read them back)."""
        self._after.append(step)

    def flush(self) -> None:
        self._send()
        while self._after:
            steps, self._after = self._after, []
            for step in steps:
                step()
            self._send()

    def _send(self) -> None:
        ops, self._ops = self._ops, []
        if not self.pg:
            for op in ops:
                self._sqlite(*op)
            return
        pipeline: list[tuple[str, Any, Any]] = []
        for op in ops:
            if op[0] == "insert" and len(op[2].values) >= COPY_FROM_ROWS:
                self._pipeline(pipeline)
                pipeline = []
                self._copy(op[1], op[2])
            else:
                pipeline.append(op)
        self._pipeline(pipeline)

    # --- SQLite ------------------------------------------------------------------

    def _sqlite(self, kind: str, target: Any, data: Any) -> None:
        """Rows go to sqlite3's executemany as tuples, converted as SQLAlchemy would store them."""
        if kind == "execute":
            self.conn.execute(target, data) if data is not None else self.conn.execute(target)
            return
        rows: list[Any]
        if kind == "insert":  # its values in its columns' order already
            sql, _, converted = _sqlite_write(kind, target, data.columns)
            rows = data.values
        else:
            sql, pick, converted = _sqlite_write(kind, target, tuple(data[0]))
            rows = list(map(pick, data))
        if converted and len(rows) < SQLITE_BY_COLUMN:
            rows = [self._sqlite_row(row, converted) for row in rows]
        elif converted:
            rows = _sqlite_by_column(rows, converted)
        # Straight to sqlite3: SQLAlchemy's execution context, made for every call,
        # costs more than a small executemany itself.
        sqlite_driver(self._sqlite_raw, sql, rows, many=True)

    def _sqlite_row(
        self, row: tuple[Any, ...], converted: list[tuple[int, Callable[[Any], Any]]]
    ) -> list[Any]:
        """A row's values as stored; a date or timestamp converted once per transaction
        (its rows carry the same few)."""
        values = list(row)
        for i, f in converted:
            v = values[i]
            if v is None:
                continue
            if f is _json_text:
                values[i] = f(v)
                continue
            seen = self._sqlite_stored.setdefault(f, {})
            stored = seen.get(v)
            if stored is None:
                stored = seen[v] = f(v)
            values[i] = stored
        return values

    # --- PostgreSQL, through psycopg -------------------------------------------

    def _pipeline(self, ops: list[tuple[str, Any, Any]]) -> None:
        if not ops:
            return
        statements: list[tuple[str, list[Any]]] = []
        inserts: list[tuple[str, Any, Any]] = []
        for op in ops:
            if op[0] == "insert":
                inserts.append(op)
                continue
            if inserts:
                statements.append(_inserts(inserts))
                inserts = []
            statements.append(self._pg_statement(*op))
        if inserts:
            statements.append(_inserts(inserts))
        with self._psycopg_errors("pipeline") as raw, raw.pipeline(), raw.cursor() as cur:
            for sql, params in statements:
                if len(params) > 1:
                    cur.executemany(sql, params)
                else:
                    cur.execute(sql, params[0] if params else None)

    def _pg_statement(self, kind: str, target: Any, data: Any) -> tuple[str, list[Any]]:
        if kind == "update":
            columns = [c for c in data[0] if c != "id"]
            sets = ", ".join(f"{c} = %({c})s" for c in columns)
            sql = f"UPDATE {target.name} SET {sets} WHERE id = %(id)s"
            return sql, [_adapt(target, row) for row in data]
        compiled = target.compile(dialect=self.conn.dialect)
        if data is None:  # the statement carries its own values
            return compiled.string, [compiled.construct_params()]
        return compiled.string, [compiled.construct_params(p) for p in data]

    def _copy(self, table: Table, rows: _Rows) -> None:
        """Binary COPY: each value sent as its column's type, formatted by psycopg's C
        code, read by the server without parsing text (half the client's CPU of text
        COPY). Rows go out as the buffer fills, so the server inserts and checks the
        first ones while the rest are formatted.

        Binary COPY would wrap an integer too big for its column, and read a naive
        timestamp in the session's zone: both are refused here first, as the server
        refuses them in text."""
        from psycopg.types.json import set_json_dumps

        columns, values = list(rows.columns), rows.values
        types = [pg_type(table, c, self.conn.dialect) for c in columns]
        sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        with (
            self._psycopg_errors(f"COPY {table.name}") as raw,
            raw.cursor() as cur,
        ):
            _refuse_unfit(columns, types, values)
            set_json_dumps(_json_bytes, context=cur)
            with cur.copy(sql) as copy:
                copy.set_types(types)
                write = copy.write_row
                for row in values:
                    write(row)

    @contextmanager
    def _psycopg_errors(self, what: str) -> Iterator[Any]:
        """The raw psycopg connection; its errors come out as SQLAlchemy's, like all others."""
        import psycopg

        raw = self.conn.connection.driver_connection
        try:
            yield raw
        except psycopg.Error as exc:
            raise DBAPIError.instance(what, None, exc, psycopg.Error) from exc


@functools.cache
def _sqlite_write(
    kind: str, table: Table, columns: tuple[str, ...]
) -> tuple[str, Callable[[Any], tuple[Any, ...]], list[tuple[int, Callable[[Any], Any]]]]:
    """An insert or update by id of these columns, worked out once: its SQL, what picks
    a row's values in order, the columns whose values are converted (index, converter)."""
    if kind == "insert":
        ordered = list(columns)
        sql = (
            f"INSERT INTO {table.name} ({', '.join(ordered)}) "
            f"VALUES ({', '.join('?' for _ in ordered)})"
        )
    else:
        ordered = [c for c in columns if c != "id"] + ["id"]
        sets = ", ".join(f"{c} = ?" for c in ordered[:-1])
        sql = f"UPDATE {table.name} SET {sets} WHERE id = ?"
    get = itemgetter(*ordered)
    pick = get if len(ordered) > 1 else lambda row: (get(row),)
    converted = [
        (i, f)
        for i, c in enumerate(ordered)
        if (f := _SQLITE_STORE.get(type(table.c[c].type))) is not None
    ]
    return sql, pick, converted


def _sqlite_by_column(
    rows: Sequence[tuple[Any, ...]], converted: list[tuple[int, Callable[[Any], Any]]]
) -> list[tuple[Any, ...]]:
    """Rows' values as stored, converted column by column: each distinct date or
    timestamp once (a batch's rows carry the same few), each list or dict once a row."""
    values = list(zip(*rows, strict=True))
    for i, f in converted:
        if f is _json_text:
            values[i] = tuple(None if v is None else f(v) for v in values[i])
        else:
            stored = {v: f(v) for v in set(values[i]) if v is not None}
            values[i] = tuple(map(stored.get, values[i]))
    return list(zip(*values, strict=True))


def sqlite_insert(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    values: Sequence[tuple[Any, ...]],
    *,
    on_conflict: str = "",
) -> None:
    """SQLite: rows as tuples of the `columns`' values, now, in one executemany straight
    to sqlite3, converted as Writes converts them; `on_conflict` (an ON CONFLICT clause)
    ends the statement. SQLAlchemy's executemany converts each row's parameters one by
    one, and costs more than the insert itself."""
    if not values:
        return
    sql, _, converted = _sqlite_write("insert", table, tuple(columns))
    rows = _sqlite_by_column(values, converted) if converted else list(values)
    sqlite_driver(sqlite_connection(conn), f"{sql} {on_conflict}".rstrip(), rows, many=True)


def _inserts(ops: Sequence[tuple[str, Any, Any]]) -> tuple[str, list[Any]]:
    """Small inserts queued one after another, as one statement: each but the last a
    data-modifying WITH query. PostgreSQL runs every one to completion and checks
    foreign keys when the statement ends, so rows may name rows inserted beside them."""
    parts = []
    for _, table, rows in ops:
        named = ", ".join(rows.columns)
        parts.append(
            f"INSERT INTO {table.name} ({named}) SELECT {named} "
            f"FROM json_populate_recordset(NULL::{table.name}, %s::json)"
        )
    *before, last = parts
    with_ = "".join(f"{'WITH' if k == 0 else ','} w{k} AS ({p}) " for k, p in enumerate(before))
    return with_ + last, [tuple(rows_json(rows.dicts()) for _, _, rows in ops)]


def _json_date(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given; bopo stores aware UTC timestamps")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def rows_json(rows: Sequence[dict[str, Any]]) -> str:
    """Rows as one JSON array for json_populate_recordset: dates as ISO dates,
    timestamps with their offset (a naive one is refused, as SQLAlchemy's type
    refuses it), JSON columns' values nested as they are."""
    try:
        return orjson.dumps(
            rows,
            default=_json_date,
            option=orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME,
        ).decode()
    except orjson.JSONEncodeError as exc:  # say what _json_date said
        raise (exc.__cause__ or exc) from None


def _adapt(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """Values psycopg can send as they are: JSON columns wrapped, the rest unchanged."""
    from psycopg.types.json import Json

    json_columns = _json_columns(table)
    if not json_columns:
        return row
    return {k: (Json(v) if k in json_columns and v is not None else v) for k, v in row.items()}


# What COPY formats each column's values as (and arrays are cast to): the column's type.
_PG_COPY_TYPES = {
    "INTEGER": "int4",
    "BIGINT": "int8",
    "SMALLINT": "int2",
    "VARCHAR": "text",
    "TEXT": "text",
    "BOOLEAN": "bool",
    "FLOAT": "float8",
    "DATE": "date",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "JSON": "json",
}
_COPY_TYPES: dict[tuple[str, str], str] = {}


def pg_type(table: Table, column: str, dialect: Any) -> str:
    """The PostgreSQL type name of a column (for COPY, or to cast an array)."""
    found = _COPY_TYPES.get((table.name, column))
    if found is None:
        sql_type = table.c[column].type.compile(dialect=dialect)
        found = _COPY_TYPES[(table.name, column)] = _PG_COPY_TYPES[sql_type.split("(")[0]]
    return found


_INT_RANGES = {"int2": 2**15, "int4": 2**31, "int8": 2**63}


def _refuse_unfit(columns: list[str], types: list[str], rows: list[tuple[Any, ...]]) -> None:
    """What binary COPY cannot be trusted to refuse, checked column by column at C
    speed: an integer out of its column's range (as the server's own error, so a
    batch refused for it is retried order by order), a naive timestamp."""
    import psycopg

    for name, pg, values in zip(columns, types, zip(*rows, strict=True), strict=True):
        if pg in _INT_RANGES:
            present = [v for v in values if v is not None] if None in values else values
            limit = _INT_RANGES[pg]
            if present and (min(present) < -limit or max(present) >= limit):
                raise psycopg.errors.NumericValueOutOfRange(
                    f"value out of range for type {pg} (column {name})"
                )
        elif pg == "timestamptz" and any(v is not None and v.tzinfo is None for v in set(values)):
            raise ValueError("naive datetime given; bopo stores aware UTC timestamps")


def _json_bytes(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def sqlite_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime given; bopo stores aware UTC timestamps")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


# The text SQLAlchemy's SQLite dialect stores for these types, so rows written
# here read back through the models exactly like rows written by SQLAlchemy.
def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


_SQLITE_STORE: dict[type[Any], Callable[[Any], Any]] = {
    Date: date.isoformat,
    UTCDateTime: sqlite_datetime,
    JSON: _json_text,
}


_JSON_COLUMNS: dict[str, frozenset[str]] = {}


def _json_columns(table: Table) -> frozenset[str]:
    found = _JSON_COLUMNS.get(table.name)
    if found is None:
        found = frozenset(c.name for c in table.c if isinstance(c.type, JSON))
        _JSON_COLUMNS[table.name] = found
    return found
