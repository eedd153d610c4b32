"""`advisor compare`: several probe files (machines) side by side.

Reads each file with the one probe loader (advisor.probe.model), as `advisor recommend --probe` and builds one plain result
object; renderers (advisor.render.compare_report) only read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from advisor.infra.errors import BadInput, VersionError
from advisor.infra.privacy import shown_path
from advisor.probe.model import ProbeDocument, load_probe
from advisor.render import measured

MAX_FILES = 32  # machines side by side; with the probe file's own bounds, compare stays fast


@dataclass(frozen=True)
class Machine:
    label: str
    path: str
    facts: dict[str, str]  # CPU, Cores, Memory, OS, Python, GPUs, Probed
    rows: list[measured.Row]
    advisor_version: str
    scaling: measured.Scaling | None = None  # the probe's --scaling section, when it has one
    deploy: measured.DeployMatrix | None = None  # the probe's --deploy section, when it has one

    def row(self, name: str) -> measured.Row | None:
        return next((r for r in self.rows if r.name == name), None)

    def cell(self, name: str, workload: str) -> measured.Cell | None:
        """A row's numbers on a workload, whatever its status (None: not measured here)."""
        row = self.row(name)
        return row.cells.get(workload) if row is not None else None

    def ok_median(self, name: str, workload: str) -> float | None:
        """A row's median samples/s on a workload, when the row ran ok here."""
        row = self.row(name)
        cell = row.cells.get(workload) if row is not None and row.status == "ok" else None
        return cell.median if cell is not None else None

    def scaling_row(self, name: str) -> measured.ScalingRow | None:
        if self.scaling is None:
            return None
        return next((r for r in self.scaling.rows if r.name == name), None)


@dataclass(frozen=True)
class Fastest:
    row: str
    median: float
    ties: list[str] = field(default_factory=list)  # rows within its measured spread


@dataclass(frozen=True)
class Comparison:
    machines: list[Machine]
    facts: list[str]  # fact labels, in order
    frameworks: list[str]  # every row name seen, in first-seen order
    workloads: list[str]
    fastest: list[dict[str, Fastest]]  # per machine: workload -> fastest row
    scaling_rows: list[str] = field(default_factory=list)  # scaling row names, first-seen order
    # deployment paths: (row, workload, target) seen in any file, first-seen order
    deploy_keys: list[tuple[str, str, str]] = field(default_factory=list)


def read(path: str) -> ProbeDocument:
    """A probe file, or a VersionError that says how to get a comparable one."""
    try:
        return load_probe(path)
    except VersionError as exc:
        from advisor import __version__

        raise VersionError(
            f"{exc.message}; re-run `advisor probe` there with advisor {__version__}, "
            "or compare it with the version that wrote it",
            path=path,
        ) from None


def _facts(probe: ProbeDocument) -> dict[str, str]:
    out: dict[str, str] = {}
    gpus: list[str] = []
    for label, value in measured.host_facts(probe):
        if label.startswith("GPU"):
            if value != "none detected":
                gpus.append(value)
        else:
            out[label] = value
    out["GPUs"] = "; ".join(gpus) if gpus else "none detected"
    run = probe.run
    if run is not None and run.busy:
        out["Measured quiet"] = "NO: the machine was busy (these numbers move no score)"
    elif run is not None and run.contended_rows:
        out["Measured quiet"] = (f"NO: contended rows {', '.join(run.contended_rows[:12])} "
                                 "(their numbers move no score)")
    elif run is not None and run.quiet is True:
        out["Measured quiet"] = "yes"
    else:
        out["Measured quiet"] = "not measured"
    return out


def _labels(paths: Sequence[str]) -> list[str]:
    stems = [Path(p).stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    return [str(p) for p in paths]


def compare(paths: Sequence[str]) -> Comparison:
    if not paths:
        raise BadInput("give at least one probe file")
    if len(paths) > MAX_FILES:
        raise BadInput(f"{len(paths)} probe files; compare takes at most {MAX_FILES}")
    machines = []
    for label, path in zip(_labels(paths), paths):
        probe = read(path)
        rows = measured.rows(probe)
        rows += [measured.Row(name=name, status="not run", version="", devices="", import_s=None,
                              error=reason)
                 for name, reason in measured.not_run(probe) if all(r.name != name for r in rows)]
        machines.append(Machine(label=shown_path(label) or label, path=shown_path(path) or path,
                                facts=_facts(probe), rows=rows,
                                advisor_version=measured.text(probe.advisor_version, 40),
                                scaling=measured.scaling(probe), deploy=measured.deploy(probe)))
    facts: list[str] = []
    frameworks: list[str] = []
    for m in machines:
        facts.extend(k for k in m.facts if k not in facts)
        frameworks.extend(r.name for r in m.rows if r.name not in frameworks)
    workloads: list[str] = []
    for m in machines:
        workloads.extend(w for w in measured.workloads(m.rows) if w not in workloads)
    fastest = []
    for m in machines:
        per: dict[str, Fastest] = {}
        for wl in workloads:
            best, ties = measured.fastest(m.rows, wl)
            if best is not None:
                per[wl] = Fastest(best.name, best.cells[wl].median or 0.0, [t.name for t in ties])
        fastest.append(per)
    scaling_rows: list[str] = []
    for m in machines:
        if m.scaling is not None:
            scaling_rows.extend(r.name for r in m.scaling.rows if r.name not in scaling_rows)
    deploy_keys: list[tuple[str, str, str]] = []
    for m in machines:
        if m.deploy is not None:
            deploy_keys.extend((p.row, p.workload, p.target) for p in m.deploy.paths
                               if (p.row, p.workload, p.target) not in deploy_keys)
    return Comparison(machines, facts, frameworks, workloads, fastest, scaling_rows, deploy_keys)
