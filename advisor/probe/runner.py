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

``run_child`` runs one child to its end; ``run_staged`` runs several whose start-up overlaps while
their training runs one at a time (the ``--staged`` protocol of probes/harness.py).
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from advisor.probe.hardware import redact
from advisor.probe.protocol import STATUSES, parse_result  # noqa: F401 (the one definition)

CAPTURE_BYTES = 64 * 1024
SCAN_S = 0.2  # how often the child's descendants are looked up while it runs

_live_groups: set[int] = set()
_live_tokens: dict[int, str] = {}  # pgid -> MARK token: orphans are found by it on SIGTERM/Ctrl-C
_live_lock = threading.Lock()


@dataclass
class ChildResult:
    status: str
    payload: dict[str, Any] | None
    error: str | None
    returncode: int | None
    wall_s: float  # the child's own time (staged: without the wait for its go signal)
    stderr_tail: str = ""
    waited_s: float = 0.0  # staged: from ready until its go signal


class _TailBuffer:
    """Keeps the last ``limit`` bytes of a stream, read on a thread."""

    def __init__(self, stream: IO[bytes], limit: int = CAPTURE_BYTES, *,
                 marker: bytes | None = None, on_marker: Callable[[], None] | None = None):
        self.limit = limit
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.total = 0
        self.marker, self.on_marker = marker, on_marker
        self._recent = b""  # the end of the stream so far, to find a marker split across reads
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream: IO[bytes]) -> None:
        try:
            while chunk := stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536):
                if self.marker:
                    seen = self._recent + chunk
                    if self.marker in seen:
                        self.marker = None
                        if self.on_marker:
                            self.on_marker()
                    else:
                        self._recent = seen[-len(self.marker):]
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
    except Exception:  # gone already, or psutil unavailable: the group kill stays
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
        except Exception:  # gone, or no psutil
            return
        for kid in kids:
            try:
                self.known.setdefault(kid.pid, kid.create_time())
            except Exception:  # exited meanwhile
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
            except Exception:  # already gone
                pass


MARK = "ADVISOR_PROBE_RUN"  # environment marker every process under one child inherits


def kill_marked(token: str | set[str]) -> None:
    """Kill this user's processes whose environment carries ``MARK=token`` (or one of a set of
    tokens): the descendants of a probe child, including orphans that left its session before
    anyone saw them."""
    tokens = {token} if isinstance(token, str) else set(token)
    if not tokens:
        return
    try:
        import psutil
    except ImportError:  # pragma: no cover - a dependency
        return
    me, uid = os.getpid(), os.getuid() if hasattr(os, "getuid") else None
    for proc in psutil.process_iter(["pid", "uids"]):
        try:
            if proc.pid == me or (uid is not None and proc.info["uids"].real != uid):
                continue
            if proc.environ().get(MARK) in tokens:
                proc.kill()
        except Exception:  # gone, or not ours to read
            pass


def kill_all_children() -> None:
    """Kill every probe process group (and its descendants) still alive (Ctrl-C, exit)."""
    with _live_lock:
        groups = list(_live_groups)
        tokens = set(_live_tokens.values())
        _live_groups.clear()
        _live_tokens.clear()
    for pgid in groups:
        kill_tree(pgid)
    kill_marked(tokens)  # what left the groups (a torchrun's workers, a daemonised grandchild)


atexit.register(kill_all_children)


def default_memory_limit() -> int:
    """Bytes a probe's process group may hold: ADVISOR_PROBE_MEMORY_LIMIT_MB, else half the RAM."""
    explicit = os.environ.get("ADVISOR_PROBE_MEMORY_LIMIT_MB")
    if explicit:
        text = explicit.strip()
        # ASCII digits only: "²".isdigit() is True, but int("²") raises
        if not (text.isascii() and text.isdigit() and 0 < int(text) < 2**40):
            from advisor.infra.errors import BadInput

            raise BadInput(f"ADVISOR_PROBE_MEMORY_LIMIT_MB must be a whole number of MiB "
                           f"above 0, not {explicit[:20]!r}")
        return int(text) * 1024 * 1024
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


READY_LINE = "advisor-probe: ready"  # printed by a --staged probe once it can train (harness.py)
GO = b"G"


