"""Charts for the HTML reports: horizontal bars with whiskers, written as SVG text.

No plotting library: the charts are a few rectangles, lines and labels, so they are drawn here as
SVG directly - no 1.2 s matplotlib import, nothing to install for the HTML report, and the same
input always gives the same bytes. Every label comes from input files and is escaped
(``html.escape``): it is text, never markup nor a formula. The HTML renderer embeds the SVG as an
``<img>`` data URI, where a browser never runs scripts nor fetches anything.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from html import escape

PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3",
           "#8C8C8C", "#CCB974", "#64B5CD"]
LABEL_MAX = 32
# Charts per report are bounded: the first workloads get one each; the tables show every
# workload (issue 15, item 6).
MAX_WORKLOAD_CHARTS = 8
XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
WIDTH = 760
FONT = 11
BAR = 14  # height of one bar, px
GAP = 10  # between groups, px
CHAR = 6.2  # average advance of one character at FONT px, for layout


def _label(value: object, limit: int = LABEL_MAX) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _t(value: object, limit: int = LABEL_MAX) -> str:
    """A label as SVG text content: shortened, escaped."""
    return escape(_label(value, limit), quote=True)


def _n(x: float) -> str:
    """A coordinate, rounded so that output is deterministic and short."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _nice_max(value: float) -> float:
    """The axis end: 1, 2, 2.5 or 5 times a power of ten, at or above ``value``."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover


def _tick_text(value: float, top: float) -> str:
    if top >= 1000:
        return f"{value:,.0f}"
    if top >= 10:
        return f"{value:.0f}"
    return f"{value:.2g}" if value else "0"


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _bars(
    groups: Sequence[str],
    series: Sequence[str],
    values: Sequence[Sequence[float | None]],
    below: Sequence[Sequence[float | None]] | None,
    above: Sequence[Sequence[float | None]] | None,
    *,
    title: str,
    xlabel: str,
    value_text,
    colours: Sequence[str],
    refs: Sequence[tuple[float, str, str]] = (),
    legend: bool = True,
) -> str:
    """Grouped horizontal bars, one group per row label and one bar per series, with optional
    whiskers (``below``/``above``: distances from the bar's end) and vertical reference lines
    (value, dash pattern, colour)."""
    n_g, n_s = len(groups), max(1, len(series))
    label_w = min(LABEL_MAX, max((len(_label(g)) for g in groups), default=4)) * CHAR + 12
    plot_x, plot_w = label_w, WIDTH - label_w - 70
    top_y = 28 if title else 8
    group_h = n_s * BAR + GAP
    plot_h = n_g * group_h
    ends = [0.0] + [r for r, _, _ in refs]
    for g in range(n_g):
        for s in range(n_s):
            v = values[g][s]
            if v is None or not math.isfinite(v):
                continue
            hi = (above[g][s] if above is not None else None) or 0.0
            ends.append(v + (hi if math.isfinite(hi) else 0.0))
    x_max = _nice_max(max(ends) * 1.05)

    def x(v: float) -> float:
        return plot_x + plot_w * max(0.0, min(v, x_max)) / x_max

    legend_rows = math.ceil(n_s / 3) if legend and n_s > 1 else 0
    height = top_y + plot_h + 40 + legend_rows * 16
    out = [XML_HEAD + f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{_n(height)}" '
           f'viewBox="0 0 {WIDTH} {_n(height)}" font-family="sans-serif" font-size="{FONT}" '
           'role="img">']
    out.append(f'<rect width="{WIDTH}" height="{_n(height)}" fill="#ffffff"/>')
    if title:
        out.append(f'<text x="4" y="16" font-size="{FONT + 2}" font-weight="bold">'
                   f'{_t(title, 90)}</text>')
    # axis: ticks and grid
    for i in range(6):
        tv = x_max * i / 5
        tx = x(tv)
        out.append(f'<line x1="{_n(tx)}" y1="{_n(top_y)}" x2="{_n(tx)}" '
                   f'y2="{_n(top_y + plot_h)}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{_n(tx)}" y="{_n(top_y + plot_h + 13)}" text-anchor="middle" '
                   f'fill="#444444">{escape(_tick_text(tv, x_max))}</text>')
    out.append(f'<line x1="{_n(plot_x)}" y1="{_n(top_y)}" x2="{_n(plot_x)}" '
               f'y2="{_n(top_y + plot_h)}" stroke="#333333"/>')
    for g, group in enumerate(groups):
        gy = top_y + g * group_h + GAP / 2
        out.append(f'<text x="{_n(plot_x - 6)}" y="{_n(gy + n_s * BAR / 2 + 4)}" '
                   f'text-anchor="end">{_t(group)}</text>')
        for s in range(n_s):
            v = values[g][s]
            if v is None or not math.isfinite(v):
                continue
            by = gy + s * BAR
            colour = colours[s % len(colours)]
            out.append(f'<rect x="{_n(plot_x)}" y="{_n(by + 1)}" width="{_n(x(v) - plot_x)}" '
                       f'height="{BAR - 2}" fill="{colour}"/>')
            lo = (below[g][s] if below is not None else None) or 0.0
            hi = (above[g][s] if above is not None else None) or 0.0
            lo = lo if math.isfinite(lo) else 0.0
            hi = hi if math.isfinite(hi) else 0.0
            end = x(v + hi)
            cy = by + BAR / 2
            if lo or hi:
                start = x(max(0.0, v - lo))
                out.append(f'<line x1="{_n(start)}" y1="{_n(cy)}" x2="{_n(end)}" y2="{_n(cy)}" '
                           'stroke="#333333"/>')
                for cx in (start, end):
                    out.append(f'<line x1="{_n(cx)}" y1="{_n(cy - 4)}" x2="{_n(cx)}" '
                               f'y2="{_n(cy + 4)}" stroke="#333333"/>')
            out.append(f'<text x="{_n(max(end, x(v)) + 4)}" y="{_n(cy + 4)}" font-size="{FONT - 1}" '
                       f'fill="#333333">{escape(value_text(v))}</text>')
    for value, dash, colour in refs:
        rx = x(value)
        out.append(f'<line x1="{_n(rx)}" y1="{_n(top_y)}" x2="{_n(rx)}" y2="{_n(top_y + plot_h)}" '
                   f'stroke="{colour}" stroke-dasharray="{dash}"/>')
    out.append(f'<text x="{_n(plot_x + plot_w / 2)}" y="{_n(top_y + plot_h + 28)}" '
               f'text-anchor="middle" fill="#444444">{_t(xlabel, 140)}</text>')
    if legend_rows:
        for s, name in enumerate(series):
            lx = plot_x + (s % 3) * 200
            ly = top_y + plot_h + 38 + (s // 3) * 16
            out.append(f'<rect x="{_n(lx)}" y="{_n(ly)}" width="10" height="10" '
                       f'fill="{colours[s % len(colours)]}"/>')
            out.append(f'<text x="{_n(lx + 14)}" y="{_n(ly + 9)}">{_t(name, 34)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _halves(iqrs: Sequence[Sequence[float | None]]) -> list[list[float | None]]:
    return [[None if v is None else v / 2 for v in row] for row in iqrs]


def throughput(
    groups: Sequence[str],
    series: Sequence[str],
    medians: Sequence[Sequence[float | None]],
    iqrs: Sequence[Sequence[float | None]],
    title: str,
) -> str:
    """Grouped horizontal bars: median samples/s per group (framework row or machine) and series,
    with the interquartile range as whiskers."""
    half = _halves(iqrs)
    return _bars(groups, series, medians, half, half, title=title,
                 xlabel="training samples per second (median of timed blocks; whiskers: IQR)",
                 value_text=lambda v: f"{v:,.0f}", colours=PALETTE)


def first_epoch(
    rows: Sequence[str],
    workloads: Sequence[str],
    seconds: Sequence[Sequence[float | None]],
    import_s: Sequence[float | None],
) -> str:
    """Seconds before training is under way: import time plus the first epoch (compile/trace)."""
    series = ["import"] + [f"first epoch, {w}" for w in workloads]
    values = [[import_s[r], *seconds[r]] for r in range(len(rows))]
    colours = [PALETTE[(s + 3) % len(PALETTE)] for s in range(len(series))]
    return _bars(rows, series, values, None, None, title="",
                 xlabel="seconds (first epoch includes tracing / compilation)",
                 value_text=lambda v: f"{v:.2f}s", colours=colours)


def scaling_efficiency(
    groups: Sequence[str],
    series: Sequence[str],
    medians: Sequence[Sequence[float | None]],
    lows: Sequence[Sequence[float | None]],
    highs: Sequence[Sequence[float | None]],
    title: str,
) -> str:
    """Grouped horizontal bars of scaling efficiency (1.0 = ideal, dashed; 0.5 dotted) per
    framework row and series, whiskers from the efficiency interval."""
    below = [[None if m is None or lo is None else max(0.0, m - lo) for m, lo in zip(mr, lr)]
             for mr, lr in zip(medians, lows)]
    above = [[None if m is None or hi is None else max(0.0, hi - m) for m, hi in zip(mr, hr)]
             for mr, hr in zip(medians, highs)]
    return _bars(groups, series, medians, below, above, title=title,
                 xlabel="efficiency = throughput_N / (N × throughput_1); dashed: ideal 1.0; "
                        "dotted: 0.5; whiskers: interval",
                 value_text=lambda v: f"{v:.2f}", colours=PALETTE,
                 refs=((1.0, "5,3", "#555555"), (0.5, "2,2", "#B00020")))


def contributions(
    candidates: Sequence[str],
    criteria: Sequence[str],
    points: Sequence[Sequence[float]],
    vetoed: Sequence[bool],
) -> str:
    """Stacked horizontal bars: each candidate's score split into its criteria's points, on the
    0-10 scale. A vetoed candidate is out: it gets no bar (one that could look longer than a
    live candidate's), only the word."""
    n = len(candidates)
    label_w = min(LABEL_MAX, max((len(_label(c)) for c in candidates), default=4)) * CHAR + 12
    plot_x, plot_w = label_w, WIDTH - label_w - 70
    top_y, row_h = 8, 24
    plot_h = n * row_h
    legend_rows = math.ceil(len(criteria) / 3)
    height = top_y + plot_h + 40 + legend_rows * 16
    x_max = 10.0

    def x(v: float) -> float:
        return plot_x + plot_w * max(0.0, min(v, x_max)) / x_max

    out = [XML_HEAD + f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{_n(height)}" '
           f'viewBox="0 0 {WIDTH} {_n(height)}" font-family="sans-serif" font-size="{FONT}" '
           'role="img">',
           f'<rect width="{WIDTH}" height="{_n(height)}" fill="#ffffff"/>']
    for i in range(6):
        tv = x_max * i / 5
        out.append(f'<line x1="{_n(x(tv))}" y1="{top_y}" x2="{_n(x(tv))}" '
                   f'y2="{_n(top_y + plot_h)}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{_n(x(tv))}" y="{_n(top_y + plot_h + 13)}" text-anchor="middle" '
                   f'fill="#444444">{tv:.0f}</text>')
    for i, name in enumerate(candidates):
        y = top_y + i * row_h + 4
        out.append(f'<text x="{_n(plot_x - 6)}" y="{_n(y + 12)}" text-anchor="end">{_t(name)}</text>')
        if vetoed[i]:
            out.append(f'<text x="{_n(plot_x + 4)}" y="{_n(y + 12)}" fill="#B00020">vetoed</text>')
            continue
        left = 0.0
        for j in range(len(criteria)):
            width = max(0.0, points[i][j]) if math.isfinite(points[i][j]) else 0.0
            if width > 0:
                out.append(f'<rect x="{_n(x(left))}" y="{_n(y)}" width="{_n(x(left + width) - x(left))}" '
                           f'height="16" fill="{PALETTE[j % len(PALETTE)]}" stroke="#ffffff" '
                           'stroke-width="0.6"/>')
            left += width
        out.append(f'<text x="{_n(x(left) + 4)}" y="{_n(y + 12)}" font-size="{FONT - 1}" '
                   f'fill="#222222">{left:.2f}</text>')
    out.append(f'<line x1="{_n(plot_x)}" y1="{top_y}" x2="{_n(plot_x)}" '
               f'y2="{_n(top_y + plot_h)}" stroke="#333333"/>')
    out.append(f'<text x="{_n(plot_x + plot_w / 2)}" y="{_n(top_y + plot_h + 28)}" '
               'text-anchor="middle" fill="#444444">score (weighted mean rating, 0-10): one '
               'colour per criterion</text>')
    for j, crit in enumerate(criteria):
        lx = plot_x + (j % 3) * 200
        ly = top_y + plot_h + 38 + (j // 3) * 16
        out.append(f'<rect x="{_n(lx)}" y="{_n(ly)}" width="10" height="10" '
                   f'fill="{PALETTE[j % len(PALETTE)]}"/>')
        out.append(f'<text x="{_n(lx + 14)}" y="{_n(ly + 9)}">{_t(crit, 34)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
