"""Read a probe file's rows into plain, typed view objects that every report shares.

A probe file may come from another machine (or another person), so nothing in it is trusted:
numbers that are not finite numbers become ``None``, strings stay strings (renderers escape them),
and unknown shapes are skipped rather than raising.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

WORKLOADS = ("mlp-digits", "cnn-digits")
NOISY_IQR_FRACTION = 0.25  # IQR above a quarter of the median: flagged as noisy


def num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


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

    @property
    def noisy(self) -> bool:
        if self.median is None or self.iqr is None or self.median <= 0:
            return False
        return self.iqr / self.median > NOISY_IQR_FRACTION or (self.n is not None and self.n < 3)

    def spread_text(self) -> str:
        if self.median is None:
            return "-"
        iqr = f" ± {self.iqr / 2:,.0f}" if self.iqr is not None else ""
        n = f" (n={self.n})" if self.n is not None else ""
        return f"{self.median:,.0f}{iqr}{n}"


@dataclass(frozen=True)
class Row:
    name: str
    status: str
    version: str
    devices: str
    import_s: float | None
    error: str
    cells: dict[str, Cell] = field(default_factory=dict)


def _cell(raw: Mapping[str, Any]) -> Cell:
    sps = raw.get("samples_per_s")
    sps = sps if isinstance(sps, Mapping) else {}
    n = sps.get("n")
    return Cell(
        median=num(sps.get("median")),
        iqr=num(sps.get("iqr")),
        n=int(n) if isinstance(n, int) and not isinstance(n, bool) else None,
        first_epoch_s=num(raw.get("first_epoch_s")),
        accuracy=num(raw.get("accuracy")),
        peak_rss_mb=num(raw.get("peak_rss_mb")),
        gflops=num(raw.get("gflops")),
        fraction_of_peak=num(raw.get("fraction_of_peak", raw.get("peak_fraction"))),
    )


def _devices(raw: Any) -> str:
    if not isinstance(raw, list):
        return ""
    names = []
    for dev in raw:
        if isinstance(dev, Mapping):
            kind, name = text(dev.get("kind"), 20), text(dev.get("name"), 60)
            names.append(f"{kind}: {name}" if name and name != kind else kind)
        else:
            names.append(text(dev, 60))
    return ", ".join(n for n in names if n)


def rows(probe: Mapping[str, Any] | None) -> list[Row]:
    out: list[Row] = []
    for raw in (probe or {}).get("frameworks") or []:
        if not isinstance(raw, Mapping):
            continue
        workloads = raw.get("workloads")
        cells = {}
        if isinstance(workloads, Mapping):
            for name, wl in workloads.items():
                if isinstance(wl, Mapping):
                    cells[text(name, 40)] = _cell(wl)
        out.append(
            Row(
                name=text(raw.get("name"), 60) or "?",
                status=text(raw.get("status"), 20) or "?",
                version=text(raw.get("version"), 60),
                devices=_devices(raw.get("devices")),
                import_s=num(raw.get("import_s")),
                error=text(raw.get("error"), 300),
                cells=cells,
            )
        )
    return out


def workloads(table: list[Row]) -> list[str]:
    seen = [w for w in WORKLOADS if any(w in r.cells for r in table)]
    for r in table:
        seen.extend(w for w in r.cells if w not in seen)
    return seen


def run_info(probe: Mapping[str, Any] | None) -> Mapping[str, Any]:
    run = (probe or {}).get("run")
    return run if isinstance(run, Mapping) else {}


def method(probe: Mapping[str, Any] | None) -> str:
    """One sentence on how the rows were run (threads, epochs, start-up), '' when unknown."""
    run = run_info(probe)
    if not run:
        return ""
    parts = []
    threads = num(run.get("threads"))
    if threads is not None:
        parts.append(f"each row in a fresh process with {threads:.0f} thread(s)")
    epochs = run.get("epochs")
    if isinstance(epochs, Mapping) and num(epochs.get("timed")) is not None:
        block = num(epochs.get("min_block_s"))
        size = f" of whole epochs, each at least {block * 1000:.0f} ms" if block else ""
        parts.append(f"1 warm-up epoch, then {num(epochs.get('timed')):.0f} timed blocks{size}")
    startup = run.get("startup")
    if isinstance(startup, Mapping) and startup.get("mode") == "staged":
        window = num(startup.get("window"))
        side = f"{window:.0f} side by side" if window is not None else "side by side"
        parts.append(f"frameworks imported {side} (import times include that overlap), then "
                     "every row trained alone: epoch times were measured with nothing else "
                     "running")
    elif isinstance(startup, Mapping) and startup.get("mode") == "serial":
        parts.append("one row after another, nothing else running")
    return ("Measured " + "; ".join(parts) + ".") if parts else ""


def not_run(probe: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(row, reason) for the rows the probe left out on purpose (e.g. --quick's Keras rows)."""
    out = []
    for item in run_info(probe).get("not_run") or []:
        if isinstance(item, Mapping) and item.get("name"):
            out.append((text(item.get("name"), 60), text(item.get("reason"), 300)))
    return out


def gib(value: Any) -> str:
    v = num(value)
    return f"{v / 2**30:.1f} GiB" if v is not None else "?"


