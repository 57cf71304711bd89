"""Imports of stock items, purchase orders and sales orders from CSV or JSON files."""

from __future__ import annotations

import gc
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bopo.services.common.inputs import NewSalesOrder
from bopo.services.common.serial import to_json
from bopo.services.context import Context
from bopo.services.files.parsing import (
    FileProblem,
    Format,
    ImportIssue,
    Parsed,
    Unless,
    Where,
    file_format,
    parse_stock_items,
    read_text,
)
from bopo.services.files.parsing_purchases import parse_purchase_orders
from bopo.services.files.parsing_sales import parse_sales_orders
from bopo.services.orders.intake import BATCH_SIZE, take_orders
from bopo.services.orders.outcomes import FROM_STOCK, LINKED, Difference, OrderResult, OrderStatus
from bopo.services.supply import catalog, purchasing

Progress = Callable[[int, int], None]  # (done, total) orders or records


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bulk load.

    An import holds hundreds of thousands of small objects and creates no
    cycles; with the collector on, its full passes over that heap cost several
    times the import itself.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True, slots=True)
class ChangedOrder:
    """An order given again with other content than it was taken with: not taken again."""

    source: str
    order_number: str
    row: Unless[int]
    path: Unless[str]
    differences: tuple[Difference, ...]

    def __str__(self) -> str:
        place = ImportIssue("order", "", self.row, self.order_number, self.path).place()
        return f"{place}: taken before with other content; nothing changed: " + "; ".join(
            str(d) for d in self.differences
        )


