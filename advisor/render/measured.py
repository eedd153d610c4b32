"""The probe part of every report: the typed probe document seen as table rows and sentences.

Reads :class:`advisor.probe.model.ProbeDocument` only (validated at load, so no number here is
NaN or infinite); thresholds come from :mod:`advisor.probe.policy`. Strings stay strings and are
shortened for tables; every renderer escapes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from advisor.probe import policy
from advisor.probe.model import ProbeDocument, Processes, Stats, WorkloadResult
from advisor.probe.model import ScalingRun as _ScalingRun

num = policy.finite  # a finite number as float, or None


def text(value: Any, limit: int = 200) -> str:
    if value is None:
        return ""
    out = str(value)
    return out if len(out) <= limit else out[: limit - 1] + "…"


@dataclass(frozen=True)
class Cell:
    """One framework row on one workload."""

    median: float | None
    iqr: float | None
    n: int | None
    first_epoch_s: float | None
    accuracy: float | None
    peak_rss_mb: float | None
    gflops: float | None = None
    fraction_of_peak: float | None = None
    between: float | None = None  # spread between fresh processes ((max - min) / median)
    processes: int | None = None

    @property
    def noisy(self) -> bool:
        """Too spread (the policy's noise limit) or too few timed blocks to know."""
        if self.median is None:
            return False
        return (policy.is_noisy(self.median, self.iqr)
                or (self.n is not None and self.n < policy.MIN_SAMPLES))

    def spread_text(self) -> str:
        if self.median is None:
            return "-"
        iqr = f" ± {self.iqr / 2:,.0f}" if self.iqr is not None else ""
        n = f"n={self.n}" if self.n is not None else ""
        procs = (f"{self.processes} processes ±{self.between / 2:.0%}"
                 if self.processes and self.processes > 1 and self.between is not None else "")
        detail = ", ".join(p for p in (n, procs) if p)
        return f"{self.median:,.0f}{iqr}" + (f" ({detail})" if detail else "")


@dataclass(frozen=True)
class Row:
    name: str
    status: str
    version: str
    devices: str
    import_s: float | None
    error: str
    cells: dict[str, Cell] = field(default_factory=dict)


def _cell(stats: Stats, result: WorkloadResult | _ScalingRun) -> Cell:
    procs = _processes(result)
    return Cell(
        median=stats.median, iqr=stats.iqr, n=stats.n,
        first_epoch_s=result.first_epoch_s, accuracy=result.accuracy,
        peak_rss_mb=getattr(result, "peak_rss_mb", None),
        gflops=getattr(result, "gflops", None),
        fraction_of_peak=getattr(result, "fraction_of_peak", None),
        between=procs.spread if procs is not None else None,
        processes=procs.n if procs is not None else None,
    )


def _processes(result: WorkloadResult | _ScalingRun) -> Processes | None:
    procs = getattr(result, "processes", None)
    return procs if isinstance(procs, Processes) else None


def rows(probe: ProbeDocument | None) -> list[Row]:
    if probe is None:
        return []
    return [
        Row(
            name=text(r.name, 60) or "?",
            status=r.status,
            version=text(r.version, 60),
            devices=", ".join(n for n in (_device(d.kind, d.name) for d in r.devices) if n),
            import_s=r.import_s,
            error=text(r.error, 300),
            cells={text(name, 40): _cell(wl.samples_per_s, wl) for name, wl in r.workloads.items()},
        )
        for r in probe.frameworks
    ]


def _device(kind: str, name: str | None) -> str:
    kind, name = text(kind, 20), text(name, 60)
    return f"{kind}: {name}" if name and name != kind else kind


def workloads(table: list[Row]) -> list[str]:
    """Measured workloads, the policy's (contract) workloads first, then in first-seen order."""
    seen = [w for w in policy.ACCURACY_GATE if any(w in r.cells for r in table)]
    for r in table:
        seen.extend(w for w in r.cells if w not in seen)
    return seen


def method(probe: ProbeDocument | None) -> str:
    """One sentence on how the rows were run (threads, epochs, start-up), '' when unknown."""
    run = probe.run if probe is not None else None
    if run is None:
        return ""
    parts = []
    if run.threads is not None:
        parts.append(f"each row in a fresh process with {run.threads} thread(s)")
    if run.epochs is not None and run.epochs.timed is not None:
        block = run.epochs.min_block_s
        size = f" of whole epochs, each at least {block * 1000:.0f} ms" if block else ""
        parts.append(f"1 warm-up epoch, then {run.epochs.timed} timed blocks{size}")
    startup = run.startup
    if startup is not None and startup.mode == "staged":
        side = f"{startup.window} side by side" if startup.window is not None else "side by side"
        parts.append(f"frameworks imported {side} (import times include that overlap), then "
                     "one row trained at a time")
    elif startup is not None and startup.mode == "serial":
        parts.append("one row after another")
    if run.processes is not None and run.processes.per_row is not None:
        parts.append(f"{run.processes.per_row} fresh process(es) per row, interleaved")
    if run.quiet is True:
        parts.append("measured quiet: the machine was not busy and no other process competed "
                     "for a row's cores while it trained")
    elif run.quiet is None:
        parts.append("whether other processes competed for the cores was not measured")
    return ("Measured " + "; ".join(parts) + ".") if parts else ""


def quiet_warning(probe: ProbeDocument | None) -> str:
    """'' when the probe was measured quiet (or says nothing); else why its numbers are suspect."""
    run = probe.run if probe is not None else None
    why = run.not_quiet if run is not None else ""
    if not why:
        return ""
    return (f"Not measured quiet: {text(why, 600)}. These numbers may show the other work "
            "rather than the frameworks, and they move no score.")


def not_run(probe: ProbeDocument | None) -> list[tuple[str, str]]:
    """(row, reason) for the rows the probe left out on purpose (e.g. --quick's Keras rows)."""
    if probe is None:
        return []
    return [(text(i.name, 60), text(i.reason, 300)) for i in probe.not_run if i.name]


def gib(value: float | None) -> str:
    v = num(value)
    return f"{v / 2**30:.1f} GiB" if v is not None else "?"


def host_facts(probe: ProbeDocument | None) -> list[tuple[str, str]]:
    """(label, value) pairs describing the probed machine, for every report."""
    if probe is None:
        return []
    host = probe.host
    out = [
        ("CPU", text(host.cpu_model) or "?"),
        ("Cores", f"{host.usable_cores} usable of {text(host.logical_cores) or '?'} logical"),
        ("Memory", gib(host.memory_bytes)),
        ("OS", text(host.os) or "?"),
        ("Python", text(host.python) or "?"),
    ]
    for i, g in enumerate(probe.gpus):
        out.append((f"GPU {i}", f"{text(g.vendor)} {text(g.name)}, "
                                f"{gib(g.memory_bytes)}, driver {text(g.driver) or '?'}"))
    if not probe.gpus:
        out.append(("GPU", "none detected"))
    if probe.created or probe.advisor_version:
        out.append(("Probed", f"{text(probe.created) or '?'} by advisor "
                              f"{text(probe.advisor_version) or '?'}"))
    return out


def fastest(table: list[Row], workload: str) -> tuple[Row | None, list[Row]]:
    """The fastest ok row on a workload, and the rows whose spread overlaps it (a tie)."""
    ok = [r for r in table if r.status == "ok" and workload in r.cells
          and r.cells[workload].median is not None]
    if not ok:
        return None, []
    best = max(ok, key=lambda r: r.cells[workload].median or 0.0)
    b = best.cells[workload]
    return best, [r for r in ok if r is not best and policy.overlaps(
        r.cells[workload].median or 0.0, r.cells[workload].iqr, b.median or 0.0, b.iqr)]


# ------------------------------------------------------------------------------- scaling
@dataclass(frozen=True)
class ScalingRow:
    """One framework row of the scaling probe (advisor probe --scaling)."""

    name: str
    status: str
    engine: str
    version: str
    error: str
    one: Cell | None  # the 1-worker run
    many: Cell | None  # the N-worker run
    efficiency: float | None
    low: float | None
    high: float | None
    speedup: float | None
    start_s: float | None
    flags: tuple[str, ...] = ()

    def efficiency_text(self) -> str:
        if self.efficiency is None:
            return "-"
        spread = (f" [{self.low:.2f}-{self.high:.2f}]"
                  if self.low is not None and self.high is not None else "")
        return f"{self.efficiency:.2f}{spread}"


@dataclass(frozen=True)
class Scaling:
    workers: int | None
    nnodes: int | None
    node_rank: int | None
    world_size: int | None
    wall_s: float | None
    rows: list[ScalingRow]

    def title(self) -> str:
        nodes = (f" over {self.nnodes} nodes (this file: node {self.node_rank})"
                 if self.nnodes and self.nnodes > 1 else "")
        return f"1 worker vs {self.world_size or '?'} workers{nodes}"


def scaling(probe: ProbeDocument | None) -> Scaling | None:
    """The probe's scaling section as table rows (None when the probe has none)."""
    sc = probe.scaling if probe is not None else None
    if sc is None:
        return None
    out = [
        ScalingRow(
            name=text(r.name, 60) or "?",
            status=r.status,
            engine=text(r.engine, 120),
            version=text(r.version, 60),
            error=text(r.error, 300),
            one=_cell(r.baseline.samples_per_s, r.baseline) if r.baseline else None,
            many=_cell(r.parallel.samples_per_s, r.parallel) if r.parallel else None,
            efficiency=r.efficiency.median if r.efficiency else None,
            low=r.efficiency.low if r.efficiency else None,
            high=r.efficiency.high if r.efficiency else None,
            speedup=r.speedup,
            start_s=r.start_s,
            flags=tuple(text(f, 60) for f in r.flags[:10]),
        )
        for r in sc.rows
    ]
    return Scaling(workers=sc.workers, nnodes=sc.nnodes, node_rank=sc.node_rank,
                   world_size=sc.world_size, wall_s=sc.wall_s, rows=out)


# ------------------------------------------------------------------------------ deployment
@dataclass(frozen=True)
class DeployPath:
    """One measured deployment path (advisor probe --deploy): a row's workload in one format."""

    row: str
    workload: str
    target: str
    format: str
    status: str
    reason: str
    runtime: str
    export_s: float | None
    size_bytes: float | None
    load_s: float | None
    p50: float | None
    p99: float | None
    n: int | None
    top1: float | None
    max_abs_diff: float | None
    quantized: bool
    accuracy_drop: float | None

    def numbers(self) -> str:
        """``0.041 ms p50 · 69 KiB · parity 1.000`` (what an ok path measured)."""
        bits = []
        if self.p50 is not None:
            bits.append(f"{self.p50:.3g} ms p50")
        if self.size_bytes is not None:
            bits.append(f"{self.size_bytes / 1024:,.0f} KiB")
        if self.top1 is not None:
            bits.append(f"parity {self.top1:.3f}")
        if self.quantized and self.accuracy_drop is not None:
            bits.append(f"int8 drop {self.accuracy_drop:+.3f}")
        return " · ".join(bits)

    def summary(self) -> str:
        if self.status == "ok":
            return f"{self.format}: {self.numbers()}"
        return f"{self.format}: {self.status}" + (f" ({self.reason})" if self.reason else "")


@dataclass(frozen=True)
class DeployMatrix:
    targets: list[str]
    paths: list[DeployPath]

    def lines(self) -> list[tuple[str, str]]:
        """(row, workload) pairs in probe order: the matrix's rows."""
        seen: list[tuple[str, str]] = []
        for p in self.paths:
            if (p.row, p.workload) not in seen:
                seen.append((p.row, p.workload))
        return seen

    def cell(self, row: str, workload: str, target: str) -> list[DeployPath]:
        return [p for p in self.paths
                if p.row == row and p.workload == workload and p.target == target]

    def best(self, row: str, workload: str, target: str) -> DeployPath | None:
        """The fastest ok path, else the first failed or timed-out one, else the first."""
        paths = self.cell(row, workload, target)
        ok = [p for p in paths if p.status == "ok"]
        if ok:
            return min(ok, key=lambda p: p.p50 if p.p50 is not None else math.inf)
        bad = [p for p in paths if p.status in ("failed", "timeout")]
        rest = bad or paths
        return rest[0] if rest else None

    def measurements(self) -> list[tuple[DeployPath, list[str]]]:
        """Each (row, workload, format) measured once, with the targets it serves."""
        out: dict[tuple[str, str, str], tuple[DeployPath, list[str]]] = {}
        for p in self.paths:
            key = (p.row, p.workload, p.format)
            if key in out:
                out[key][1].append(p.target)
            else:
                out[key] = (p, [p.target])
        return list(out.values())


def deploy(probe: ProbeDocument | None) -> DeployMatrix | None:
    """The probe's deployment paths as table rows (None when it has no ``deploy`` part)."""
    dp = probe.deploy if probe is not None else None
    if dp is None:
        return None
    paths = []
    for r in dp.rows:
        lat, par = r.latency_ms, r.parity
        paths.append(DeployPath(
            row=text(r.row, 60) or "?", workload=text(r.workload, 40) or "-",
            target=text(r.target, 40) or "?", format=text(r.format, 40) or "-",
            status=r.status, reason=text(r.reason, 300), runtime=text(r.runtime, 80),
            export_s=r.export_s, size_bytes=r.size_bytes, load_s=r.load_s,
            p50=lat.p50 if lat else None, p99=lat.p99 if lat else None,
            n=lat.n if lat else None, top1=par.top1_agreement if par else None,
            max_abs_diff=par.max_abs_diff if par else None, quantized=r.quantized,
            accuracy_drop=r.accuracy_drop,
        ))
    raw_targets = dp.extra.get("targets")
    targets = [text(t, 40) for t in raw_targets or [] if isinstance(t, str)] \
        if isinstance(raw_targets, list) else []
    for p in paths:
        if p.target not in targets:
            targets.append(p.target)
    return DeployMatrix(targets=targets, paths=paths)
