"""Probes cannot take advisor down: a whole `advisor probe` run over deliberately broken probe
children — a segfault, an os._exit, a hang, garbage on stdout, a flood of output, a leaked
grandchild, a memory eater — finishes, gives each row a status, and leaves no process behind."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import psutil
import pytest
from probe_fixtures import PROBES, fake_probes_dir, write_script

from advisor.probe.catalog import ROW_NAMES
from advisor.probe.runner import run_child
from tests.conftest import ROOT, cli_env

EAT_MEMORY = """
    import time
    hog = []
    while True:
        hog.append(bytearray(32 * 1024 * 1024))  # touched pages: real resident memory
        time.sleep(0.02)
"""

BROKEN = {
    "probe_pytorch.py": "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
    "probe_tensorflow.py": "import time\nwhile True:\n    time.sleep(1)\n",
    "probe_keras.py": "import sys, os\nsys.stdout.write('\\x00garbage {not json\\n' * 1000)\nos._exit(0)\n",
    "probe_jax.py": EAT_MEMORY,
}
LEAKER = """
    import subprocess, sys, time
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print("x" * 5_000_000)
    raise SystemExit(7)
"""


def _survivors(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.Error:
            pass
    return found


def test_memory_eater_is_killed_and_reported(tmp_path):
    script = write_script(tmp_path, "eat.py", EAT_MEMORY)
    start = time.perf_counter()
    result = run_child([sys.executable, str(script)], timeout=60, memory_limit=300 * 1024 * 1024)
    assert time.perf_counter() - start < 30
    assert result.status == "broken"
    assert "used more than 300 MiB of memory" in result.error
    assert not _survivors(str(script))


@pytest.mark.parametrize("startup", [[], ["--serial"]], ids=["staged", "serial"])
def test_a_whole_probe_run_over_broken_children_finishes(tmp_path, startup):
    folder = fake_probes_dir(tmp_path / "probes", BROKEN)
    shutil.copy(PROBES / "probe_sklearn.py", folder / "probe_sklearn.py")
    out = tmp_path / "probe.json"
    env = cli_env(ADVISOR_PROBES_DIR=str(folder), ADVISOR_PROBE_MEMORY_LIMIT_MB="400")
    start = time.perf_counter()
    every_row = ",".join(ROW_NAMES)  # with --quick, naming the rows runs all three Keras rows
    proc = subprocess.run([sys.executable, "-m", "advisor", "probe", "--quick", "--timeout", "8",
                           "--frameworks", every_row, "--out", str(out), *startup],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr  # sklearn ran, so the run succeeded
    assert "Traceback" not in proc.stderr
    data = json.loads(out.read_text())
    assert data["run"]["startup"]["mode"] == ("serial" if startup else "staged")
    rows = {r["name"]: r for r in data["frameworks"]}
    assert rows["sklearn"]["status"] == "ok"
    assert rows["pytorch"]["status"] == "broken" and "SIGSEGV" in rows["pytorch"]["error"]
    assert rows["tensorflow"]["status"] == "timeout"
    for name in ("keras/tensorflow", "keras/torch", "keras/jax"):
        assert rows[name]["status"] == "broken", rows[name]
    assert rows["jax"]["status"] == "broken" and "memory" in rows["jax"]["error"]
    assert elapsed < 120
    time.sleep(0.5)
    assert not _survivors(str(folder))


def test_leaked_grandchild_and_flood_end_as_a_status(tmp_path):
    script = write_script(tmp_path, "leak.py", LEAKER)
    result = run_child([sys.executable, str(script)], timeout=30)
    assert result.status == "broken"
    time.sleep(0.5)
    assert not [p for p in _survivors("time.sleep(600)") if p.ppid() in (1, 0)]
