"""Privacy: a probe file records no user names, home paths, host names (unless asked), UUIDs or
serial numbers, and advisor sends nothing anywhere — checked on a real probe run whose every
Python process is audited for network calls."""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_env

AUDIT = ROOT / "tests" / "support" / "audit"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def audited_probe(tmp_path: Path, *extra: str) -> tuple[dict, str, list[str]]:
    log = tmp_path / "audit.log"
    env = cli_env(ADVISOR_AUDIT_LOG=str(log))
    env["PYTHONPATH"] = os.pathsep.join([str(AUDIT), str(ROOT), env.get("PYTHONPATH", "")])
    out = tmp_path / "probe.json"
    proc = subprocess.run([sys.executable, "-m", "advisor", "probe", "--quick", "--frameworks",
                           "sklearn,pytorch", "--out", str(out), *extra],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    events = log.read_text().splitlines() if log.exists() else []
    return json.loads(text), text, events


def _is_local(event: str) -> bool:
    return "AF_UNIX" in event or "'127.0.0.1'" in event or "'::1'" in event or "localhost" in event


@pytest.mark.probe
def test_probe_records_nothing_identifying_and_sends_nothing(tmp_path):
    data, text, events = audited_probe(tmp_path)
    assert data["frameworks"], data
    home = str(Path.home())
    assert home not in text, [ln for ln in text.splitlines() if home in ln]  # no home path
    user = getpass.getuser()
    if len(user) > 3:
        assert user not in text
    assert socket.gethostname() not in text
    assert not UUID.search(text)
    assert "serial" not in text.lower()
    remote = [e for e in events if not _is_local(e)]
    assert remote == [], remote


@pytest.mark.probe
def test_hostname_only_when_asked(tmp_path):
    data, text, _ = audited_probe(tmp_path, "--include-hostname")
    assert socket.gethostname() in text
    assert data["host"].get("hostname") == socket.gethostname()
