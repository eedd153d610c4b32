"""A non-editable install finds its rules/ and probes/ from any directory (package data)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from tests.conftest import ROOT


def test_wheel_carries_rules_and_probes_and_works_elsewhere(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels), str(ROOT)], check=True, timeout=300, cwd=tmp_path)
    wheel = next(wheels.glob("advisor-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "advisor/_rules/knowledge.yaml" in names
    assert "advisor/_probes/harness.py" in names
    assert any(n.startswith("advisor/render/") for n in names)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)  # only the installed copy, not the source tree
    code = ("import advisor.infra.resources as r, advisor; "
            "print(advisor.__file__); print(r.rules_dir()); print(r.probes_dir())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=elsewhere, check=True, timeout=60).stdout.splitlines()
    assert all(str(target) in line for line in out), out
    check = subprocess.run([sys.executable, "-m", "advisor", "rules", "check"], capture_output=True,
                           text=True, env=env, cwd=elsewhere, timeout=120)
    assert check.returncode == 0, check.stderr
    assert str(target) in check.stdout
