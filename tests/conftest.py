"""Shared fixtures: the bundled knowledge base, and the real CLI run in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    code: int
    out: str
    err: str


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ADVISOR_TRACEBACK", None)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["COLUMNS"] = "120"
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


def run_cli(*args: str, input: str | None = None, cwd: Path | None = None, timeout: float = 120,
            env: dict[str, str] | None = None) -> Result:
    """Run `python -m advisor ARGS` for real, as a user would."""
    proc = subprocess.run(
        [sys.executable, "-m", "advisor", *args],
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=env or cli_env(),
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Every test run (and the CLI subprocesses it starts) uses its own knowledge-base cache."""
    os.environ["ADVISOR_CACHE_DIR"] = str(tmp_path_factory.mktemp("advisor-cache"))
    yield


@pytest.fixture(scope="session")
def kb():
    from advisor.kb import loader

    return loader.load_bundled()


@pytest.fixture
def cli():
    return run_cli
