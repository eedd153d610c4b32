"""Rich rendering of a probe run on stderr: live progress, then a summary table.

Reads the typed probe document (advisor.probe.model) and the probe's progress events only.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from advisor.infra.clean import clean
from advisor.probe.model import FrameworkRow, ProbeDocument, ScalingRow, Stats

if TYPE_CHECKING:
    from advisor.probe.supervise import ProgressEvent

STYLE = {"ok": "green", "missing": "yellow", "broken": "red", "timeout": "red",
         "unavailable": "yellow"}


def headline(row: FrameworkRow | ScalingRow) -> str:
    """The one number shown for a finished row."""
    if row.status != "ok":
        return row.error or row.status
    if isinstance(row, FrameworkRow) and not row.workloads and row.error:
        return row.error  # a deploy child (advisor probe --deploy): its paths' statuses
    if isinstance(row, ScalingRow):
        return scaling_headline(row)
    parts = []
    for name, result in row.workloads.items():
        median = result.samples_per_s.median
        if median:
            parts.append(f"{name} {median:,.0f}/s acc {result.accuracy or 0:.2f}")
    return "; ".join(parts)


PHASE_TEXT = {"start": "starting (import, data)", "ready": "ready, waits its turn",
              "measure": "training", "deploy": "exporting or running"}


class ProbeView:
    """What runs now (each row's phase and elapsed time) and every finished row's headline.

    Rows start up side by side, so several can be active at once: starting, ready (waiting for
    their turn to train) or training (one at a time).
    """

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.done: list[tuple[str, str, str]] = []
        self.active: dict[str, tuple[ProgressEvent, float]] = {}  # name -> (event, since)
        self.started = time.monotonic()
        self._live = Live(console=self.console, refresh_per_second=4, transient=True,
                          get_renderable=self._render)

    def __enter__(self) -> ProbeView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(*exc)  # type: ignore[arg-type]

    def update(self, event: ProgressEvent) -> None:
        if event.kind != "done":
            self.active[event.name] = (event, time.monotonic())
            return
        self.active.pop(event.name, None)
        row = event.row
        status = row.status if row is not None else "?"
        line = headline(row) if row is not None else ""
        self.done.append((event.name, status, line))
        if not self.console.is_terminal:  # logs and CI: one line per finished row
            self.console.print(clean(f"{event.name}: {status} {line}")[:300], markup=False,
                               soft_wrap=True)

    def _render(self) -> Table:
        table = Table.grid(padding=(0, 1))
        for name, status, text in self.done:
            table.add_row(Text("✓" if status == "ok" else "✗", STYLE.get(status, "")),
                          name, Text(status, STYLE.get(status, "")), Text(clean(text), overflow="fold"))
        now = time.monotonic()
        for c, since in sorted(self.active.values(), key=lambda item: item[0].index):
            rep = f" run {c.attempt}/{c.repeat}" if c.repeat > 1 else ""
            table.add_row("▶" if c.kind == "measure" else "…", c.name,
                          f"row {c.index}/{c.total}{rep}" if c.total else "deploy",
                          f"{PHASE_TEXT.get(c.kind, c.kind)} {now - since:5.1f} s "
                          f"(total {now - self.started:.0f} s)")
        return table


def scaling_headline(row: ScalingRow) -> str:
    """``1: 2.9k/s · 2: 4.1k/s · eff 0.71 [0.66-0.75] · start 6.9 s``"""
    eff = row.efficiency
    one = row.baseline.samples_per_s.median if row.baseline else None
    many = row.parallel.samples_per_s.median if row.parallel else None
    world = row.world_size
    parts = [f"1: {one / 1000:.1f}k/s" if one else "1: -",
             f"{world}: {many / 1000:.1f}k/s" if many else f"{world}: -"]
    if eff:
        parts.append(f"eff {eff.median:.2f} [{eff.low:.2f}-{eff.high:.2f}]")
    if row.start_s is not None:
        parts.append(f"start {row.start_s:.1f} s")
    return " · ".join(parts)


def _rate(stats: Stats | None) -> str:
    """``12.3k ±4%``: median samples/s of the timed blocks and IQR / median."""
    if stats is None or not stats.median:
        return "-"
    return f"{stats.median / 1000:.1f}k ±{stats.spread or 0:.0%}"


def render_summary(console: Console, report: ProbeDocument) -> None:
    def e(value: object) -> str:  # a hypervisor sets the CPU name: "[/]" or "[link=...]" is text
        return escape(clean(str(value)))

    host = report.host
    console.print(f"[bold]{e(host.cpu_model or 'unknown CPU')}[/] · {host.usable_cores} usable of "
                  f"{host.logical_cores} cores · "
                  f"{(host.memory_bytes or 0) / 2**30:.1f} GiB · {e(host.os)} · "
                  f"Python {e(host.python)}")
    for gpu in report.gpus:
        console.print(f"GPU: {e(gpu.vendor)} {e(gpu.name)} "
                      f"{(gpu.memory_bytes or 0) / 2**30:.0f} GiB")
    table = Table(title="samples/s: median of timed blocks ±IQR/median", title_justify="left",
                  box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, collapse_padding=True)
    for col in ("row", "status", "import", "mlp/s", "cnn/s", "%peak", "acc"):
        table.add_column(col, no_wrap=True, justify="left" if col in ("row", "status") else "right")
    notes = []
    for row in report.frameworks:
        mlp, cnn = row.workloads.get("mlp-digits"), row.workloads.get("cnn-digits")
        frac = cnn.fraction_of_peak if cnn else None
        acc = "/".join(f"{w.accuracy:.2f}" if w and w.accuracy is not None else "-"
                       for w in (mlp, cnn))
        table.add_row(Text(clean(row.name)), Text(row.status, STYLE.get(row.status, "")),
                      f"{row.import_s:.1f}s" if row.import_s is not None else "-",
                      _rate(mlp.samples_per_s if mlp else None),
                      _rate(cnn.samples_per_s if cnn else None), f"{frac:.0%}" if frac else "-", acc)
        if row.status != "ok":
            hint = f" ({row.install_hint})" if row.install_hint else ""
            notes.append(f"{row.name}: {row.error or row.status}{hint}")
        elif row.flags:
            notes.append(f"{row.name}: {', '.join(row.flags)}")
    if report.frameworks:
        console.print(table)
    for note in notes:
        console.print(clean(note), markup=False, overflow="fold")
    if report.scaling is not None:
        render_scaling(console, report)
    run = report.run
    by_reason: dict[str, list[str]] = {}
    for skipped in report.not_run:
        by_reason.setdefault(str(skipped.reason), []).append(skipped.name)
    for reason, names in by_reason.items():
        console.print(clean(f"not run: {', '.join(names)} ({reason})"), markup=False, overflow="fold")
    if run is not None:
        how = (f"imports {run.startup.window} side by side, training one row at a time"
               if run.startup is not None and run.startup.mode == "staged"
               else "one row at a time")
        timed = run.epochs.timed if run.epochs else None
        block = (run.epochs.min_block_s if run.epochs else None) or 0
        load = list(run.load_avg_before) if run.load_avg_before is not None else None
        console.print(f"threads {run.threads} · 1 warm-up epoch + {timed} "
                      f"timed blocks (each ≥{block * 1000:.0f} ms) · "
                      f"{how} · load before {load} · {run.wall_s} s",
                      markup=False)
        if run.busy:
            console.print("[yellow]warning:[/] the machine was busy before the probe"
                          f"{clean(run.busy_evidence)} on {host.usable_cores} cores: other "
                          "work competed for the cores, so these numbers understate the "
                          "frameworks and move no score.")
        for name in run.contended_rows:
            contended = report.row(name)
            why = ("; ".join(contended.contention.why)
                   if contended is not None and contended.contention else "")
            console.print(f"[yellow]contended:[/] {escape(name)}: {escape(why)} - its "
                          "numbers move no score.")
        per_row = run.processes.per_row if run.processes is not None else None
        if per_row == 1:
            console.print("one process per row: the spread between fresh processes is unknown "
                          "(a process is a sample; `advisor probe` without --quick runs two, "
                          "--repeat N runs N)", markup=False)
        if run.quiet is True:
            console.print(f"measured quiet · {per_row or 1} fresh process(es) per row, "
                          "interleaved", markup=False)


def render_scaling(console: Console, report: ProbeDocument) -> None:
    sc = report.scaling
    assert sc is not None
    nodes = f" x {sc.nnodes} nodes (this is node {sc.node_rank})" if sc.nnodes > 1 else ""
    table = Table(title=f"scaling, cnn-digits: 1 vs {sc.world_size} workers{nodes}, 1 thread "
                  "each; efficiency = thr_N / (N x thr_1)", title_justify="left",
                  box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, collapse_padding=True)
    for col in ("row", "status", "1 worker/s", "N workers/s", "efficiency", "start"):
        table.add_column(col, no_wrap=True, justify="left" if col in ("row", "status") else "right")
    notes = []
    for row in sc.rows:
        eff = row.efficiency
        table.add_row(
            Text(clean(row.name)), Text(row.status, STYLE.get(row.status, "")),
            _rate(row.baseline.samples_per_s if row.baseline else None),
            _rate(row.parallel.samples_per_s if row.parallel else None),
            f"{eff.median:.2f} [{eff.low:.2f}-{eff.high:.2f}]" if eff else "-",
            f"{row.start_s:.1f}s" if row.start_s is not None else "-")
        if row.status != "ok":
            notes.append(f"{row.name}: {row.error or row.status}")
        elif row.flags:
            notes.append(f"{row.name}: {', '.join(row.flags)}")
    console.print(table)
    for note in notes:
        console.print(clean(note), markup=False, overflow="fold")
    if sc.wall_s is not None:
        console.print(f"scaling probe: {sc.wall_s} s")
