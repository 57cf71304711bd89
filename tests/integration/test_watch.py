"""The drop folder: each whole file imported once, by one watcher, then filed with its summary."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bopo.db.models import SalesOrder
from bopo.services.context import Context
from bopo.services.files.drop_folder import WatchState, prepare, ready, run_once
from bopo.services.files.imports import import_purchase_orders, import_stock_items
from tests.helpers import STARTUP_S, given_status

FILES = Path(__file__).parents[1] / "files"
EXAMPLES = Path(__file__).parents[2] / "examples"
HEADER = (
    "source,order_number,customer_code,customer_name,customer_email,order_date,"
    "delivery_date,line_no,sku,qty\n"
)


def orders_csv(*numbers: str) -> str:
    return HEADER + "".join(
        f"web,{n},C-{n},Ada,ada@example.com,2026-11-25,2026-12-01,1,MUG-12,1\n" for n in numbers
    )


@pytest.fixture
def shop(ctx: Context, tmp_path: Path) -> tuple[Context, Path]:
    given_status(ctx, "ON ORDER")
    import_stock_items(ctx, EXAMPLES / "stock_items.csv")
    import_purchase_orders(ctx, EXAMPLES / "purchase_orders.csv")
    folder = tmp_path / "drop"
    folder.mkdir()
    prepare(folder)
    return ctx, folder


def taken(ctx: Context) -> int:
    with ctx.db.read() as conn:
        return conn.scalar(select(func.count()).select_from(SalesOrder)) or 0


def test_a_dropped_file_is_imported_once_and_filed_with_its_summary(
    shop: tuple[Context, Path],
) -> None:
    ctx, folder = shop
    shutil.copy(FILES / "shopify_orders.csv", folder / "shopify-2026-11-25.csv")
    (folder / "orders.csv").write_text(orders_csv("W-1", "W-2"))
    state = WatchState()

    assert run_once(ctx, folder, state) == []  # first look: not yet known to be whole
    handled = {h.name: h for h in run_once(ctx, folder, state)}

    assert handled["orders.csv"].outcome == "done"
    assert handled["shopify-2026-11-25.csv"].outcome == "failed"  # two of its orders refused
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == []
    summary_path = handled["orders.csv"].moved_to.with_name(
        handled["orders.csv"].moved_to.name + ".summary.json"
    )
    summary = json.loads(summary_path.read_text())
    assert (summary["orders_taken"], summary["outcome"]) == (2, "done")
    failed = json.loads(
        (
            folder / "failed" / (handled["shopify-2026-11-25.csv"].moved_to.name + ".summary.json")
        ).read_text()
    )
    assert failed["read_as"]["format"] == "shopify (detected from the header)"
    assert {e["row"] for e in failed["errors"]} == {10, 11}
    assert taken(ctx) == 4
    assert list((folder / "processing").iterdir()) == []
    assert run_once(ctx, folder, state) == []


def test_a_file_still_being_written_is_not_read_half_way(shop: tuple[Context, Path]) -> None:
    ctx, folder = shop
    growing = folder / "orders.csv"
    state = WatchState()
    growing.write_text(orders_csv("W-1"))
    assert run_once(ctx, folder, state) == []
    with growing.open("a") as f:  # the export job is still writing
        f.write("web,W-2,C-W-2,Ada,ada@example.com,2026-11-25,2026-12-01,1,MUG-")
    os.utime(growing, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert run_once(ctx, folder, state) == []
    with growing.open("a") as f:
        f.write("12,1\n")
    os.utime(growing, ns=(time.time_ns(), time.time_ns() + 2_000_000))
    assert run_once(ctx, folder, state) == []
    [handled] = run_once(ctx, folder, state)  # quiet for a whole look: whole
    assert handled.summary.orders_taken == 2


def test_names_used_while_writing_wait_for_the_rename(shop: tuple[Context, Path]) -> None:
    ctx, folder = shop
    part = folder / "orders.csv.part"
    part.write_text(orders_csv("W-1"))
    state = WatchState()
    assert run_once(ctx, folder, state) == []
    assert run_once(ctx, folder, state) == []
    part.rename(folder / "orders.csv")
    run_once(ctx, folder, state)
    assert [h.outcome for h in run_once(ctx, folder, state)] == ["done"]


def test_two_watchers_never_import_the_same_file(
    shop: tuple[Context, Path], make_ctx: Callable[..., Context]
) -> None:
    ctx, folder = shop
    other = make_ctx()
    for i in range(12):
        (folder / f"orders-{i:02}.csv").write_text(orders_csv(f"W-{i}a", f"W-{i}b"))
    states = [WatchState(), WatchState()]
    for state in states:
        ready(folder, state)  # each has had its first look: every file is whole now
    results: list[list[str]] = [[], []]
    start = threading.Barrier(2)

    def work(k: int, c: Context) -> None:
        start.wait()
        results[k] = [h.name for h in run_once(c, folder, states[k])]

    threads = [threading.Thread(target=work, args=(k, c)) for k, c in enumerate((ctx, other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    names = results[0] + results[1]
    assert sorted(names) == [f"orders-{i:02}.csv" for i in range(12)]  # each once
    summaries = [json.loads(p.read_text()) for p in (folder / "done").glob("*.summary.json")]
    assert len(summaries) == 12
    assert all(s["orders_taken"] == 2 and s["orders_duplicate"] == 0 for s in summaries)
    assert taken(ctx) == 24


def test_the_command_stops_cleanly_on_sigterm(shop: tuple[Context, Path]) -> None:
    ctx, folder = shop
    (folder / "orders.csv").write_text(orders_csv("W-1"))
    bopo = Path(sys.executable).with_name("bopo")
    env = os.environ | {"BOPO_DATABASE__URL": ctx.settings.database.url}
    proc = subprocess.Popen(
        [str(bopo), "import", "watch", str(folder), "--interval", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=folder.parent,
    )
    try:
        deadline = time.monotonic() + STARTUP_S
        while not list((folder / "done").glob("*.summary.json")):
            assert time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "slow"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, errors = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, errors
    assert "orders.csv: done (1 taken" in out
    assert "stopped" in errors
