"""Run one probe child: a fresh process, argument list, no shell, its own process group.

The whole group is killed on timeout, on Ctrl-C (any exception), when its resident memory passes a
limit (half of this machine's memory unless told otherwise) and right after the child exits (so
grandchildren cannot linger), and so is every descendant of the child: launchers such as
torchrun start their workers in sessions of their own, out of reach of the group kill, so the
child's tree is looked up while it runs and every process that inherited the run's environment
marker (``ADVISOR_PROBE_RUN``) is killed at the end, even an orphan; stdout and stderr are
captured up to their last 64 KiB. The
outcome is always a :class:`ChildResult` with a status, never an exception (except Ctrl-C, which
is re-raised after the group is gone).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from advisor.probe.hardware import redact

CAPTURE_BYTES = 64 * 1024
SCAN_S = 0.2  # how often the child's descendants are looked up while it runs
STATUSES = ("ok", "missing", "broken", "timeout")

_live_groups: set[int] = set()
_live_lock = threading.Lock()


@dataclass
class ChildResult:
    status: str
    payload: dict[str, Any] | None
    error: str | None
    returncode: int | None
    wall_s: float
    stderr_tail: str = ""


class _TailBuffer:
    """Keeps the last ``limit`` bytes of a stream, read on a thread."""

    def __init__(self, stream: IO[bytes], limit: int = CAPTURE_BYTES):
        self.limit = limit
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.total = 0
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream: IO[bytes]) -> None:
        try:
            while chunk := stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536):
                self.chunks.append(chunk)
                self.size += len(chunk)
                self.total += len(chunk)
                while self.size - len(self.chunks[0]) >= self.limit:
                    self.size -= len(self.chunks.popleft())
        except (OSError, ValueError):
            pass

    def text(self) -> str:
        data = b"".join(self.chunks)[-self.limit:]
        return data.decode("utf-8", errors="replace")


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def kill_tree(pid: int) -> None:
    """Kill the group led by ``pid`` and every descendant of ``pid`` (with the groups they lead)."""
    try:
        import psutil

        descendants = psutil.Process(pid).children(recursive=True)
    except Exception:  # noqa: BLE001 - gone already, or psutil unavailable: the group kill stays
        descendants = []
    kill_group(pid)
    own = os.getpgrp()
    for proc in descendants:
        try:
            if os.getpgid(proc.pid) == proc.pid and proc.pid != own:
                kill_group(proc.pid)
            os.kill(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass


class _Descendants:
    """Every process seen under the child while it ran (pid -> start time), so that the ones a
    launcher put in sessions of their own can still be killed after the launcher itself died."""

    def __init__(self, pid: int):
        self.pid = pid
        self.known: dict[int, float] = {}

    def scan(self) -> None:
        try:
            import psutil

            kids = psutil.Process(self.pid).children(recursive=True)
        except Exception:  # noqa: BLE001 - gone, or no psutil
            return
        for kid in kids:
            try:
                self.known.setdefault(kid.pid, kid.create_time())
            except Exception:  # noqa: BLE001 - exited meanwhile
                pass

    def kill(self) -> None:
        try:
            import psutil
        except ImportError:  # pragma: no cover - a dependency
            return
        own = os.getpgrp()
        for pid, started in self.known.items():
            try:
                proc = psutil.Process(pid)
                if proc.create_time() != started:
                    continue  # the pid was reused by an unrelated process
                if os.getpgid(pid) == pid and pid != own:
                    kill_group(pid)
                proc.kill()
            except Exception:  # noqa: BLE001 - already gone
                pass


MARK = "ADVISOR_PROBE_RUN"  # environment marker every process under one child inherits


def kill_marked(token: str) -> None:
    """Kill this user's processes whose environment carries ``MARK=token``: the descendants of
    one probe child, including orphans that left its session before anyone saw them."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - a dependency
        return
    me, uid = os.getpid(), os.getuid() if hasattr(os, "getuid") else None
    for proc in psutil.process_iter(["pid", "uids"]):
        try:
            if proc.pid == me or (uid is not None and proc.info["uids"].real != uid):
                continue
            if proc.environ().get(MARK) == token:
                proc.kill()
        except Exception:  # noqa: BLE001 - gone, or not ours to read
            pass


def kill_all_children() -> None:
    """Kill every probe process group (and its descendants) still alive (Ctrl-C, exit)."""
    with _live_lock:
        groups = list(_live_groups)
        _live_groups.clear()
    for pgid in groups:
        kill_tree(pgid)


atexit.register(kill_all_children)


