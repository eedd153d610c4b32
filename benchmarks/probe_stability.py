"""Does the same project get the same winner from independent probes of one idle machine?

Issue 12's check: three probes of one idle machine must not change any project's winner. This
recommends every project (the scenario answer files under tests/scenarios/ and examples/, or
the files given) once per probe file and prints, per project, the winner from each probe and the
measured speed points that entered the decision; then how many projects kept their winner.

    python benchmarks/probe_stability.py PROBE.json PROBE.json [PROBE.json ...]
        [--answers FILE ...]

The probes are taken beforehand (`advisor probe --out pN.json`, one after another on the same
idle machine); this script measures nothing itself, so it runs in seconds. A project whose winner
differs between probes is listed with each probe's speed points: the fix is in the measurement
policy (advisor/probe/policy.py, advisor/probe/facts.py), never in this script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from advisor.service import recommend  # noqa: E402


def projects(given: list[str] | None) -> list[Path]:
    if given:
        return [Path(p) for p in given]
    return sorted(p for p in (ROOT / "tests" / "scenarios").glob("*.yaml")
                  if p.name != "expectations.yaml") + [
        ROOT / "examples" / "image-classifier.yaml"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("probes", nargs="+", help="probe files of one machine")
    parser.add_argument("--answers", nargs="*", help="answer files (default: every scenario)")
    ns = parser.parse_args()
    if len(ns.probes) < 2:
        parser.error("give at least two probe files")
    same = moved = 0
    differing: list[str] = []
    print(f"{'project':44} " + " ".join(f"{'probe ' + str(i + 1):>14}"
                                         for i in range(len(ns.probes))) + "  speed points")
    for path in projects(ns.answers):
        winners, points = [], []
        for probe in ns.probes:
            a = recommend.recommend(rules=None, answers_file=str(path), probe_file=probe).assessment
            winners.append(a.winner or "-")
            perf = [m for m in a.measurements if m.criterion != "deployment"]
            points.append(", ".join(f"{m.candidate} {m.points:+.2f}" for m in perf) or "none")
        stable = len(set(winners)) == 1
        same += stable
        moved += any(p != "none" for p in points)
        if not stable:
            differing.append(path.stem)
        shown = points[0] if len(set(points)) == 1 else " | ".join(points)
        print(f"{path.stem[:44]:44} " + " ".join(f"{w:>14}" for w in winners)
              + ("" if stable else "  <- differs") + f"  {shown}", flush=True)
    total = same + len(differing)
    print(f"\nsame winner from every probe: {same}/{total} projects; measured speed moved a score "
          f"in {moved}/{total}")
    if differing:
        print("winner differs: " + ", ".join(differing))
    return 0 if not differing else 1


if __name__ == "__main__":
    sys.exit(main())
