"""Views of a Comparison (advisor.service.compare): rich table, Markdown and self-contained HTML."""

from __future__ import annotations

from typing import Any

from advisor import __version__
from advisor.render import measured
from advisor.render.text import clean, md, md_code
from advisor.service.compare import Comparison


def _cell(c: measured.Cell | None) -> str:
    if c is None or c.median is None:
        return "-"
    return c.spread_text() + (" noisy" if c.noisy else "")


def _status(r: measured.Row | None) -> str:
    if r is None:
        return "-"
    return r.status + (f" {r.version}" if r.version else "")


def _fastest_text(cmp: Comparison, i: int, wl: str) -> str:
    f = cmp.fastest[i].get(wl)
    if f is None:
        return "-"
    return f.row + (f" (tied with {', '.join(f.ties)})" if f.ties else "")


def scaling_cell(m: Any, name: str) -> str:
    """``0.91 [0.90-0.94] (1: 6,536/s, 2: 11,926/s)``, or the status when it did not run."""
    r = m.scaling_row(name)
    if r is None:
        return "-"
    if r.status != "ok":
        return r.status
    one = f"{r.one.median:,.0f}" if r.one and r.one.median is not None else "-"
    many = f"{r.many.median:,.0f}" if r.many and r.many.median is not None else "-"
    world = m.scaling.world_size if m.scaling else None
    return f"{r.efficiency_text()} (1: {one}/s, {world or 'N'}: {many}/s)"


def deploy_cell(m: Any, key: tuple[str, str, str]) -> str:
    """The best path of (row, workload, target) on one machine: ``ok onnx: 0.04 ms p50 · ...``."""
    if m.deploy is None:
        return "no deploy probe"
    best = m.deploy.best(*key)
    if best is None:
        return "-"
    if best.status == "ok":
        return f"ok {best.format}: {best.numbers()}"
    return f"{best.status} ({best.format})"


DEPLOY_TITLE = "Deployment paths (best path per target: format, batch-1 latency, size, parity)"


def scaling_heading(m: Any) -> str:
    return m.scaling.title() if m.scaling is not None else "no scaling probe"


