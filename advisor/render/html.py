"""Self-contained HTML decision record: one file, inline CSS, charts embedded, works offline.

Everything is rendered by jinja2 with autoescape on; nothing is marked safe except the chart
data URIs this module builds itself. Links are kept only for http/https URLs. A Content Security
Policy forbids scripts and every fetch except the embedded ``data:`` images.
"""

from __future__ import annotations

import re
from typing import Any

from advisor.decision.assessment import Assessment
from advisor.render import measured, view
from advisor.render.text import clean

_URL = re.compile(r"^https?://[^\s\"'<>`\\]+$")


def safe_url(url: Any) -> str | None:
    """The URL if it is a plain http(s) URL, else None (rendered as text, not a link)."""
    value = clean(str(url or "")).strip()
    return value if _URL.match(value) else None


def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("advisor.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["safe_url"] = safe_url
    env.filters["clean"] = lambda v: clean(str(v))
    env.filters["pct"] = lambda v: f"{v:.0%}"
    env.filters["num"] = lambda v, fmt=",.0f": "-" if v is None else format(v, fmt)
    return env




def probe_charts(table: list[measured.Row]) -> list[dict[str, str]]:
    """Throughput-with-spread and time-to-first-epoch charts for one probe's rows."""
    from advisor.render import charts

    out: list[dict[str, str]] = []
    wls = measured.workloads(table)
    ok = [r for r in table if r.status == "ok" and r.cells]
    for wl in wls[:charts.MAX_WORKLOAD_CHARTS]:
        rows = [r for r in ok if wl in r.cells and r.cells[wl].median is not None]
        if not rows:
            continue
        svg = charts.throughput(
            [r.name for r in rows], [wl],
            [[r.cells[wl].median] for r in rows], [[r.cells[wl].iqr] for r in rows],
            title=f"Throughput on {wl}",
        )
        out.append({"uri": charts.data_uri(svg),
                    "alt": f"Training throughput per framework on {wl}, median with interquartile range",
                    "caption": f"Throughput on {wl}: median samples/s of the timed blocks of whole epochs; whiskers show the interquartile range."})
    if ok and wls:
        svg = charts.first_epoch(
            [r.name for r in ok], wls[:charts.MAX_WORKLOAD_CHARTS],
            [[r.cells[w].first_epoch_s if w in r.cells else None
              for w in wls[:charts.MAX_WORKLOAD_CHARTS]] for r in ok],
            [r.import_s for r in ok],
        )
        out.append({"uri": charts.data_uri(svg),
                    "alt": "Import time and time of the first epoch per framework",
                    "caption": "Time to first epoch: import seconds, then the first epoch (tracing and compilation included)."})
    return out


def scaling_chart(sc: measured.Scaling | None) -> dict[str, str] | None:
    """Scaling efficiency per framework row, with its interval, for one probe."""
    if sc is None:
        return None
    ok = [r for r in sc.rows if r.status == "ok" and r.efficiency is not None]
    if not ok:
        return None
    from advisor.render import charts

    svg = charts.scaling_efficiency([r.name for r in ok], [sc.title()],
                                    [[r.efficiency] for r in ok], [[r.low] for r in ok],
                                    [[r.high] for r in ok],
                                    title=f"Scaling efficiency on cnn-digits, {sc.title()}")
    return {"uri": charts.data_uri(svg),
            "alt": "Data-parallel scaling efficiency per framework, with its interval",
            "caption": "Scaling efficiency: throughput with N workers divided by N times the "
                       "1-worker throughput (1.0 = ideal); whiskers show the interval the "
                       "quartiles of both runs allow."}


def context(a: Assessment, *, charts_on: bool = True) -> dict[str, Any]:
    """The report view-model (advisor.render.view) plus the charts only HTML shows."""
    v = view.build(a)
    charts: dict[str, Any] = {"contributions": None, "probe": [], "scaling": None}
    if charts_on:
        from advisor.render import charts as charts_mod

        crits = [cid for cid, _ in v.criteria]
        svg = charts_mod.contributions(
            [r.name for r in a.ranking], [v.crit_names[c] for c in crits],
            [[r.contributions[c] for c in crits] for r in a.ranking], [r.vetoed for r in a.ranking],
        )
        charts["contributions"] = charts_mod.data_uri(svg)
        charts["probe"] = probe_charts(v.rows)
        charts["scaling"] = scaling_chart(v.scaling)
    return {**v.fields(), "charts": charts}


def render(a: Assessment, *, charts: bool = True) -> str:
    return environment().get_template("report.html.j2").render(**context(a, charts_on=charts))
