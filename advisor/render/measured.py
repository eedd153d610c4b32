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
                     "one row trained at a time")
    elif isinstance(startup, Mapping) and startup.get("mode") == "serial":
        parts.append("one row after another")
    procs = run.get("processes")
    if isinstance(procs, Mapping) and num(procs.get("per_row")) is not None:
        parts.append(f"{num(procs.get('per_row')):.0f} fresh process(es) per row, interleaved")
    if run.get("quiet") is True:
        parts.append("measured quiet: the machine was not busy and no other process competed "
                     "for a row's cores while it trained")
    elif "quiet" not in run:
        parts.append("whether other processes competed for the cores was not measured")
    return ("Measured " + "; ".join(parts) + ".") if parts else ""


def quiet_warning(probe: Mapping[str, Any] | None) -> str:
    """'' when the probe was measured quiet (or says nothing); else why its numbers are suspect."""
    run = run_info(probe)
    why = []
    if run.get("busy") is True:
        load = run.get("load_avg_before")
        at = f" (1-minute load {num(load[0]):.1f})" if isinstance(load, list) and load and \
            num(load[0]) is not None else ""
        why.append(f"the machine was busy before the probe{at}")
    contention = run.get("contention")
    rows = contention.get("rows") if isinstance(contention, Mapping) else None
    if isinstance(rows, list) and rows:
        names = ", ".join(text(r, 40) for r in rows[:12])
        why.append(f"other processes competed for the cores while {names} trained (contended)")
    if not why:
        return ""
    return ("Not measured quiet: " + "; ".join(why) + ". These numbers may show the other work "
            "rather than the frameworks, and they move no score.")


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
