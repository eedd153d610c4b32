"""Helpers shared by the report, run and compare tests: real Assessments from fixture files,
and a headless Chromium runner."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile

from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLE = ROOT / "examples" / "image-classifier.yaml"
EVIL = "<script>alert(1)</script><img src=x onerror=alert(1)>"
CHROMIUM = "/usr/bin/chromium"


def probe_path(name: str) -> str:
    return str(FIXTURES / f"probe-{name}.json")


def probe_data(name: str) -> dict:
    return json.loads((FIXTURES / f"probe-{name}.json").read_text())


def assessment(probe: str | None = "nvidia-tf-blind", sets: tuple[str, ...] = (), answers=EXAMPLE):
    from advisor.service import recommend as core

    return core.recommend(rules=None, answers_file=str(answers) if answers else None, sets=sets,
                          probe_file=probe if probe is None or "/" in probe else probe_path(probe)).assessment


def chromium(args: list[str], url: str, timeout: float = 90) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="advisor-chromium-")
    try:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions", f"--user-data-dir={profile}", *args, url],
            capture_output=True, text=True, timeout=timeout,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
