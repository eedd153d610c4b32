"""Wall-clock budgets on 2 idle cores: `advisor probe` with every row, workload and the default
fresh processes (60 s), `advisor probe --quick` (15 s), `advisor run` for one project (30 s); and
what staged start-up costs the numbers.

    python benchmarks/probe_budget.py [--runs 2]

Runs the real commands in fresh processes, interleaving the variants in every round (so
background load hits all of them alike): default, --quick, each again with --serial (every row
starts only after the previous one finished), and `advisor run` for an image project (its one
workload, cnn-digits, is the dearest). It prints each wall time with the load average before it
and whether the probe measured itself quiet (a contended or busy run does not prove a budget),
the verdict against the budget (which applies to the default start-up, staged), and side by side
per row:

- import ratio staged / serial: how much importing next to another row slows an import down;
- throughput ratio staged / serial (median samples/s): whether training after a staged start-up
  measures the same as training in a serial run (it should be ~1: nothing else runs meanwhile).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from advisor.probe.protocol import WORKLOADS  # noqa: E402

BUDGET_S = {"default": 60.0, "quick": 15.0, "run": 30.0}
VARIANTS = {
    "default": [],
    "default --serial": ["--serial"],
    "quick": ["--quick"],
    "quick --serial": ["--quick", "--serial"],
    "run": ["run"],
}
RUN_ARGS = ["--set", "modality=images", "--defaults", "--no-input"]


def time_probe(extra: list[str], out: Path) -> tuple[float, int]:
    if extra == ["run"]:  # `advisor run`: its probe.json lands in the --out folder
        args = [sys.executable, "-m", "advisor", "run", *RUN_ARGS, "--out", str(out.parent /
                                                                                out.stem)]
    else:
        args = [sys.executable, "-m", "advisor", "probe", "--out", str(out), *extra]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    return time.perf_counter() - t0, done.returncode


def quiet(path: Path) -> str:
    try:
        run = json.loads(path.read_text())["run"]
    except (OSError, ValueError, KeyError):
        return "?"
    if run.get("quiet") is True:
        return "quiet"
    rows = (run.get("contention") or {}).get("rows") or []
    return ("busy" if run.get("busy") else "") + (f" contended: {','.join(rows)}" if rows else "")


def probe_file(out: Path, variant: str) -> Path:
    return out.parent / out.stem / "probe.json" if variant == "run" else out


def load_rows(path: Path) -> dict[str, dict]:
    try:
        rows = json.loads(path.read_text())["frameworks"]
    except (OSError, ValueError, KeyError):
        return {}
    return {r["name"]: r for r in rows if r.get("status") == "ok"}


def breakdown(rows: dict[str, dict]) -> str:
    imports = sum(r.get("import_s") or 0 for r in rows.values())
    noisy = sum(any(f.startswith("noisy") for f in r["flags"]) for r in rows.values())
    return f"{len(rows)} rows ok, imports {imports:.1f} s, noisy rows {noisy}"


def ratio_table(staged: list[dict[str, dict]], serial: list[dict[str, dict]]) -> list[str]:
    """Per row: median import and throughput over the runs, staged / serial."""
    lines = []
    names = sorted({n for run in staged for n in run} & {n for run in serial for n in run})
    def median_of(name: str, runs: list[dict[str, dict]], get) -> float | None:
        vals = [v for run in runs if name in run for v in [get(run[name])] if v]
        return statistics.median(vals) if vals else None

    for name in names:
        def med(runs: list[dict[str, dict]], get, name: str = name) -> float | None:
            return median_of(name, runs, get)

        parts = []
        imp = [med(runs, lambda r: r.get("import_s")) for runs in (staged, serial)]
        if all(imp):
            parts.append(f"import {imp[0]:.2f}/{imp[1]:.2f} s = {imp[0] / imp[1]:.2f}")
        for wl in WORKLOADS:  # every workload a row measured in both start-ups
            rate = [med(runs, lambda r, wl=wl: ((r.get("workloads") or {}).get(wl) or {})
                        .get("samples_per_s", {}).get("median")) for runs in (staged, serial)]
            if all(rate):
                parts.append(f"{wl} {rate[0] / rate[1]:.2f}")
        lines.append(f"  {name:17} " + ", ".join(parts))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    ns = parser.parse_args()
    walls: dict[str, list[float]] = {v: [] for v in VARIANTS}
    rows: dict[str, list[dict[str, dict]]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(ns.runs):
            for variant, extra in VARIANTS.items():
                out = Path(tmp) / f"{variant.replace(' ', '')}-{i}.json"
                load = os.getloadavg()[0]
                wall, rc = time_probe(extra, out)
                walls[variant].append(wall)
                rows[variant].append(load_rows(probe_file(out, variant)))
                print(f"{variant:17} run {i + 1}: {wall:6.1f} s  (exit {rc}, load before "
                      f"{load:.2f}, {quiet(probe_file(out, variant))})  "
                      f"{breakdown(rows[variant][-1])}", flush=True)
    ok = True
    print()
    for variant, times in walls.items():
        best, worst = min(times), max(times)
        budget = BUDGET_S.get(variant)
        verdict = ""
        if budget is not None:
            verdict = ", budget {:.0f} s: {}".format(budget, "within" if worst <= budget else (
                "best run within" if best <= budget else "OVER"))
            ok &= best <= budget
        print(f"{variant:17} best {best:.1f} s, worst {worst:.1f} s{verdict}")
    for mode in ("default", "quick"):
        print(f"\n{mode}: staged / serial, medians over {ns.runs} runs (import: slower when > 1; "
              "throughput: ~1 means the same measurement)")
        for line in ratio_table(rows[mode], rows[f"{mode} --serial"]):
            print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
