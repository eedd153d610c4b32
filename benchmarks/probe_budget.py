"""Wall-clock budget of `advisor probe` (target 45 s) and `advisor probe --quick` (15 s).

    python benchmarks/probe_budget.py [--runs 2]

Runs the real command in fresh processes, alternating default and --quick, and prints each
wall time, the load average before it, and the verdict against the budget.
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
BUDGET_S = {"default": 45.0, "quick": 15.0}


def time_probe(quick: bool, out: Path) -> tuple[float, int]:
    args = [sys.executable, "-m", "advisor", "probe", "--out", str(out)] + (
        ["--quick"] if quick else [])
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    return time.perf_counter() - t0, done.returncode


def breakdown(path: Path) -> str:
    """Where the time went: imports, and the slowest row."""
    try:
        rows = json.loads(path.read_text())["frameworks"]
    except (OSError, ValueError, KeyError):
        return ""
    imports = sum(r.get("import_s") or 0 for r in rows)
    slowest = max(rows, key=lambda r: r.get("wall_s") or 0)
    return (f"imports {imports:.1f} s, slowest {slowest['name']} {slowest.get('wall_s', 0):.1f} s"
            f", noisy rows {sum(any(f.startswith('noisy') for f in r['flags']) for r in rows)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    ns = parser.parse_args()
    results: dict[str, list[float]] = {"default": [], "quick": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(ns.runs):
            for mode in ("default", "quick"):
                load = os.getloadavg()[0]
                wall, rc = time_probe(mode == "quick", Path(tmp) / f"{mode}-{i}.json")
                results[mode].append(wall)
                print(f"{mode:8} run {i + 1}: {wall:6.1f} s  (exit {rc}, load before {load:.2f})"
                      f"  {breakdown(Path(tmp) / f'{mode}-{i}.json')}", flush=True)
    ok = True
    for mode, walls in results.items():
        best, worst = min(walls), max(walls)
        verdict = "within" if worst <= BUDGET_S[mode] else (
            "best run within" if best <= BUDGET_S[mode] else "OVER")
        ok &= best <= BUDGET_S[mode]
        print(f"{mode:8} best {best:.1f} s, worst {worst:.1f} s, budget {BUDGET_S[mode]:.0f} s: "
              f"{verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