class Child:
    """One probe child from start to :class:`ChildResult`: its group, watchdogs and output.

    ``start`` never raises for a child that cannot start (``self.result`` is set instead);
    ``finish`` kills whatever is left of the child's tree and classifies the outcome, and is safe
    to call more than once.
    """

    def __init__(self, args: list[str], *, env: dict[str, str] | None = None,
                 cwd: str | Path | None = None, memory_limit: int | None = None,
                 staged: bool = False):
        self.args, self.cwd, self.staged = args, cwd, staged
        self.token = f"{os.getpid()}-{time.monotonic_ns()}-{id(self)}"
        self.env = dict(os.environ if env is None else env)
        self.env[MARK] = self.token
        self.limit = memory_limit or default_memory_limit()
        self.started = time.perf_counter()
        self.proc: subprocess.Popen[bytes] | None = None
        self.result: ChildResult | None = None
        self.ready = threading.Event()  # set when a staged child printed READY_LINE
        self.waiting_since: float | None = None  # staged: from ready until the go signal
        self.waited_s = 0.0  # time spent waiting for the go signal: not the child's own time

    def start(self) -> Child:
        self.started = time.perf_counter()
        try:
            self.proc = subprocess.Popen(
                self.args, stdin=subprocess.PIPE if self.staged else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env, cwd=self.cwd,
                start_new_session=True, close_fds=True,
            )
        except OSError as exc:
            self.result = ChildResult("broken", None,
                                      f"cannot start probe: {exc.strerror or exc}", None,
                                      time.perf_counter() - self.started)
            return self
        self.pgid = self.proc.pid  # start_new_session: the child leads its own group
        with _live_lock:
            _live_groups.add(self.pgid)
            _live_tokens[self.pgid] = self.token
        assert self.proc.stdout is not None and self.proc.stderr is not None
        marker = (READY_LINE + "\n").encode() if self.staged else None
        try:
            self.out = _TailBuffer(self.proc.stdout, marker=marker, on_marker=self.ready.set)
            self.err = _TailBuffer(self.proc.stderr)
            self.watch = _MemoryWatch(self.proc.pid, self.pgid, self.limit)
        except (RuntimeError, MemoryError) as exc:
            # no thread to watch it (``ulimit -v`` too low: "can't start new thread"): the
            # child is killed and the row says why, instead of an AttributeError later
            kill_tree(self.pgid)
            kill_marked(self.token)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
                pass
            with _live_lock:
                _live_groups.discard(self.pgid)
                _live_tokens.pop(self.pgid, None)
            self.result = ChildResult(
                "broken", None, f"cannot watch the probe: {exc} (too little memory for a "
                "thread? a low `ulimit -v` does this)", None, time.perf_counter() - self.started)
            return self
        self.tree = _Descendants(self.proc.pid)
        return self

    @property
    def finished(self) -> bool:
        return self.result is not None

    def exited(self) -> bool:
        return self.proc is None or self.proc.poll() is not None

    def idle(self) -> None:
        """A staged child waits for its go signal: watch its memory once a second, not 5 times."""
        self.watch.every = 1.0
        self.waiting_since = time.perf_counter()

    def go(self) -> None:
        """Let a staged child train: one byte on its stdin, then end of file."""
        assert self.proc is not None and self.proc.stdin is not None
        self.watch.every = 0.2
        if self.waiting_since is not None:
            self.waited_s = time.perf_counter() - self.waiting_since
        try:
            self.proc.stdin.write(GO)
            self.proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):  # it died meanwhile: finish() says how
            pass

    def wait(self, deadline: float) -> bool:
        """Wait for the child to exit until ``deadline`` (monotonic); True when it timed out."""
        assert self.proc is not None
        while True:
            try:
                self.proc.wait(timeout=max(0.0, min(SCAN_S, deadline - time.monotonic())))
                return False
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    return True
                self.tree.scan()

    def finish(self, timed_out: bool = False, timeout: float = 0.0) -> ChildResult:
        """Kill what is left, reap, classify; the same result on every later call."""
        if self.result is not None:
            return self.result
        proc = self.proc
        assert proc is not None
        self.watch.stop()
        self.tree.scan()
        kill_tree(self.pgid)  # the child on timeout/Ctrl-C; lingering grandchildren always
        self.tree.kill()  # descendants in sessions of their own, even once their parent is gone
        kill_marked(self.token)  # and those that were born and orphaned between two looks
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
            pass
        with _live_lock:
            _live_groups.discard(self.pgid)
            _live_tokens.pop(self.pgid, None)
        for buf in (self.out, self.err):
            buf.thread.join(timeout=2)
        streams = [(proc.stdout, self.out), (proc.stderr, self.err)]
        for stream, buf in streams:
            if buf.thread.is_alive():
                continue  # an unknown process still holds the pipe: closing would block
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass
        if proc.stdin is not None and not proc.stdin.closed:
            try:
                proc.stdin.close()
            except OSError:
                pass
        wall = time.perf_counter() - self.started - self.waited_s
        stderr_tail = redact(self.err.text())
        limit_mib = self.limit // (1024 * 1024)
        if self.watch.exceeded:
            self.result = ChildResult("broken", None,
                                      f"used more than {limit_mib:,} MiB of memory (killed)",
                                      proc.returncode, wall, stderr_tail)
        elif timed_out:
            self.result = ChildResult("timeout", None, f"no result after {timeout:g} s (killed)",
                                      proc.returncode, wall, stderr_tail)
        else:
            stdout = self.out.text()
            if self.staged:
                stdout = stdout.replace(READY_LINE + "\n", "")
            self.result = classify(stdout, stderr_tail, proc.returncode, wall, self.out.total)
        self.result.waited_s = self.waited_s
        return self.result