def render_table(cmp: Comparison, console: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    def e(v: object) -> str:
        return escape(clean(str(v)))

    heads = [e(m.label) for m in cmp.machines]
    t = Table(title="Machines", title_justify="left")
    t.add_column("")
    for h in heads:
        t.add_column(h)
    for fact in cmp.facts:
        t.add_row(e(fact), *[e(m.facts.get(fact, "-")) for m in cmp.machines])
    console.print(t)
    t = Table(title="Frameworks (status, version)", title_justify="left")
    t.add_column("row")
    for h in heads:
        t.add_column(h)
    for name in cmp.frameworks:
        t.add_row(e(name), *[e(_status(m.row(name))) for m in cmp.machines])
    console.print(t)
    for wl in cmp.workloads:
        t = Table(title=f"{e(wl)}: training samples/s, median ± IQR/2 (n)", title_justify="left")
        t.add_column("row")
        for h in heads:
            t.add_column(h, justify="right")
        for name in cmp.frameworks:
            cells = []
            for i, m in enumerate(cmp.machines):
                r = m.row(name)
                text = e(_cell(r.cells.get(wl) if r else None))
                f = cmp.fastest[i].get(wl)
                cells.append(f"[bold green]{text} *[/]" if f and f.row == name else text)
            if any(c != "-" for c in cells):
                t.add_row(e(name), *cells)
        console.print(t)
    if cmp.scaling_rows:
        t = Table(title="Scaling efficiency on cnn-digits [interval] (1 worker and N workers, "
                  "samples/s)", title_justify="left")
        t.add_column("row")
        for m in cmp.machines:
            t.add_column(f"{e(m.label)}\n{e(scaling_heading(m))}")
        for name in cmp.scaling_rows:
            t.add_row(e(name), *[e(scaling_cell(m, name)) for m in cmp.machines])
        console.print(t)
    if cmp.deploy_keys:
        t = Table(title=DEPLOY_TITLE, title_justify="left")
        t.add_column("row · workload → target")
        for h in heads:
            t.add_column(h, overflow="fold")
        for key in cmp.deploy_keys:
            t.add_row(e(" · ".join(key[:2]) + " → " + key[2]),
                      *[e(deploy_cell(m, key)) for m in cmp.machines])
        console.print(t)
    if not cmp.workloads:  # scaling-only probe files: no single-process rows to rank
        return
    t = Table(title="Fastest framework (* above; ties are within the measured spread)", title_justify="left")
    t.add_column("workload")
    for h in heads:
        t.add_column(h)
    for wl in cmp.workloads:
        t.add_row(e(wl), *[e(_fastest_text(cmp, i, wl)) for i in range(len(cmp.machines))])
    console.print(t)


def render_markdown(cmp: Comparison) -> str:
    out: list[str] = []
    w = out.append
    heads = " | ".join(md(m.label) for m in cmp.machines)
    sep = "|---|" + "---|" * len(cmp.machines)
    w("# Machines compared")
    w("")
    w("Files: " + ", ".join(f"{md_code(m.path)}" for m in cmp.machines))
    w("")
    w("## Hardware")
    w("")
    w(f"| | {heads} |")
    w(sep)
    for fact in cmp.facts:
        w(f"| {md(fact)} | " + " | ".join(md(m.facts.get(fact, "-")) for m in cmp.machines) + " |")
    w("")
    w("## Frameworks")
    w("")
    w(f"| row | {heads} |")
    w(sep)
    for name in cmp.frameworks:
        w(f"| {md_code(name)} | " + " | ".join(md(_status(m.row(name))) for m in cmp.machines) + " |")
    for wl in cmp.workloads:
        w("")
        w(f"## {md(wl)}: training samples/s (median ± IQR/2, n)")
        w("")
        w(f"| row | {heads} |")
        w("|---|" + "---:|" * len(cmp.machines))
        for name in cmp.frameworks:
            cells = []
            for i, m in enumerate(cmp.machines):
                r = m.row(name)
                text = md(_cell(r.cells.get(wl) if r else None))
                f = cmp.fastest[i].get(wl)
                cells.append(f"**{text}**" if f and f.row == name and text != "-" else text)
            if any(c != "-" for c in cells):
                w(f"| {md_code(name)} | " + " | ".join(cells) + " |")
    w("")
    w("## Fastest framework per workload")
    w("")
    w(f"| workload | {heads} |")
    w(sep)
    for wl in cmp.workloads:
        w(f"| {md(wl)} | " + " | ".join(md(_fastest_text(cmp, i, wl)) for i in range(len(cmp.machines))) + " |")
    if cmp.scaling_rows:
        w("")
        w("## Scaling efficiency on cnn-digits [interval] (1 worker and N workers, samples/s)")
        w("")
        w(f"| row | {heads} |")
        w(sep)
        w("| group | " + " | ".join(md(scaling_heading(m)) for m in cmp.machines) + " |")
        for name in cmp.scaling_rows:
            w(f"| {md_code(name)} | " + " | ".join(md(scaling_cell(m, name)) for m in cmp.machines)
              + " |")
    if cmp.deploy_keys:
        w("")
        w(f"## {md(DEPLOY_TITLE)}")
        w("")
        w(f"| row | workload | target | {heads} |")
        w("|---|---|---|" + "---|" * len(cmp.machines))
        for key in cmp.deploy_keys:
            w(f"| {md_code(key[0])} | {md(key[1])} | {md(key[2])} | "
              + " | ".join(md(deploy_cell(m, key)) for m in cmp.machines) + " |")
    w("")
    w(f"*advisor {md(__version__)}; a tie means the runner-up's spread overlaps the fastest's.*")
    return "\n".join(out) + "\n"


def render_html(cmp: Comparison, *, charts: bool = True) -> str:
    import datetime as dt

    from advisor.render.html import environment

    chart_list = []
    if charts:
        from advisor.render import charts as charts_mod

        for wl in cmp.workloads[:charts_mod.MAX_WORKLOAD_CHARTS]:
            names = [n for n in cmp.frameworks
                     if any((c := m.cell(n, wl)) is not None and c.median is not None
                            for m in cmp.machines)]
            if not names:
                continue
            med = [[m.ok_median(n, wl) for m in cmp.machines] for n in names]
            iqr = [[c.iqr if (c := m.cell(n, wl)) is not None else None for m in cmp.machines]
                   for n in names]
            svg = charts_mod.throughput(names, [m.label for m in cmp.machines], med, iqr,
                                        title=f"Throughput on {wl}, per machine")
            chart_list.append({"uri": charts_mod.data_uri(svg),
                               "alt": f"Training throughput on {wl} per framework and machine",
                               "caption": f"{wl}: median samples/s per framework, one colour per machine; whiskers show the interquartile range."})
    if charts and cmp.scaling_rows:
        from advisor.render import charts as charts_mod

        names = [n for n in cmp.scaling_rows
                 if any((r := m.scaling_row(n)) and r.status == "ok" and r.efficiency is not None
                        for m in cmp.machines)]
        if names:
            def pick(n: str, m: Any, attr: str) -> float | None:
                r = m.scaling_row(n)
                return getattr(r, attr) if r and r.status == "ok" else None

            svg = charts_mod.scaling_efficiency(
                names, [f"{m.label}: {scaling_heading(m)}" for m in cmp.machines],
                [[pick(n, m, "efficiency") for m in cmp.machines] for n in names],
                [[pick(n, m, "low") for m in cmp.machines] for n in names],
                [[pick(n, m, "high") for m in cmp.machines] for n in names],
                title="Scaling efficiency on cnn-digits, per machine / node")
            chart_list.append({"uri": charts_mod.data_uri(svg),
                               "alt": "Data-parallel scaling efficiency per framework and machine",
                               "caption": "Scaling efficiency = throughput with N workers / (N × "
                                          "1-worker throughput), 1.0 ideal; one colour per probe "
                                          "file; whiskers show the interval from the quartiles."})
    cells = {(wl, name, i): m.cell(name, wl) for wl in cmp.workloads
             for name in cmp.frameworks for i, m in enumerate(cmp.machines)}
    return environment().get_template("compare.html.j2").render(
        cmp=cmp, cells=cells, status=_status, fastest_text=_fastest_text, charts=chart_list,
        scaling_cell=scaling_cell, scaling_heading=scaling_heading,
        deploy_cell=deploy_cell, deploy_title=DEPLOY_TITLE,
        version=__version__,
        generated=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    )


COMPARE_JSON_VERSION = 1


def render_json(cmp: Comparison) -> str:
    """The comparison as strict JSON: each machine's facts and rows, and the fastest row per
    workload (``advisor compare --format json``)."""
    import dataclasses
    import json
    import math

    def finite(value: Any) -> Any:
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        if isinstance(value, dict):
            return {str(k): finite(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [finite(v) for v in value]
        return value

    machines = []
    for i, m in enumerate(cmp.machines):
        rows = []
        for r in m.rows:
            row = dataclasses.asdict(r)
            row["workloads"] = {wl: {**dataclasses.asdict(c), "noisy": c.noisy}
                                for wl, c in r.cells.items()}
            del row["cells"]
            rows.append(row)
        machines.append({
            "label": m.label, "path": m.path, "advisor_version": m.advisor_version,
            "facts": m.facts, "frameworks": rows,
            "fastest": {wl: dataclasses.asdict(f) for wl, f in cmp.fastest[i].items()},
            "scaling": dataclasses.asdict(m.scaling) if m.scaling is not None else None,
            "deploy": dataclasses.asdict(m.deploy) if m.deploy is not None else None,
        })
    doc = {"schema_version": COMPARE_JSON_VERSION, "workloads": cmp.workloads,
           "frameworks": cmp.frameworks, "machines": machines}
    return json.dumps(finite(doc), indent=2, allow_nan=False) + "\n"
