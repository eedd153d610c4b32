"""run_child: every way a probe child can go wrong becomes a status and leaves no process."""

from __future__ import annotations

import _thread
import threading
import time

import pytest
from probe_fixtures import PY, gone, printing_script, read_pids, write_script

from advisor.probe.runner import CAPTURE_BYTES, classify, parse_result, run_child


def run_script(tmp_path, body, timeout=20.0):
    script = write_script(tmp_path, "child.py", body)
    return run_child([PY, str(script)], timeout=timeout, cwd=tmp_path)


def test_ok_child_returns_its_payload(tmp_path):
    result = run_script(tmp_path, printing_script({"status": "ok", "name": "x", "n": 1}))
    assert result.status == "ok"
    assert result.payload["n"] == 1
    assert result.returncode == 0


def test_chatter_before_the_result_is_ignored(tmp_path):
    body = "print('loading...')\n" + printing_script({"status": "ok", "name": "x"})
    assert run_script(tmp_path, body).status == "ok"


def test_crash_with_os_exit_is_broken_with_last_stderr_line(tmp_path):
    body = """
        import os, sys
        sys.stderr.write("warming up\\nRuntimeError: device lost\\n"); sys.stderr.flush()
        os._exit(3)
    """
    result = run_script(tmp_path, body)
    assert result.status == "broken"
    assert result.error == "RuntimeError: device lost"
    assert result.returncode == 3


def test_uncaught_exception_is_broken_with_the_exception_line(tmp_path):
    result = run_script(tmp_path, "raise ValueError('bad shape (3, 4)')\n")
    assert result.status == "broken"
    assert result.error == "ValueError: bad shape (3, 4)"


def test_segfault_is_broken_and_names_the_signal(tmp_path):
    body = """
        import os, signal
        os.kill(os.getpid(), signal.SIGSEGV)
    """
    result = run_script(tmp_path, body)
    assert result.status == "broken"
    assert result.error == "probe killed by SIGSEGV"


def test_hang_times_out_and_the_child_is_killed(tmp_path):
    body = """
        import os, time
        open("pids", "w").write(str(os.getpid()))
        time.sleep(120)
    """
    started = time.monotonic()
    result = run_script(tmp_path, body, timeout=1.5)
    assert result.status == "timeout"
    assert "1.5 s" in result.error
    assert time.monotonic() - started < 10
    for pid in read_pids(tmp_path / "pids"):
        assert gone(pid)


def test_garbage_output_is_broken(tmp_path):
    result = run_script(tmp_path, "print('hello, I am not JSON')\n")
    assert result.status == "broken"
    assert "garbage" in result.error


def test_json_that_is_not_a_result_is_broken(tmp_path):
    result = run_script(tmp_path, "print('[1, 2, 3]')\nprint('{\"status\": \"great\"}')\n")
    assert result.status == "broken"


def test_no_output_at_all_is_broken(tmp_path):
    result = run_script(tmp_path, "pass\n")
    assert result.status == "broken"
    assert result.error == "probe printed no result"


def test_huge_output_is_bounded_and_broken(tmp_path):
    body = """
        import sys
        chunk = "x" * 1000 + "\\n"
        for _ in range(20000):  # 20 MB on each stream
            sys.stdout.write(chunk); sys.stderr.write(chunk)
    """
    result = run_script(tmp_path, body, timeout=60)
    assert result.status == "broken"
    assert "bytes of output" in result.error
    assert len(result.stderr_tail) <= CAPTURE_BYTES


def test_lingering_grandchild_is_killed_after_the_child_exits(tmp_path):
    body = f"""
        import os, subprocess, json
        grand = subprocess.Popen([{PY!r}, "-c", "import time; time.sleep(120)"])
        open("pids", "w").write(f"{{os.getpid()}} {{grand.pid}}")
        print(json.dumps({{"status": "ok", "name": "x"}}))
    """
    result = run_script(tmp_path, body)
    assert result.status == "ok"
    pids = read_pids(tmp_path / "pids")
    assert len(pids) == 2
    for pid in pids:
        assert gone(pid), f"process {pid} lingers"


def test_hanging_child_with_grandchild_leaves_nothing_behind(tmp_path):
    body = f"""
        import os, subprocess, time
        grand = subprocess.Popen([{PY!r}, "-c", "import time; time.sleep(120)"])
        open("pids", "w").write(f"{{os.getpid()}} {{grand.pid}}")
        time.sleep(120)
    """
    result = run_script(tmp_path, body, timeout=2)
    assert result.status == "timeout"
    for pid in read_pids(tmp_path / "pids"):
        assert gone(pid)


def test_missing_script_is_broken(tmp_path):
    result = run_child([PY, str(tmp_path / "nope.py")], timeout=20)
    assert result.status == "broken"
    assert "nope.py" in result.error


def test_missing_executable_is_broken(tmp_path):
    result = run_child([str(tmp_path / "no-such-python")], timeout=5)
    assert result.status == "broken"
    assert result.error.startswith("cannot start probe")


def test_ctrl_c_kills_the_child_and_propagates(tmp_path):
    script = write_script(tmp_path, "child.py", """
        import os, time
        open("pids", "w").write(str(os.getpid()))
        time.sleep(120)
    """)

    def interrupt_when_started():
        deadline = time.monotonic() + 20
        while not (tmp_path / "pids").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        _thread.interrupt_main()

    threading.Thread(target=interrupt_when_started, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run_child([PY, str(script)], timeout=60, cwd=tmp_path)
    pids = read_pids(tmp_path / "pids")
    assert pids and all(gone(pid) for pid in pids)


def test_errors_are_redacted(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", "/home/alice")
    result = classify("", "OSError: /home/alice/.venv/lib/x.so: GPU-12345678-1234-1234-1234-"
                      "123456789abc failed\n", 1, 0.1)
    assert "/home/alice" not in result.error and "GPU-1234" not in result.error
    assert "~/.venv" in result.error


def test_parse_result_takes_the_last_line_even_when_long():
    payload = '{"status": "ok", "name": "x", "pad": "' + "y" * 5000 + '"}'
    assert parse_result("noise\n" + payload + "\n")["pad"] == "y" * 5000
    assert parse_result(payload + "\ntrailing garbage") is None