def default_memory_limit() -> int:
    """Bytes a probe's process group may hold: ADVISOR_PROBE_MEMORY_LIMIT_MB, else half the RAM."""
    explicit = os.environ.get("ADVISOR_PROBE_MEMORY_LIMIT_MB")
    if explicit and explicit.isdigit() and int(explicit) > 0:
        return int(explicit) * 1024 * 1024
    import psutil

    return max(1 << 30, psutil.virtual_memory().total // 2)


class _MemoryWatch:
    """Polls the resident memory of a process group; kills the group past ``limit`` bytes."""

    def __init__(self, pid: int, pgid: int, limit: int, every: float = 0.2):
        self.pid, self.pgid, self.limit, self.every = pid, pgid, limit, every
        self.peak = 0
        self.exceeded = False
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _rss(self) -> int:
        import psutil

        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            rss = self._rss()
            self.peak = max(self.peak, rss)
            if rss > self.limit:
                self.exceeded = True
                kill_group(self.pgid)
                return

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=2)


def run_child(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 120.0,
              cwd: str | Path | None = None, memory_limit: int | None = None) -> ChildResult:
    """Run ``args`` and classify the outcome (see module docstring)."""
    started = time.perf_counter()
    token = f"{os.getpid()}-{time.monotonic_ns()}-{id(args)}"
    env = dict(os.environ if env is None else env)
    env[MARK] = token
    try:
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, cwd=cwd, start_new_session=True, close_fds=True,
        )
    except OSError as exc:
        return ChildResult("broken", None, f"cannot start probe: {exc.strerror or exc}", None,
                           time.perf_counter() - started)
    pgid = proc.pid  # start_new_session: the child leads its own group
    with _live_lock:
        _live_groups.add(pgid)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = _TailBuffer(proc.stdout), _TailBuffer(proc.stderr)
    limit = memory_limit or default_memory_limit()
    watch = _MemoryWatch(proc.pid, pgid, limit)
    timed_out = False
    tree = _Descendants(proc.pid)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                proc.wait(timeout=max(0.0, min(SCAN_S, deadline - time.monotonic())))
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    timed_out = True
                    break
                tree.scan()
    finally:
        watch.stop()
        tree.scan()
        kill_tree(pgid)  # the child on timeout/Ctrl-C; lingering grandchildren always
        tree.kill()  # descendants in sessions of their own, even once their parent is gone
        kill_marked(token)  # and those that were born and orphaned between two looks
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
            pass
        with _live_lock:
            _live_groups.discard(pgid)
        for buf in (out, err):
            buf.thread.join(timeout=2)
        for stream, buf in ((proc.stdout, out), (proc.stderr, err)):
            if buf.thread.is_alive():
                continue  # an unknown process still holds the pipe: closing would block
            try:
                stream.close()
            except OSError:
                pass
    wall = time.perf_counter() - started
    stderr_tail = redact(err.text())
    if watch.exceeded:
        return ChildResult("broken", None,
                           f"used more than {limit // (1024 * 1024):,} MiB of memory (killed)",
                           proc.returncode, wall, stderr_tail)
    if timed_out:
        return ChildResult("timeout", None, f"no result after {timeout:g} s (killed)",
                           proc.returncode, wall, stderr_tail)
    return classify(out.text(), stderr_tail, proc.returncode, wall, out.total)


def classify(stdout: str, stderr: str, returncode: int | None, wall: float,
             stdout_bytes: int = 0) -> ChildResult:
    """Turn a finished child's output into a status."""
    payload = parse_result(stdout)
    if payload is not None:
        status = payload.get("status")
        error = payload.get("error")
        return ChildResult(str(status), payload, redact(str(error)) if error else None,
                           returncode, wall, stderr)
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return ChildResult("broken", None, f"probe killed by {name}", returncode, wall, stderr)
    if returncode:
        last = last_line(stderr) or f"probe exited with code {returncode} and no result"
        return ChildResult("broken", None, last, returncode, wall, stderr)
    if stdout_bytes > CAPTURE_BYTES or len(stdout) >= CAPTURE_BYTES:
        error = f"probe printed {max(stdout_bytes, len(stdout))} bytes of output, not one result"
    elif stdout.strip():
        error = f"probe printed garbage instead of a JSON result: {last_line(stdout)[:120]!r}"
    else:
        error = "probe printed no result"
    return ChildResult("broken", None, error, returncode, wall, stderr)


def parse_result(stdout: str) -> dict[str, Any] | None:
    """The child's one JSON object: the last non-empty line, an object with a known status."""
    lines = [line.strip() for line in stdout.strip().splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("status") not in STATUSES:
        return None
    return data


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return redact(lines[-1])[:500] if lines else ""
