"""`--out` onto what is not a regular file (issue 15, item 1; and the full disk of item 13): a FIFO,
a character device, /dev/stdout and a symlink are written through or followed, never replaced;
a full disk or an unwritable folder is one clean line, and no temporary file is left."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from advisor.infra import atomic
from advisor.infra.errors import FileProblem
from tests.conftest import ROOT, cli_env

PROBE = str(ROOT / "tests" / "fixtures" / "probe-cpu-noisy.json")
# every command that takes --out (probe's early check is tested in test_hostile_signals.py)
OUT_COMMANDS = {
    "recommend": ["recommend", "--defaults", "-f", "json"],
    "recommend-table": ["recommend", "--defaults"],
    "compare": ["compare", PROBE, "-f", "markdown"],
    "ask": ["ask", "--no-input", "--defaults"],
    "rules-schema": ["rules", "schema"],
}


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "advisor", *args], capture_output=True,
                          text=True, env=cli_env(), cwd=ROOT, timeout=timeout)


@pytest.mark.parametrize("command", list(OUT_COMMANDS))
def test_out_onto_a_fifo_writes_through(tmp_path, command):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    proc = cli(*OUT_COMMANDS[command], "--out", str(fifo))
    reader.join(timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO
    assert received and len(received[0]) > 100
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]  # no temp file


@pytest.mark.parametrize("command", list(OUT_COMMANDS))
def test_out_onto_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path, command):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    proc = cli(*OUT_COMMANDS[command], "--out", str(link))
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert len(real.read_text()) > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.txt", "real.txt"]


def test_out_onto_dev_stdout_writes_to_standard_output():
    proc = cli("recommend", "--defaults", "-f", "json", "--out", "/dev/stdout")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.lstrip().startswith("{")
    assert os.path.islink("/dev/stdout") or not os.path.exists("/dev/stdout")


def test_out_onto_a_character_device_is_never_replaced(tmp_path):
    before = os.stat("/dev/null")
    proc = cli("recommend", "--defaults", "-f", "json", "--out", "/dev/null")
    assert proc.returncode == 0, proc.stderr
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert not list(Path("/dev").glob(".null.*.tmp"))


def test_a_dangling_symlink_is_refused(tmp_path):
    link = tmp_path / "out.json"
    link.symlink_to(tmp_path / "elsewhere" / "x.json")
    proc = cli("recommend", "--defaults", "-f", "json", "--out", str(link))
    assert proc.returncode == 2
    assert proc.stderr.startswith("advisor: error: ") and proc.stderr.count("\n") == 1
    assert not (tmp_path / "elsewhere").exists()


def test_a_full_disk_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "report.json"
    target.write_text("old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(FileProblem) as info:
        atomic.write_text(target, "new")
    assert "no space left" in str(info.value)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_dev_full_is_a_clean_error():
    proc = cli("recommend", "--defaults", "-f", "json", "--out", "/dev/full")
    assert proc.returncode == 2
    assert proc.stderr == "advisor: error: /dev/full: cannot write: no space left on the device " \
                          "(nothing was replaced)\n"


def test_check_writable_finds_problems_before_work(tmp_path):
    atomic.check_writable(tmp_path / "new" / "deeper" / "probe.json")  # mkdir will do
    atomic.check_writable("/dev/stdout")
    (tmp_path / "dir").mkdir()
    with pytest.raises(FileProblem):
        atomic.check_writable(tmp_path / "dir")
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileProblem):
        atomic.check_writable(tmp_path / "file" / "probe.json")
