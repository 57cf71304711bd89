"""`make bench`: run the benchmark suites, print a table, write bench/results.json.

Each suite is a module in bench/ with `run(scale) -> dict` of figures; a
figure named `*_target` next to a measured one is shown as pass/fail. A suite's
`vs_limit` rows (bopo, the yardstick of bench/limit.py, their ratio) are shown
as a table of their own.
Choose suites with BOPO_BENCH_SUITES=intake,emails; shrink with BOPO_BENCH_SCALE=0.1.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from bench.common import Scale

SUITES = ["intake", "emails", "goods_in", "api", "web", "promise"]
# BOPO_BENCH_RESULTS=bench/results_million.json keeps the million-order figures apart.
RESULTS = Path(os.environ.get("BOPO_BENCH_RESULTS", Path(__file__).with_name("results.json")))


def main() -> None:
    factor = float(os.environ.get("BOPO_BENCH_SCALE", "1"))
    base = Scale()
    scale = Scale(
        items=max(50, int(base.items * factor)),
        po_lines=max(200, int(base.po_lines * factor)),
        orders=max(500, int(base.orders * factor)),
    )
    chosen = [s for s in os.environ.get("BOPO_BENCH_SUITES", ",".join(SUITES)).split(",") if s]
    console = Console()
    results: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "scale": scale.__dict__,
        "suites": {},
    }
    started = time.perf_counter()
    for name in chosen:
        console.print(f"[bold]suite {name}[/] ...")
        module = importlib.import_module(f"bench.{name}")
        figures = module.run(scale)
        results["suites"][name] = figures  # type: ignore[index]
        _print(console, name, figures)
    results["seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"wrote {RESULTS} ({results['seconds']} s)")


def _print(console: Console, name: str, figures: dict[str, object]) -> None:
    table = Table(title=name)
    for col in ("figure", "value", "target", ""):
        table.add_column(col)
    for key, value in figures.items():
        if key.endswith("_target") or isinstance(value, dict | list):  # details: JSON only
            continue
        target = figures.get(f"{key}_target")
        verdict = ""
        if isinstance(target, dict) and isinstance(value, int | float):
            ok = value >= target["min"] if "min" in target else value <= target["max"]
            verdict = "[green]met[/]" if ok else "[red]missed[/]"
            target = f">= {target['min']}" if "min" in target else f"<= {target['max']}"
        table.add_row(key, str(value), "" if target is None else str(target), verdict)
    console.print(table)
    if isinstance(figures.get("vs_limit"), list):
        _print_vs_limit(console, name, figures["vs_limit"])  # type: ignore[arg-type]


def _print_vs_limit(console: Console, name: str, rows: list[dict[str, Any]]) -> None:
    """bopo next to the yardstick (bench/limit.py): 1.0 would be the limit itself."""
    table = Table(title=f"{name}: bopo against the limit")
    for col in ("figure", "unit", "bopo", "limit", "ratio", "target"):
        table.add_column(col, no_wrap=True)
    for r in rows:
        # A target is on the ratio, or ("bopo_target") on bopo's own figure.
        target, of, whose = r["target"], r["ratio"], ""
        if target is None and r.get("bopo_target") is not None:
            target, of, whose = r["bopo_target"], r["bopo"], "bopo "
        shown = ""
        if target is not None:
            verdict = "[green]met[/]" if of >= target else "[red]missed[/]"
            shown = f"{whose}>= {target} {verdict}"
        table.add_row(
            r["figure"], r["unit"], str(r["bopo"]), str(r["limit"]), str(r["ratio"]), shown
        )
    console.print(table)


if __name__ == "__main__":
    main()
