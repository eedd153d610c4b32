"""Start-up cost of `advisor --help` and `advisor recommend` against a bare `import typer, rich`.

Runs the three commands interleaved, side by side in one run, and prints median wall times and
the ratios. Targets (issue 2): --help at most 2x, recommend at most 3x the bare import.

    python benchmarks/startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def command_line() -> list[str]:
    exe = shutil.which("advisor")
    return [exe] if exe else [sys.executable, "-m", "advisor"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    advisor = command_line()
    cases = {
        "import typer, rich": [sys.executable, "-c", "import typer, rich"],
        "advisor --help": [*advisor, "--help"],
        "advisor recommend": [*advisor, "recommend", "--defaults", "--set", "os=linux",
                              "--set", "training_hardware=cpu_only", "--format", "json"],
    }
    env = dict(os.environ, COLUMNS="100")
    # An installed advisor has compiled bytecode (pip compiles at install). A source checkout
    # under PYTHONDONTWRITEBYTECODE=1 would recompile every module at every start instead
    # (about +80 ms): compile once, as an install does, so the ratio is the one users get.
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("advisor")
    if spec is not None and spec.origin:
        compileall.compile_dir(os.path.dirname(spec.origin), quiet=1)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for cmd in cases.values():  # warm the file cache once
        subprocess.run(cmd, capture_output=True, env=env, check=True)
    for _ in range(args.runs):
        for name, cmd in cases.items():  # interleaved, so drift hits all three alike
            start = time.perf_counter()
            subprocess.run(cmd, capture_output=True, env=env, check=True)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["import typer, rich"])
    print(f"{'command':<22}{'median s':>10}{'IQR s':>9}{'ratio':>8}  target")
    targets = {"advisor --help": 2.0, "advisor recommend": 3.0}
    ok = True
    for name, values in times.items():
        med = statistics.median(values)
        q = statistics.quantiles(values, n=4)
        ratio = med / base
        target = targets.get(name)
        verdict = "" if target is None else (f"<= {target:.0f}x " + ("ok" if ratio <= target else "MISSED"))
        ok &= target is None or ratio <= target
        print(f"{name:<22}{med:>10.3f}{q[2] - q[0]:>9.3f}{ratio:>7.2f}x  {verdict}")
    print(f"({args.runs} interleaved runs each, {os.cpu_count()} CPUs)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
