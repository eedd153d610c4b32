"""Supervise a planned probe run: fresh processes, interleaved rounds, one row trains at a time.

Every row runs in ``processes`` fresh processes, in rounds: round 1 runs every row once, then
round 2 every row still standing, and so on (interleaved, as pyperf's worker processes are), so a
slow stretch of the machine lands on several rows' processes instead of all of one row's. A row
whose process fails is done (its status is that failure).

How a round starts up is ``startup``: ``staged`` lets up to ``window`` rows import their
framework side by side, then gives them their go signal one at a time (runner.run_staged);
``serial`` runs each process from start to end before the next one starts, so its import time is
measured alone too. Either way no two rows ever train at the same time. Process groups, timeouts
and the kill-the-whole-tree guarantees are runner.py's.

Knows nothing of the terminal: progress goes to a callback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from advisor.probe.model import FrameworkRow, ScalingRow
from advisor.probe.runner import ChildResult, StagedJob, run_child, run_staged


@dataclass
class ProgressEvent:
    kind: str  # "start" | "ready" (staged: waits for its turn) | "measure" (staged) | "done"
    name: str
    index: int  # 1-based position of the row
    total: int
    attempt: int = 1
    repeat: int = 1
    row: FrameworkRow | ScalingRow | None = None  # the finished row, typed


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass
class Job:
    """How to start one process of a row: its argument list and environment."""

    args: list[str]
    env: dict[str, str]


def supervise(names: list[str], job_for: Callable[[str], Job], *, processes: int, startup: str,
              window: int, timeout_s: float, order: list[str], notify: ProgressCallback,
              finish_row: Callable[[str, list[ChildResult]], None]) -> dict[str, list[ChildResult]]:
    """Run every row in ``names`` in ``processes`` interleaved rounds; results per row.

    ``finish_row(name, results)`` is called once per row, as soon as it is done (its last round,
    or its first failure).
    """
    results: dict[str, list[ChildResult]] = {}

    def event(kind: str, name: str, attempt: int) -> None:
        notify(ProgressEvent(kind, name, order.index(name) + 1, len(order), attempt, processes))

    def done(name: str, attempt: int, result: ChildResult) -> None:
        results.setdefault(name, []).append(result)
        if attempt == processes or result.status != "ok":
            finish_row(name, results[name])

    for attempt in range(1, processes + 1):
        standing = [n for n in names if all(r.status == "ok" for r in results.get(n, []))]
        if not standing:
            break
        if startup == "staged":
            jobs = [job_for(n) for n in standing]
            staged = [StagedJob(job.args + ["--staged"], job.env) for job in jobs]

            def on_phase(phase: str, index: int, result: ChildResult | None,
                         attempt: int = attempt, standing: list[str] = standing) -> None:
                name = standing[index]
                if phase != "done":
                    event(phase, name, attempt)
                    return
                assert result is not None
                done(name, attempt, result)

            run_staged(staged, window=window, timeout=timeout_s, on_phase=on_phase)
        else:
            for name in standing:
                event("start", name, attempt)
                job = job_for(name)
                done(name, attempt, run_child(job.args, env=job.env, timeout=timeout_s))
    return results