def run_child(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 120.0,
              cwd: str | Path | None = None, memory_limit: int | None = None) -> ChildResult:
    """Run ``args`` and classify the outcome (see module docstring)."""
    child = Child(args, env=env, cwd=cwd, memory_limit=memory_limit).start()
    if child.result is not None:
        return child.result
    timed_out = False
    try:
        timed_out = child.wait(time.monotonic() + timeout)
    finally:
        result = child.finish(timed_out, timeout)
    return result


@dataclass
class StagedJob:
    """One child of a staged run: its arguments and environment (``--staged`` already added)."""

    args: list[str]
    env: dict[str, str] | None = None


# (phase, job index, result once done): phases start | ready | measure | done
StageCallback = Callable[[str, int, "ChildResult | None"], None]


def run_staged(jobs: list[StagedJob], *, window: int, timeout: float,
               memory_limit: int | None = None, cwd: str | Path | None = None,
               on_phase: StageCallback | None = None) -> list[ChildResult]:
    """Start-up side by side, training one at a time.

    At most ``window`` children start up (import, load data) at once; each then waits for its go
    signal. Once no child is starting any more, the waiting ones get their go signal one after
    another, each only after the previous one exited, so no two children ever train at the same
    time and none trains while another starts. ``timeout`` applies to each phase of each child:
    from its start until it is ready, and from its go signal until it exits. A child that exits
    before it is ready (missing framework, crash) is classified at once. Results come back in
    job order; every child is gone when this returns or raises.
    """
    notify = on_phase or (lambda phase, index, result: None)
    children = [Child(job.args, env=job.env, cwd=cwd, memory_limit=memory_limit, staged=True)
                for job in jobs]
    queue = list(range(len(jobs)))
    starting: dict[int, float] = {}  # index -> start-up deadline
    waiting: list[int] = []
    window = max(1, window)
    next_scan = 0.0
    try:
        while queue or starting:
            while queue and len(starting) < window:
                index = queue.pop(0)
                notify("start", index, None)
                if children[index].start().result is not None:
                    notify("done", index, children[index].result)
                    continue
                starting[index] = time.monotonic() + timeout
            time.sleep(0.02)
            if time.monotonic() >= next_scan:  # launchers' descendants, as run_child does
                for index in starting:
                    children[index].tree.scan()
                next_scan = time.monotonic() + SCAN_S
            for index in list(starting):
                child = children[index]
                if child.ready.is_set() and not child.exited():
                    del starting[index]
                    child.idle()
                    waiting.append(index)
                    notify("ready", index, None)
                elif child.exited() or time.monotonic() >= starting[index]:
                    del starting[index]
                    notify("done", index,
                           child.finish(timed_out=not child.exited(), timeout=timeout))
        for index in sorted(waiting):
            child = children[index]
            notify("measure", index, None)
            child.go()
            timed_out = child.wait(time.monotonic() + timeout)
            notify("done", index, child.finish(timed_out, timeout))
    finally:
        for child in children:
            if child.proc is not None and not child.finished:
                child.finish()
    return [child.result for child in children]  # type: ignore[misc]


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


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return redact(lines[-1])[:500] if lines else ""
