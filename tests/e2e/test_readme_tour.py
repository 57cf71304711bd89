"""The README's five-minute tour, run as written: in a new bash, in a copy of the
project's folder (its `.venv` and `examples/`), ending with a sign-in to `bopo serve`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.smtp_sink import free_port

ROOT = Path(__file__).parents[2]
PASSWORD = "tour-password-1"


def tour_lines() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## A five-minute tour.*?```sh\n(.*?)```", readme, re.S)
    assert block, "README has no tour"
    return [line for line in block[1].splitlines() if line.strip()]


@pytest.mark.slow
def test_the_readme_tour_works_as_written_and_ends_with_a_sign_in(tmp_path: Path) -> None:
    venv = Path(sys.executable).parent.parent
    if not (venv / "bin" / "activate").exists():
        pytest.skip("the tests do not run from the project's venv")
    (tmp_path / ".venv").symlink_to(venv)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    *steps, serve = tour_lines()
    assert serve.startswith("bopo serve")
    # The one line that asks at a terminal takes the password on standard input here.
    script = "\n".join(
        f"printf '{PASSWORD}\\n' | {line.replace('--password', '--password-stdin')}"
        if "--password" in line
        else line
        for line in steps
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOPO_", "VIRTUAL_ENV"))}
    env["PATH"] = "/usr/bin:/bin"  # a fresh shell: bopo is not on the PATH until activated
    done = subprocess.run(
        ["bash", "-e", "-c", script + "\nexport -p"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "linked to PO-2001 line 1" in done.stdout
    shell_env = dict(re.findall(r'declare -x (\w+)="(.*)"', done.stdout))
    port = free_port()
    server = subprocess.Popen(
        ["bash", "-c", f"{serve.split('#')[0].strip()} --port {port} --no-access-log"],
        cwd=tmp_path,
        env=shell_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=10) as browser:
            token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)
            assert token is not None
            form = {"name": "anna", "password": PASSWORD, "csrf_token": token[1]}
            assert browser.post("/login", data=form).status_code == 303
            assert "W-9002" in browser.get("/worklist").text
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=20)
