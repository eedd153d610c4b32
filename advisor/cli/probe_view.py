"""Rich rendering of a probe run on stderr: live progress, then a summary table."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from advisor.probe.core import ProgressEvent
from advisor.probe.model import FrameworkRow, ProbeReport

STYLE = {"ok": "green", "missing": "yellow", "broken": "red", "timeout": "red"}


def headline(row: dict[str, Any] | FrameworkRow) -> str:
    """The one number shown for a finished row."""
    data = row.model_dump() if isinstance(row, FrameworkRow) else row
    if data.get("status") != "ok":
        return data.get("error") or data.get("status", "")
    parts = []
    for name, result in data.get("workloads", {}).items():
        median = (result.get("samples_per_s") or {}).get("median")
        if median:
            parts.append(f"{name} {median:,.0f}/s acc {result.get('accuracy', 0):.2f}")
    return "; ".join(parts)


class ProbeView:
    """What runs now (with its elapsed time) and every finished row with its headline."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.done: list[tuple[str, str, str]] = []
        self.current: ProgressEvent | None = None
        self.since = time.monotonic()
        self.started = time.monotonic()
        self._live = Live(console=self.console, refresh_per_second=4, transient=True,
                          get_renderable=self._render)

    def __enter__(self) -> ProbeView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(*exc)  # type: ignore[arg-type]

    def update(self, event: ProgressEvent) -> None:
        if event.kind == "start":
            self.current = event
            self.since = time.monotonic()
        else:
            self.current = None
            row = event.row or {}
            status = row.get("status", "?")
            self.done.append((event.name, status, headline(row)))
            if not self.console.is_terminal:  # logs and CI: one line per finished row
                self.console.print(f"{event.name}: {status} {headline(row)}"[:300], markup=False,
                                   soft_wrap=True)

    def _render(self) -> Table:
        table = Table.grid(padding=(0, 1))
        for name, status, text in self.done:
            table.add_row(Text("✓" if status == "ok" else "✗", STYLE.get(status, "")),
                          name, Text(status, STYLE.get(status, "")), Text(text, overflow="fold"))
        if self.current:
            c = self.current
            rep = f" run {c.attempt}/{c.repeat}" if c.repeat > 1 else ""
            table.add_row("…", c.name, f"row {c.index}/{c.total}{rep}",
                          f"{time.monotonic() - self.since:5.1f} s "
                          f"(total {time.monotonic() - self.started:.0f} s)")
        return table


def render_summary(console: Console, report: ProbeReport) -> None:
    host = report.host
    console.print(f"[bold]{host.cpu_model or 'unknown CPU'}[/] · {host.usable_cores} usable of "
                  f"{host.logical_cores} cores · "
                  f"{(host.memory_bytes or 0) / 2**30:.1f} GiB · {host.os} · Python {host.python}")
    for gpu in report.gpus:
        console.print(f"GPU: {gpu.vendor} {gpu.name} {(gpu.memory_bytes or 0) / 2**30:.0f} GiB")
    table = Table(title="advisor probe", title_justify="left")
    # samples/s: median of the timed epochs, (IQR / median) in brackets
    for col in ("row", "status", "import s", "mlp samples/s", "cnn samples/s", "cnn % peak",
                "acc mlp/cnn"):
        table.add_column(col, no_wrap=True,
                         justify="right" if col.endswith(("s", "peak")) else "left")
    table.add_column("flags / error", overflow="fold", ratio=1)
    for row in report.frameworks:
        mlp, cnn = row.workloads.get("mlp-digits"), row.workloads.get("cnn-digits")

        def rate(w: Any) -> str:
            if not w or w.samples_per_s.median is None:
                return "-"
            spread = (w.samples_per_s.iqr or 0) / w.samples_per_s.median
            return f"{w.samples_per_s.median:,.0f} ({spread:.0%})"

        frac = (cnn.model_extra or {}).get("fraction_of_peak") if cnn else None
        acc = "/".join(f"{w.accuracy:.2f}" if w and w.accuracy is not None else "-"
                       for w in (mlp, cnn))
        flags = ", ".join(row.flags) or (row.error or "" if row.status != "ok" else "")
        if row.install_hint:
            flags = f"{row.install_hint}"
        flags = flags if len(flags) <= 60 else flags[:59] + "…"
        table.add_row(row.name, Text(row.status, STYLE.get(row.status, "")),
                      f"{row.import_s:.1f}" if row.import_s is not None else "-", rate(mlp),
                      rate(cnn), f"{frac * 100:.0f}%" if frac else "-", acc,
                      Text(flags, overflow="fold"))
    console.print(table)
    run = report.model_extra.get("run", {}) if report.model_extra else {}
    if run:
        console.print(f"threads {run.get('threads')} · epochs 1+{run['epochs']['timed']} · "
                      f"load before {run.get('load_avg_before')} · {run.get('wall_s')} s")
