"""Side by side, in one run: the probe row and a hand-written loop per framework/workload.

Prints throughput ratios probe / hand-written (target >= 0.9, issue 12's check >= 0.75: the probe
is not a handicapped version of the framework), for every workload a row measures (mlp, cnn and
attention; scikit-learn's MLP and gradient-boosted trees). Runs alternate A B A B ... in fresh processes with the same thread
count, so background load hits both sides alike; each side is summarised by its best run
(highest median samples/s), the usual way to compare timings under noise (cf. timeit).

    python benchmarks/probe_vs_handwritten.py [--rounds 2] [--threads N] [--rows pytorch,jax]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from advisor.probe.catalog import ROWS, child_env  # noqa: E402
from advisor.probe.hardware import get_host  # noqa: E402

HAND = ROOT / "benchmarks" / "handwritten"
HANDWRITTEN = {  # row -> (script, extra argv, extra env)
    "pytorch": ("torch_loop.py", True, {}),
    "tensorflow": ("tf_loop.py", True, {}),
    "keras/tensorflow": ("keras_fit.py", False, {"KERAS_BACKEND": "tensorflow"}),
    "keras/torch": ("keras_fit.py", False, {"KERAS_BACKEND": "torch"}),
    "keras/jax": ("keras_fit.py", False, {"KERAS_BACKEND": "jax"}),
    "jax": ("jax_loop.py", False, {}),
    "sklearn": ("sklearn_mlp.py", False, {}),
}


def last_json(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.strip().startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def run_probe_row(row: str, threads: int, cache: str) -> dict[str, float]:
    spec = ROWS[row]
    args = [sys.executable, str(ROOT / "probes" / spec.script), "--threads", str(threads),
            "--data-cache", cache, "--workloads", ",".join(spec.workloads)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300,
                          env=child_env(spec, threads), check=False)
    data = last_json(done.stdout)
    return {w: r["samples_per_s"]["median"] for w, r in data.get("workloads", {}).items()}


def run_handwritten(row: str, threads: int) -> dict[str, float]:
    script, takes_threads, extra = HANDWRITTEN[row]
    env = child_env(ROWS[row], threads)
    env.update(extra)
    args = [sys.executable, script] + ([str(threads)] if takes_threads else [])
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env,
                          cwd=HAND, check=False)
    return {w: r["samples_per_s"] for w, r in last_json(done.stdout).items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rows", default=",".join(HANDWRITTEN))
    ns = parser.parse_args()
    threads = ns.threads or get_host()["usable_cores"]
    print(f"threads {threads}, rounds {ns.rounds}, load {os.getloadavg()}")
    print(f"{'row':18} {'workload':11} {'probe/s':>10} {'hand/s':>10} {'ratio':>6}")
    worst = None
    with tempfile.TemporaryDirectory() as cache:
        for row in [r.strip() for r in ns.rows.split(",") if r.strip()]:
            probe_runs, hand_runs = [], []
            for _ in range(ns.rounds):
                probe_runs.append(run_probe_row(row, threads, cache))
                hand_runs.append(run_handwritten(row, threads))
            for workload in ROWS[row].workloads:
                p = max((r.get(workload, 0) for r in probe_runs), default=0)
                h = max((r.get(workload, 0) for r in hand_runs), default=0)
                ratio = p / h if h else float("nan")
                worst = ratio if worst is None or ratio < worst else worst
                mark = "" if ratio >= 0.9 else "  < 0.9"
                print(f"{row:18} {workload:11} {p:10,.0f} {h:10,.0f} {ratio:6.2f}{mark}",
                      flush=True)
    print(f"lowest ratio {worst:.2f} (target >= 0.9); load {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
