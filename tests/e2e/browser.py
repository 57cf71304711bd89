"""A real server on a free port and Debian's Chromium driven by Playwright.

Used by the browser tests and by scripts/screenshots.py. The browser is the
system's (`apt-get install chromium`); nothing is downloaded.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from tests.helpers import STARTUP_S

CHROMIUM = Path("/usr/bin/chromium")
# axe-core from its npm package (tests/e2e/package.json; `make test` installs it).
AXE = Path(__file__).with_name("node_modules") / "axe-core" / "axe.min.js"
_AXE_RUN = """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
    .map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3)
        .map(n => n.target.join(' ')).join(', ')}`)"""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve the app with uvicorn in a thread; yields its base URL."""
    # Bound here and handed over, not a port free a moment ago: another test process
    # cannot start its server on it in between.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (the system's), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Any, base: str, name: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def accessibility_violations(page: Any) -> list[str]:
    """axe-core's violations of its default rules on the page as it stands, one line each.

    Evaluated through the browser's devtools, so the pages' Content-Security-Policy
    (scripts from bopo only) does not stop it.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    found: list[str] = page.evaluate(_AXE_RUN)
    return found


def scrolls_sideways(page: Any) -> bool:
    """Wider than the window: the page would scroll sideways (a phone's complaint)."""
    wide: bool = page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
    return wide
