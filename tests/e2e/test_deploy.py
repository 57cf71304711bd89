"""The deployment files: systemd units that systemd accepts, a container that runs bopo
as a user without privileges."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
INSTALLED_BOPO = "/opt/bopo/venv/bin/bopo"


def test_there_is_a_unit_for_the_web_server_the_worker_and_the_mailer() -> None:
    commands = {u.name: _exec_start(u) for u in UNITS}
    assert commands == {
        "bopo-mailer.service": f"{INSTALLED_BOPO} emails send --loop --interval 30",
        "bopo-web.service": f"{INSTALLED_BOPO} serve --workers 2 --metrics-port 9108",
        "bopo-worker.service": f"{INSTALLED_BOPO} worker",
    }


def _exec_start(unit: Path) -> str:
    found = re.search(r"^ExecStart=(.+)$", unit.read_text(), re.M)
    assert found, unit
    return found.group(1)


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_accepts_the_unit(unit: Path, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package: systemd)")
    # Where bopo is installed here, so that systemd can check the command exists.
    bopo = Path(sys.executable).with_name("bopo")
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text().replace(INSTALLED_BOPO, str(bopo)))
    done = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # not even a warning
    text = unit.read_text()
    assert "User=bopo" in text
    assert "KillSignal=SIGTERM" in text


def test_the_container_runs_bopo_serve_as_a_user_without_privileges() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users, "no USER: the container would run as root"
    assert users[-1].split(":")[0] not in {"0", "root"}
    assert re.search(r'^ENTRYPOINT \["bopo", "serve"\]$', text, re.M)
    assert "/api/health/live" in text