@dataclass
class ImportSummary:
    """What an import did; `ok` is false when anything was rejected, or an order was
    given again with other content than it was taken with."""

    kind: str
    file: str
    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    orders_taken: int = 0
    orders_duplicate: int = 0
    orders_changed: int = 0
    orders_rejected: int = 0
    lines_from_stock: int = 0
    lines_linked: int = 0
    lines_skipped: Counter[str] = field(default_factory=Counter)
    errors: list[ImportIssue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    results: list[OrderResult] = field(default_factory=list)
    changed: list[ChangedOrder] = field(default_factory=list)
    # How a shop's file was read: its format (and whether it was detected), encoding, delimiter
    read_as: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.changed

    @property
    def exit_code(self) -> int:
        """The CLI's: 1 when anything was rejected, else 5 (a conflict with the orders
        stored) when an order came again changed, else 0."""
        if self.errors:
            return 1
        return 5 if self.changed else 0

    def as_dict(self) -> dict[str, Any]:
        """Its JSON: one summary serves every kind of import, and keeps only its kind's
        counters (so the API keeps a read shape of its own, SalesOrderImportRead)."""
        common = {"kind": self.kind, "file": self.file, "ok": self.ok}
        if self.kind == "sales-orders":
            body: dict[str, Any] = {
                "orders_taken": self.orders_taken,
                "orders_duplicate": self.orders_duplicate,
                "orders_changed": self.orders_changed,
                "orders_rejected": self.orders_rejected,
                "lines_from_stock": self.lines_from_stock,
                "lines_linked": self.lines_linked,
                "lines_skipped": dict(sorted(self.lines_skipped.items())),
            }
        else:
            body = {
                "records": self.records,
                "created": self.created,
                "updated": self.updated,
                "unchanged": self.unchanged,
                "rejected": self.rejected,
            }
        tail: dict[str, Any] = {
            "errors": to_json(self.errors),
            "warnings": self.warnings,
        }
        if self.kind == "sales-orders":
            tail["changed"] = to_json(self.changed)
        return common | ({"read_as": self.read_as} if self.read_as else {}) | body | tail


def import_sales_orders(
    ctx: Context,
    path: str | Path,
    *,
    actor: str = "import",
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportSummary:
    """Take every good order in the file, in file order; report each bad one with its place.

    Orders are taken up to `batch_size` to a transaction (each order still whole or absent).
    """
    with gc_paused():
        return _import_sales_orders(ctx, path, actor, progress, batch_size)


def _import_sales_orders(
    ctx: Context, path: str | Path, actor: str, progress: Progress | None, batch_size: int
) -> ImportSummary:
    summary = ImportSummary("sales-orders", str(path))
    done = 0
    try:
        text, fmt = read_text(path), file_format(path)
        estimate = max(1, text.count("\n") // 3) if fmt == "csv" else 0
        if progress:
            progress(0, estimate)
        with ExitStack() as stack:
            if ctx.db.is_sqlite:
                parsed = parse_sales_orders(text, fmt)
                chunks: Iterable[list[tuple[NewSalesOrder, Where]]] = [parsed.items]
            else:
                reader = stack.enter_context(_ReadAhead(text, fmt, batch_size))
                chunks = reader
            for chunk in chunks:
                results = take_orders(
                    ctx, [o for o, _ in chunk], actor=actor, batch_size=batch_size, detail=False
                )
                _tally(summary, chunk, results)
                done += len(chunk)
                if progress:
                    progress(done, max(done, estimate))
            if not ctx.db.is_sqlite:
                parsed = reader.parsed
    except FileProblem as exc:
        summary.errors.append(ImportIssue("file", str(exc)))
        return summary
    if progress:
        progress(done, done)
    summary.errors[:0] = parsed.issues
    summary.warnings[:0] = parsed.warnings
    summary.orders_rejected += parsed.rejected
    summary.orders_duplicate += parsed.duplicates
    if summary.orders_taken >= ANALYZE_AFTER:
        ctx.db.refresh_statistics("sales_orders", "so_lines", "associations", "customers")
    return summary


# After this many new rows, the planner gets fresh statistics (see Database).
ANALYZE_AFTER = 10_000


class _Stopped(Exception):
    pass


# The read-ahead's first chunk: small, so that taking starts after a moment's
# parse instead of a whole batch's; each next chunk doubles, up to the batch size.
FIRST_CHUNK = 500


class _ReadAhead:
    """Orders in chunks, parsed in a thread while the caller takes the previous chunk.

    On a database server, intake spends much of its time waiting for the
    server (with the interpreter lock released), and the parse fills that
    wait. Not for SQLite: it releases the lock for every row it writes, and a
    busy parser would make each row wait for it to be handed back. Only the
    first chunk's parse is waited for with nothing else to do, so it is small.
    """

    _DONE = object()

    def __init__(self, text: str, fmt: Format, size: int) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=2)
        self._text, self._fmt, self._size = text, fmt, size
        self._stop = threading.Event()
        self.parsed: Parsed[NewSalesOrder] = Parsed()
        self._thread = threading.Thread(target=self._run, name="bopo-import-parse", daemon=True)
        self._thread.start()

    def __enter__(self) -> _ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        """If the taking stopped early, let the parser stop too instead of waiting forever."""
        self._stop.set()
        while self._thread.is_alive():
            with suppress(queue.Empty):
                self._queue.get(timeout=0.1)

    def _run(self) -> None:
        chunk: list[tuple[NewSalesOrder, Where]] = []
        size = min(FIRST_CHUNK, self._size)

        def emit(order: NewSalesOrder, where: Where) -> None:
            nonlocal size
            if self._stop.is_set():
                raise _Stopped
            chunk.append((order, where))
            if len(chunk) >= size:
                self._queue.put(chunk.copy())
                chunk.clear()
                size = min(2 * size, self._size)

        try:
            self.parsed = parse_sales_orders(self._text, self._fmt, emit)
            if chunk:
                self._queue.put(chunk)
            self._queue.put(self._DONE)
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the reading thread, which raises it
            self._queue.put(exc)

    def __iter__(self) -> Iterator[list[tuple[NewSalesOrder, Where]]]:
        while (item := self._queue.get()) is not self._DONE:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]


def _tally(
    summary: ImportSummary,
    chunk: list[tuple[NewSalesOrder, Where]],
    results: list[OrderResult],
) -> None:
    for (order, where), result in zip(chunk, results, strict=True):
        summary.results.append(result)
        if result.status is OrderStatus.DUPLICATE:
            summary.orders_duplicate += 1
        elif result.status is OrderStatus.CHANGED:
            summary.orders_changed += 1
            changed = ChangedOrder(
                order.source, order.number, where.row, where.path, result.differences
            )
            summary.changed.append(changed)
            summary.warnings.append(str(changed))
        elif result.status is OrderStatus.REJECTED:
            summary.orders_rejected += 1
            for err in result.errors:
                line = _line_index(err.field)
                fieldname = err.field.rsplit(".", 1)[-1]
                summary.errors.append(where.issue(fieldname, err.message, order.number, line))
        else:
            summary.orders_taken += 1
            summary.warnings.extend(result.warnings)
            for kind in result.kinds:
                if kind == LINKED:
                    summary.lines_linked += 1
                elif kind == FROM_STOCK:
                    summary.lines_from_stock += 1
                else:
                    summary.lines_skipped[kind] += 1


def take_parsed_orders(
    ctx: Context,
    summary: ImportSummary,
    parsed: Parsed[NewSalesOrder],
    *,
    actor: str,
    progress: Progress | None = None,
) -> ImportSummary:
    """Take orders another format's reader has validated, as a bopo file's are taken.

    In file order and in chunks, each order whole or not at all, its problems
    placed where `Where` says (the shop's own file).
    """
    total, done = len(parsed.items), 0
    if progress:
        progress(0, total)
    with gc_paused():
        for start in range(0, total, BATCH_SIZE):
            chunk = parsed.items[start : start + BATCH_SIZE]
            results = take_orders(ctx, [o for o, _ in chunk], actor=actor, detail=False)
            _tally(summary, chunk, results)
            done += len(chunk)
            if progress:
                progress(done, total)
    summary.errors[:0] = parsed.issues
    summary.warnings.extend(parsed.warnings)
    summary.orders_rejected += parsed.rejected
    summary.orders_duplicate += parsed.duplicates
    if summary.orders_taken >= ANALYZE_AFTER:
        ctx.db.refresh_statistics("sales_orders", "so_lines", "associations", "customers")
    return summary


def _line_index(fieldname: str) -> int | None:
    if fieldname.startswith("lines[") and "]" in fieldname:
        return int(fieldname[6 : fieldname.index("]")])
    return None


def import_stock_items(ctx: Context, path: str | Path, *, actor: str = "import") -> ImportSummary:
    summary = ImportSummary("stock-items", str(path))
    try:
        parsed = parse_stock_items(read_text(path), file_format(path))
    except FileProblem as exc:
        summary.errors.append(ImportIssue("file", str(exc)))
        return summary
    summary.errors.extend(parsed.issues)
    summary.warnings.extend(parsed.warnings)
    summary.records = len(parsed.items) + parsed.rejected
    result = catalog.upsert_stock_items(ctx, [i for i, _ in parsed.items], actor=actor)
    summary.created, summary.updated, summary.unchanged = (
        result.created,
        result.updated,
        result.unchanged,
    )
    for n, err in result.errors:
        summary.errors.append(parsed.items[n][1].issue(err.field, err.message, None))
    summary.rejected = parsed.rejected + len(result.errors)
    return summary


def import_purchase_orders(
    ctx: Context, path: str | Path, *, actor: str = "import"
) -> ImportSummary:
    summary = ImportSummary("purchase-orders", str(path))
    try:
        parsed = parse_purchase_orders(read_text(path), file_format(path))
    except FileProblem as exc:
        summary.errors.append(ImportIssue("file", str(exc)))
        return summary
    summary.errors.extend(parsed.issues)
    summary.warnings.extend(parsed.warnings)
    result = purchasing.add_purchase_orders(ctx, [o for o, _ in parsed.items], actor=actor)
    for n, k, err in result.errors:
        order, where = parsed.items[n]
        summary.errors.append(where.issue(err.field, err.message, order.number, k))
    summary.records = sum(len(o.lines) for o, _ in parsed.items) + len(parsed.issues)
    summary.created = result.lines_created
    summary.unchanged = result.lines_unchanged
    summary.rejected = len(summary.errors)
    if summary.created >= ANALYZE_AFTER:
        ctx.db.refresh_statistics("purchase_orders", "po_lines", "suppliers")
    return summary
