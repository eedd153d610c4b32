"""Self-contained HTML decision record: one file, inline CSS, charts embedded, works offline.

Everything is rendered by jinja2 with autoescape on; nothing is marked safe except the chart
data URIs this module builds itself. Links are kept only for http/https URLs. A Content Security
Policy forbids scripts and every fetch except the embedded ``data:`` images.
"""

from __future__ import annotations

import re
from typing import Any

from advisor.decision.assessment import Assessment
from advisor.render import measured
from advisor.render.context import answer_rows
from advisor.render.robust_text import robustness_text
from advisor.render.text import answer_text, clean

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
    rob = a.robustness
    winner = a.name_of(a.winner)
    intervals = {iv.criterion: iv for iv in rob.weight_intervals}
    answers = [vars(row) for row in answer_rows(a)]
    drivers = []
    for w in a.weights:
        iv = intervals.get(w.criterion)
        drivers.append({
            "name": w.name, "default": w.default, "weight": w.weight,
            "low": iv.low if iv else None, "high": iv.high if iv else None,
            "below": a.name_of(iv.limited_by_low) if iv and iv.limited_by_low else None,
            "above": a.name_of(iv.limited_by_high) if iv and iv.limited_by_high else None,
            "rules": w.rules,
        })
    crit_names = {w.criterion: w.name for w in a.weights}
    table = measured.rows(a.probe)
    wls = measured.workloads(table)
    fastest = {}
    for wl in wls:
        best, ties = measured.fastest(table, wl)
        if best is not None:
            fastest[wl] = {"row": best.name, "ties": [t.name for t in ties]}
    scaling = measured.scaling(a.probe)
    charts: dict[str, Any] = {"contributions": None, "probe": [], "scaling": None}
    if charts_on:
        from advisor.render import charts as charts_mod

        crits = [w.criterion for w in a.weights]
        svg = charts_mod.contributions(
            [r.name for r in a.ranking], [crit_names[c] for c in crits],
            [[r.contributions[c] for c in crits] for r in a.ranking], [r.vetoed for r in a.ranking],
        )
        charts["contributions"] = charts_mod.data_uri(svg)
        charts["probe"] = probe_charts(table)
        charts["scaling"] = scaling_chart(scaling)
    sources: dict[str, dict[str, Any]] = {}
    for rule in a.fired_rules:
        for src in rule.sources:
            entry = sources.setdefault(src.url, {"title": src.title, "url": src.url,
                                                 "date": src.date, "rules": []})
            entry["rules"].append(rule.id)
    return {
        "a": a,
        "rob": rob,
        "winner": winner,
        "runner_up": a.name_of(rob.runner_up) if rob.runner_up else None,
        "answers": answers,
        "machine": [(k.removeprefix("machine."), answer_text(v)) for k, v in a.machine.items()],
        "host": measured.host_facts(a.probe),
        "probe_method": measured.method(a.probe),
        "quiet_warning": measured.quiet_warning(a.probe),
        "not_run": measured.not_run(a.probe),
        "probe_file": a.probe_file if a.probe else None,
        "drivers": drivers,
        "criteria": [(w.criterion, w.name) for w in a.weights],
        "names": {r.candidate: r.name for r in a.ranking},
        "flips": robustness_text(a).answer_flips,
        "words": robustness_text(a),
        "rows": table,
        "workloads": wls,
        "fastest": fastest,
        "charts": charts,
        "scaling": scaling,
        "sources": sorted(sources.values(), key=lambda s: s["title"].lower()),
        "crit_names": crit_names,
    }


def render(a: Assessment, *, charts: bool = True) -> str:
    return environment().get_template("report.html.j2").render(**context(a, charts_on=charts))
