"""SIGTERM and SIGHUP are handled as Ctrl-C is (issue 15, item 7), and an `advisor run` report
folder is one unit (item 2): no probe child (grandchildren in sessions of their own included) and
no temporary folder outlives advisor; the exit code is 128 + the signal (143, 129)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from probe_fixtures import fake_probes_dir

from tests.conftest import ROOT, cli_env

# A row that starts a grandchild in a session of its own (as torchrun's workers or a daemon
# do), then hangs: only advisor's signal handling can take both down.
HANG = """
    import subprocess, sys, time
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)  # {marker}"],
                     start_new_session=True)
    print("started", flush=True)
    while True:
        time.sleep(1)
"""


def _marked(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in proc.info["cmdline"] or []):
                if proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
        except psutil.Error:
            pass
    return found


def _start_probe(tmp_path: Path, marker: str) -> tuple[subprocess.Popen, Path]:
    folder = fake_probes_dir(tmp_path / "probes", {
        "probe_sklearn.py": HANG.replace("{marker}", marker)})
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = cli_env(ADVISOR_PROBES_DIR=str(folder), TMPDIR=str(tmp))
    proc = subprocess.Popen(
        [sys.executable, "-m", "advisor", "probe", "--quick", "--frameworks", "sklearn",
         "--timeout", "600", "--out", str(tmp_path / "probe.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    deadline = time.monotonic() + 120
    while not _marked(marker):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the fake row never started"
        time.sleep(0.2)
    return proc, tmp


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)],
                         ids=["SIGTERM", "SIGHUP"])
def test_signal_during_probe_leaves_no_child_and_no_temp_folder(tmp_path, signum, code):
    marker = f"advisor-signal-test-{os.getpid()}-{signum}"
    proc, tmp = _start_probe(tmp_path, marker)
    time.sleep(0.5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert err.strip().endswith(f"advisor: error: terminated by {signal.Signals(signum).name}")
    time.sleep(0.5)
    assert _marked(marker) == []  # the grandchild in its own session is gone too
    assert list(tmp.iterdir()) == []  # no advisor-probe-* temp folder


def test_nohup_keeps_sighup_ignored():
    code = ("import signal; signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
            "from advisor.cli.app import install_signal_handlers\n"
            "install_signal_handlers()\n"
            "assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN\n"
            "assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL\n")
    subprocess.run([sys.executable, "-c", code], check=True, env=cli_env(), cwd=ROOT)


PROBE = str(ROOT / "tests" / "fixtures" / "probe-cpu-noisy.json")
REPORTS = {"report.html", "report.md", "recommendation.json", "answers.yaml", "probe.json"}


def _run(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "advisor", "run", "--no-input", "--defaults",
                           "--out", str(out), *extra], capture_output=True, text=True,
                          env=cli_env(), cwd=ROOT, timeout=300)


def test_report_folder_is_one_run(tmp_path):
    out = tmp_path / "rep"
    first = _run(out, "--probe", PROBE, "--set", "modality=images")
    assert first.returncode == 0, first.stderr
    assert {p.name for p in out.iterdir()} == REPORTS
    second = _run(out, "--no-probe", "--set", "modality=tabular")
    assert second.returncode == 0, second.stderr
    assert {p.name for p in out.iterdir()} == REPORTS - {"probe.json"}  # no stale probe.json
    rec = json.loads((out / "recommendation.json").read_text())
    assert rec["answers"]["modality"] == "tabular" if "answers" in rec else True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]  # no lock, no .tmp, no .new


def test_folder_with_other_files_needs_force(tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "thesis.tex").write_text("mine")
    refused = _run(out, "--no-probe")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "thesis.tex" in refused.stderr and "--force" in refused.stderr
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]
    forced = _run(out, "--no-probe", "--force")
    assert forced.returncode == 0, forced.stderr
    assert (out / "thesis.tex").read_text() == "mine"
    assert {p.name for p in out.iterdir()} == (REPORTS - {"probe.json"}) | {"thesis.tex"}


def test_second_writer_is_refused_while_the_first_holds_the_folder(tmp_path):
    from advisor.infra.errors import FileProblem
    from advisor.service.run import ReportFolder

    out = tmp_path / "rep"
    with ReportFolder(str(out)):
        with pytest.raises(FileProblem) as info:
            ReportFolder(str(out)).open()
        assert "another advisor run" in str(info.value)
    with ReportFolder(str(out)) as folder:  # free again once the first is done
        folder.commit({"report.md": "x"})
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]


def test_a_failure_while_writing_keeps_the_earlier_run_whole(tmp_path, monkeypatch):
    from advisor.infra import atomic
    from advisor.service.run import ReportFolder

    out = tmp_path / "rep"
    with ReportFolder(str(out)) as folder:
        folder.commit({"report.md": "run 1", "recommendation.json": "{}"})
    calls = []
    real = atomic.write_text

    def fail_second(path, text):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt  # SIGTERM unwinds the same way
        return real(path, text)

    monkeypatch.setattr(atomic, "write_text", fail_second)
    with pytest.raises(KeyboardInterrupt):
        with ReportFolder(str(out)) as folder:
            folder.commit({"report.md": "run 2", "recommendation.json": "{}"})
    assert (out / "report.md").read_text() == "run 1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_a_full_disk_while_writing_the_folder_is_one_line_and_keeps_the_earlier_run(
        tmp_path, monkeypatch):
    import errno

    from advisor.infra.errors import FileProblem
    from advisor.service.run import ReportFolder

    out = tmp_path / "rep"
    with ReportFolder(str(out)) as folder:
        folder.commit({"report.md": "run 1"})

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(FileProblem) as info:
        with ReportFolder(str(out)) as folder:
            folder.commit({"report.md": "run 2"})
    assert str(info.value).startswith(f"{out}: cannot write: no space left")
    assert (out / "report.md").read_text() == "run 1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]
