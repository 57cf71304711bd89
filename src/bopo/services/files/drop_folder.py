"""A drop folder: files a shop's export job leaves there are imported once each.

    DIR/              files arrive here
    DIR/processing/   a watcher's claimed files, each in a folder of its own
    DIR/done/         imported, every order taken or already there; NAME.summary.json beside
    DIR/failed/       not readable, or some order refused (the good ones are taken);
                      NAME.summary.json says which rows and why

A file is read only when it is whole: it must look the same (size and
modification time) on two looks one interval apart, and names that writers use
while writing (`.part`, `.tmp`, `.crdownload`, `~`, hidden files) are left alone
until renamed. A writer that writes under another name and renames the file into
place when done is never read half-way; one that writes in place is read once it
has been quiet for a whole interval.

Several watchers may watch one folder (on one machine or sharing it): a file is
claimed by renaming it into `processing/`, which only one rename can do, so no
file is imported twice. Importing the same file twice would change nothing
anyway (orders are recognised by source and number), but it would be reported
twice.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bopo.services.common.serial import to_json
from bopo.services.context import Context
from bopo.services.files import formats
from bopo.services.files.imports import ImportSummary

PROCESSING, DONE, FAILED = "processing", "done", "failed"
SUFFIXES = {".csv", ".json", ".tsv", ".txt", ".xlsx"}
_WRITING = (".part", ".tmp", ".crdownload", ".partial", "~")


@dataclass
class WatchState:
    """What the last look saw: name -> (size, modification time)."""

    seen: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class Handled:
    name: str
    outcome: str  # done, failed
    moved_to: Path
    summary: ImportSummary


def prepare(folder: Path) -> None:
    for sub in (PROCESSING, DONE, FAILED):
        (folder / sub).mkdir(parents=True, exist_ok=True)


def ready(folder: Path, state: WatchState) -> list[Path]:
    """Files that look the same as at the last look, oldest first; remembers this look."""
    now: dict[str, tuple[int, int]] = {}
    for entry in os.scandir(folder):
        name = entry.name
        if not entry.is_file() or name.startswith(".") or name.endswith(_WRITING):
            continue
        if Path(name).suffix.lower() not in SUFFIXES:
            continue
        try:
            st = entry.stat()
        except FileNotFoundError:  # claimed by another watcher meanwhile
            continue
        now[name] = (st.st_size, st.st_mtime_ns)
    stable = [n for n, look in now.items() if state.seen.get(n) == look]
    state.seen = now
    return sorted((folder / n for n in stable), key=lambda p: (now[p.name][1], p.name))


def claim(folder: Path, path: Path) -> Path | None:
    """Move the file into a folder of this claim's own under processing/; None if another
    watcher was first (the rename is atomic: exactly one succeeds)."""
    box = folder / PROCESSING / f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    box.mkdir(parents=True)
    target = box / path.name
    try:
        os.rename(path, target)
    except FileNotFoundError:
        box.rmdir()
        return None
    return target


def process(ctx: Context, folder: Path, claimed: Path, *, fmt: str | None, actor: str) -> Handled:
    """Import a claimed file and move it, with its summary, to done/ or failed/."""
    name = claimed.name
    summary = formats.import_orders(ctx, claimed, format=fmt, actor=actor, name=name)
    outcome = DONE if summary.ok else FAILED
    stamp = ctx.clock().strftime("%Y%m%dT%H%M%S")
    target = _free_name(folder / outcome, f"{stamp}-{name}")
    report = to_json(summary) | {"file": name, "outcome": outcome}
    # the summary first: a file in done/ or failed/ always has its summary beside it
    target.with_name(target.name + ".summary.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    os.rename(claimed, target)
    claimed.parent.rmdir()
    return Handled(name, outcome, target, summary)


def _free_name(folder: Path, name: str) -> Path:
    target, n = folder / name, 1
    while target.exists():
        n += 1
        target = folder / f"{Path(name).stem}-{n}{Path(name).suffix}"
    return target


def run_once(
    ctx: Context,
    folder: Path,
    state: WatchState,
    *,
    fmt: str | None = None,
    actor: str = "watch",
    stop: threading.Event | None = None,
) -> list[Handled]:
    """One look at the folder: import each file that is whole and not claimed by another."""
    handled = []
    for path in ready(folder, state):
        if stop is not None and stop.is_set():
            break
        claimed = claim(folder, path)
        if claimed is None:
            continue
        try:
            handled.append(process(ctx, folder, claimed, fmt=fmt, actor=actor))
        except Exception:
            # not the file's fault (the database went away...): back into the folder, to be
            # tried again; importing it again is safe
            os.rename(claimed, folder / claimed.name)
            claimed.parent.rmdir()
            raise
    return handled


def watch(
    ctx: Context,
    folder: Path,
    *,
    fmt: str | None = None,
    interval: float = 5.0,
    stop: threading.Event,
    actor: str = "watch",
    report: Callable[[Handled], None] | None = None,
    trouble: Callable[[Exception], None] | None = None,
) -> None:
    """Look every `interval` seconds until `stop` is set; the file being imported is finished.

    A pass that fails for a reason outside the files (the database away) is reported to
    `trouble`; its file went back into the folder and the next pass tries again.
    """
    prepare(folder)
    state = WatchState()
    while not stop.is_set():
        try:
            for handled in run_once(ctx, folder, state, fmt=fmt, actor=actor, stop=stop):
                if report is not None:
                    report(handled)
        except Exception as exc:
            if trouble is None:
                raise
            trouble(exc)
        stop.wait(interval)