def host_facts(probe: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) pairs describing the probed machine, for every report."""
    if not probe:
        return []
    host = probe.get("host")
    host = host if isinstance(host, Mapping) else {}
    out = [
        ("CPU", text(host.get("cpu_model")) or "?"),
        ("Cores", f"{text(host.get('usable_cores')) or '?'} usable of {text(host.get('logical_cores')) or '?'} logical"),
        ("Memory", gib(host.get("memory_bytes"))),
        ("OS", text(host.get("os")) or "?"),
        ("Python", text(host.get("python")) or "?"),
    ]
    gpus = [g for g in (probe.get("gpus") or []) if isinstance(g, Mapping)]
    if gpus:
        for i, g in enumerate(gpus):
            out.append((f"GPU {i}", f"{text(g.get('vendor'))} {text(g.get('name'))}, "
                                    f"{gib(g.get('memory_bytes'))}, driver {text(g.get('driver')) or '?'}"))
    else:
        out.append(("GPU", "none detected"))
    if probe.get("created") or probe.get("advisor_version"):
        out.append(("Probed", f"{text(probe.get('created')) or '?'} by advisor "
                              f"{text(probe.get('advisor_version')) or '?'}"))
    return out


def fastest(table: list[Row], workload: str) -> tuple[Row | None, list[Row]]:
    """The fastest ok row on a workload, and the rows whose spread overlaps it (a tie)."""
    ok = [r for r in table if r.status == "ok" and workload in r.cells
          and r.cells[workload].median is not None]
    if not ok:
        return None, []
    best = max(ok, key=lambda r: r.cells[workload].median or 0.0)
    b = best.cells[workload]
    ties = []
    for r in ok:
        if r is best:
            continue
        c = r.cells[workload]
        if (c.median or 0) + (c.iqr or 0) / 2 >= (b.median or 0) - (b.iqr or 0) / 2:
            ties.append(r)
    return best, ties


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


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _run_cell(raw: Any) -> Cell | None:
    if not isinstance(raw, Mapping):
        return None
    return _cell(raw)


def scaling(probe: Mapping[str, Any] | None) -> Scaling | None:
    """The probe's scaling section as typed views (None when the probe has none)."""
    raw = (probe or {}).get("scaling")
    if not isinstance(raw, Mapping):
        return None
    out: list[ScalingRow] = []
    for r in raw.get("rows") or []:
        if not isinstance(r, Mapping):
            continue
        eff = r.get("efficiency") if isinstance(r.get("efficiency"), Mapping) else {}
        flags = r.get("flags") if isinstance(r.get("flags"), list) else []
        out.append(ScalingRow(
            name=text(r.get("name"), 60) or "?",
            status=text(r.get("status"), 20) or "?",
            engine=text(r.get("engine"), 120),
            version=text(r.get("version"), 60),
            error=text(r.get("error"), 300),
            one=_run_cell(r.get("baseline")),
            many=_run_cell(r.get("parallel")),
            efficiency=num(eff.get("median")),
            low=num(eff.get("low")),
            high=num(eff.get("high")),
            speedup=num(r.get("speedup")),
            start_s=num(r.get("start_s")),
            flags=tuple(text(f, 60) for f in flags[:10]),
        ))
    return Scaling(workers=_int(raw.get("workers")), nnodes=_int(raw.get("nnodes")),
                   node_rank=_int(raw.get("node_rank")), world_size=_int(raw.get("world_size")),
                   wall_s=num(raw.get("wall_s")), rows=out)


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
        return (bad or paths or [None])[0]

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


def deploy(probe: Mapping[str, Any] | None) -> DeployMatrix | None:
    """The probe's deployment paths as typed views (None when it has no ``deploy`` part)."""
    raw = (probe or {}).get("deploy")
    if not isinstance(raw, Mapping):
        return None
    paths = []
    for r in raw.get("rows") or []:
        if not isinstance(r, Mapping):
            continue
        lat = r.get("latency_ms") if isinstance(r.get("latency_ms"), Mapping) else {}
        par = r.get("parity") if isinstance(r.get("parity"), Mapping) else {}
        runtime = r.get("runtime") if isinstance(r.get("runtime"), Mapping) else {}
        rt = " ".join(text(runtime.get(k), 60) for k in ("name", "version") if runtime.get(k))
        paths.append(DeployPath(
            row=text(r.get("row"), 60) or "?", workload=text(r.get("workload"), 40) or "-",
            target=text(r.get("target"), 40) or "?", format=text(r.get("format"), 40) or "-",
            status=text(r.get("status"), 20) or "?", reason=text(r.get("reason"), 300),
            runtime=rt, export_s=num(r.get("export_s")), size_bytes=num(r.get("size_bytes")),
            load_s=num(r.get("load_s")), p50=num(lat.get("p50")), p99=num(lat.get("p99")),
            n=_int(lat.get("n")), top1=num(par.get("top1_agreement")),
            max_abs_diff=num(par.get("max_abs_diff")), quantized=r.get("quantized") is True,
            accuracy_drop=num(r.get("accuracy_drop")),
        ))
    targets = [text(t, 40) for t in raw.get("targets") or [] if isinstance(t, str)]
    for p in paths:
        if p.target not in targets:
            targets.append(p.target)
    return DeployMatrix(targets=targets, paths=paths)
