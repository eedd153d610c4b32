"""Wall-clock budget of the whole scaling probe: `advisor probe --scaling --scaling-only` (60 s).

    python benchmarks/scaling_budget.py [--runs 2]

Runs the real command in fresh processes (every scaling row: pytorch, tensorflow, jax,
keras/jax, and the two Keras backends reported unavailable), prints each run's wall time, the
load average before it, the per-row child time and the 1 vs N throughput and efficiency it
measured, then the verdict against the budget.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 60.0


def time_scaling(out: Path, workers: int | None) -> tuple[float, int, str]:
    args = [sys.executable, "-m", "advisor", "probe", "--scaling", "--scaling-only",
            "--out", str(out)] + (["--workers", str(workers)] if workers else [])
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    return time.perf_counter() - t0, done.returncode, done.stderr


def describe(path: Path) -> list[str]:
    if not path.exists():
        return ["  (no probe file written)"]
    sc = json.loads(path.read_text())["scaling"]
    lines = []
    for r in sc["rows"]:
        if r["status"] != "ok":
            lines.append(f"  {r['name']:17} {r['status']:11} {r['wall_s']:5.1f} s  "
                         f"{(r.get('error') or '')[:60]}")
            continue
        one = r["baseline"]["samples_per_s"]
        many = r["parallel"]["samples_per_s"]
        eff = r["efficiency"]
        lines.append(
            f"  {r['name']:17} ok          {r['wall_s']:5.1f} s  1: {one['median']:7,.0f} "
            f"±{one['iqr'] / 2:5,.0f}/s  {r['world_size']}: {many['median']:7,.0f} "
            f"±{many['iqr'] / 2:5,.0f}/s  eff {eff['median']:.2f} [{eff['low']:.2f}-"
            f"{eff['high']:.2f}]  start {r['start_s']:.1f} s")
    lines.append(f"  scaling section wall_s {sc['wall_s']} s")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=None)
    ns = parser.parse_args()
    walls: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(ns.runs):
            load = os.getloadavg()[0]
            out = Path(tmp) / f"scaling-{i}.json"
            wall, rc, err = time_scaling(out, ns.workers)
            walls.append(wall)
            print(f"run {i + 1}: {wall:6.1f} s  (exit {rc}, load before {load:.2f})", flush=True)
            for line in describe(out):
                print(line, flush=True)
            if rc:
                print(err[-2000:], file=sys.stderr)
    best, worst = min(walls), max(walls)
    verdict = "within" if worst <= BUDGET_S else ("best run within" if best <= BUDGET_S else "OVER")
    print(f"scaling probe: best {best:.1f} s, worst {worst:.1f} s, budget {BUDGET_S:.0f} s: "
          f"{verdict}")
    return 0 if best <= BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
