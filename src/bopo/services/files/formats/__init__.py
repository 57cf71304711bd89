"""Shops' files in their own formats, turned into bopo's sales orders.

`import_orders` reads a file in the format named (or the one its header shows),
by the adapter of that format (shopify, amazon, mapped), and hands the orders to
the same intake as bopo's own files: every problem is placed in the shop's file,
each order is taken whole or not at all, and the same order again (source and
number) is recognised. Files in bopo's own format go through `imports` as they are.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from bopo.services.common.inputs import NewSalesOrder
from bopo.services.context import Context
from bopo.services.files import imports
from bopo.services.files.formats import amazon, mapped, shopify
from bopo.services.files.formats.detect import (
    Choice,
    bopo_matches,
    candidates,
    check_header,
    choose,
    detect,
)
from bopo.services.files.formats.reading import Table, open_table
from bopo.services.files.imports import ImportSummary, Progress
from bopo.services.files.parsing import FileProblem, ImportIssue, Parsed

__all__ = ["import_orders"]


def import_orders(
    ctx: Context,
    path: str | Path,
    *,
    format: str | None = None,
    actor: str = "import",
    progress: Progress | None = None,
    name: str | None = None,
) -> ImportSummary:
    """Import a file of sales orders in any format bopo reads; `format` None detects it."""
    path = Path(path)
    shown = name or str(path)
    choice = choose(format, ctx.settings)  # an unknown format is refused before any reading
    own = _own_format(ctx, path, choice, shown, actor=actor, progress=progress)
    if own is not None:
        return own
    try:
        table, choice, detected = _open(path, choice, ctx)
    except FileProblem as exc:
        return _refused(shown, str(exc))
    read_as = {"format": choice.label() + (" (detected from the header)" if detected else "")}
    read_as |= table.read_as()
    if choice.name == "bopo":
        summary = _bopo(ctx, path, table, actor, progress)
    else:
        summary = ImportSummary("sales-orders", shown)
        try:
            with imports.gc_paused():  # as bopo's own files are read: a bulk load, no cycles
                parsed = _parse(choice, table, ctx)
        except FileProblem as exc:
            summary.errors.append(ImportIssue("file", str(exc)))
            summary.read_as = read_as
            return summary
        imports.take_parsed_orders(ctx, summary, parsed, actor=actor, progress=progress)
    summary.file = shown
    summary.read_as = read_as
    return summary


def _own_format(
    ctx: Context,
    path: Path,
    choice: Choice | None,
    shown: str,
    *,
    actor: str,
    progress: Progress | None,
) -> ImportSummary | None:
    """A .json file, or bopo's own CSV as bopo writes it, read by bopo's own reader;
    None for any other file."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        if choice is not None and choice.name != "bopo":
            return _refused(shown, f"a .json file is read as bopo's format, not {choice.label()}")
        summary = imports.import_sales_orders(ctx, path, actor=actor, progress=progress)
        summary.read_as = {"format": "bopo", "type": "json"}
        summary.file = shown
        return summary
    if suffix == ".csv" and _plain_bopo(path, choice, ctx):
        # bopo's own CSV, as bopo writes it: today's reader, untouched
        summary = imports.import_sales_orders(ctx, path, actor=actor, progress=progress)
        summary.read_as = {
            "format": "bopo" + (" (detected from the header)" if choice is None else ""),
            "type": "csv",
            "encoding": "utf-8",
            "delimiter": "comma",
        }
        summary.file = shown
        return summary
    return None


def _open(path: Path, choice: Choice | None, ctx: Context) -> tuple[Table, Choice, bool]:
    """The file as a table, its format (detected from the header when `choice` is None,
    and whether it was), its header checked; FileProblem if it cannot be read so."""
    profile = choice.profile if choice else None
    options = profile or (ctx.settings.formats.get(choice.name) if choice else None)
    table = open_table(
        path,
        encoding=options.encoding if options else None,
        delimiter=options.delimiter if options else None,
        sheet=options.sheet if options else None,
    )
    detected = choice is None
    if choice is None:
        choice = detect(table.header, ctx.settings)
        if choice.profile and (choice.profile.encoding or choice.profile.delimiter):
            # read again as the profile says
            table = open_table(
                path,
                encoding=choice.profile.encoding,
                delimiter=choice.profile.delimiter,
                sheet=choice.profile.sheet,
            )
    check_header(table.header, choice, ctx.settings)
    return table, choice, detected


def _parse(choice: Choice, table: Table, ctx: Context) -> Parsed[NewSalesOrder]:
    """A shop's table read by its format's adapter into bopo's orders."""
    if choice.name == "shopify":
        return shopify.parse_export(table, ctx.settings)
    if choice.name == "amazon":
        return amazon.parse_report(table, ctx.settings)
    assert choice.profile is not None
    return mapped.parse_mapped(table, ctx.settings, choice.profile)


def _plain_bopo(path: Path, choice: Choice | None, ctx: Context) -> bool:
    """Whether the file starts with bopo's header, comma-separated, in UTF-8 (and, when
    the format is to be detected, no other format fits that header)."""
    if choice is not None and choice.name != "bopo":
        return False
    try:
        with path.open("rb") as f:
            first = f.readline(64 * 1024)
        header = next(csv.reader([first.decode("utf-8-sig")]), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    if choice is None:
        return [c.name for c in candidates(header, ctx.settings)] == ["bopo"]
    return bopo_matches(header)


def _refused(file: str, message: str) -> ImportSummary:
    summary = ImportSummary("sales-orders", file)
    summary.errors.append(ImportIssue("file", message))
    return summary


def _bopo(
    ctx: Context, path: Path, table: Table, actor: str, progress: Progress | None
) -> ImportSummary:
    """bopo's own format: as it is when UTF-8 and comma-separated, else rewritten so.

    The rewrite writes one line per row (blank rows kept), so every row keeps its number.
    """
    as_is = table.delimiter == "," and table.encoding in ("utf-8", "utf-8-sig")
    if as_is and path.suffix.lower() == ".csv":
        return imports.import_sales_orders(ctx, path, actor=actor, progress=progress)
    with tempfile.TemporaryDirectory(prefix="bopo-import-") as folder:
        plain = Path(folder) / "orders.csv"
        with plain.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(table.header)
            at = 1
            for row_no, values in table.rows:
                while at < row_no - 1:
                    out.write("\n")
                    at += 1
                writer.writerow([v.replace("\r\n", " ").replace("\n", " ") for v in values])
                at = row_no
        return imports.import_sales_orders(ctx, plain, actor=actor, progress=progress)
