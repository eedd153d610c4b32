"""Charts for the HTML reports, drawn with matplotlib (Agg, SVG output).

matplotlib is imported inside the functions, never at module import, so the CLI stays fast.
Labels come from input files: mathtext is switched off (a ``$`` in a probe row name is text, not a
formula), text is drawn as glyph paths (no text nodes in the SVG), and the SVG is embedded by the
HTML renderer as an ``<img>`` data URI, where a browser never runs scripts nor fetches anything.
"""

from __future__ import annotations

import base64
import io
from contextlib import contextmanager
from typing import Iterator, Sequence

PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3",
           "#8C8C8C", "#CCB974", "#64B5CD"]
LABEL_MAX = 32
# Charts per report are bounded (a chart costs about a second to draw): the first workloads get
# one each; the tables show every workload (issue 15, item 6).
MAX_WORKLOAD_CHARTS = 8


def _label(value: str) -> str:
    value = " ".join(str(value).split())
    return value if len(value) <= LABEL_MAX else value[: LABEL_MAX - 1] + "…"


@contextmanager
def _figure(width: float, height: float) -> Iterator[tuple[object, object]]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    rc = {
        "svg.fonttype": "path",
        "svg.hashsalt": "advisor",
        "text.parse_math": False,
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
    with matplotlib.rc_context(rc):
        fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
        try:
            yield fig, ax
        finally:
            plt.close(fig)


def _svg(fig: object) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "advisor"})  # type: ignore[attr-defined]
    return buf.getvalue()


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def contributions(
    candidates: Sequence[str],
    criteria: Sequence[str],
    points: Sequence[Sequence[float]],
    vetoed: Sequence[bool],
) -> str:
    """Stacked horizontal bars: each candidate's score split into its criteria's points."""
    n = len(candidates)
    with _figure(8.0, 1.2 + 0.45 * n + 0.25 * ((len(criteria) + 2) // 3)) as (fig, ax):
        y = list(range(n))[::-1]
        left = [0.0] * n
        for j, crit in enumerate(criteria):
            widths = [max(0.0, points[i][j]) for i in range(n)]
            ax.barh(y, widths, left=left, color=PALETTE[j % len(PALETTE)], label=_label(crit),
                    edgecolor="white", linewidth=0.6, height=0.62)
            left = [a + b for a, b in zip(left, widths)]
        for i in range(n):
            tag = f"{left[i]:.2f}" + ("  vetoed" if vetoed[i] else "")
            ax.text(left[i] + 0.08, y[i], tag, va="center", fontsize=8,
                    color="#B00020" if vetoed[i] else "#222222")
        ax.set_yticks(y, [_label(c) for c in candidates])
        ax.set_xlim(0, max(10.0, max(left, default=0) + 1.2))
        ax.set_xlabel("score (weighted mean rating, 0-10): one colour per criterion")
        fig.legend(loc="outside lower center", ncol=3, frameon=False, fontsize=8)
        return _svg(fig)


def throughput(
    groups: Sequence[str],
    series: Sequence[str],
    medians: Sequence[Sequence[float | None]],
    iqrs: Sequence[Sequence[float | None]],
    title: str,
) -> str:
    """Grouped horizontal bars: median samples/s per group (framework row or machine) and series,
    with the interquartile range as error bars."""
    n_g, n_s = len(groups), max(1, len(series))
    height = 0.8 / n_s
    with _figure(8.0, 1.3 + 0.32 * n_g * n_s + 0.2 * n_s) as (fig, ax):
        for s, name in enumerate(series):
            ys, xs, errs = [], [], []
            for g in range(n_g):
                m = medians[g][s]
                if m is None:
                    continue
                ys.append(n_g - 1 - g + 0.4 - height * (s + 0.5))
                xs.append(m)
                errs.append(max(0.0, iqrs[g][s] or 0.0) / 2)  # a hostile file: never < 0
            if not xs:
                continue
            ax.barh(ys, xs, height=height * 0.9, xerr=errs, capsize=3,
                    color=PALETTE[s % len(PALETTE)], label=_label(name),
                    error_kw={"elinewidth": 1, "ecolor": "#333333"})
            for y_, x_, e_ in zip(ys, xs, errs):
                ax.text(x_ + e_, y_, f"  {x_:,.0f}", va="center", fontsize=7, color="#333333")
        ax.set_yticks([n_g - 1 - g for g in range(n_g)], [_label(g) for g in groups])
        ax.set_xlabel("training samples per second (median of timed blocks; whiskers: IQR)")
        ax.set_title(" ".join(str(title).split())[:90], loc="left", fontsize=10)
        ax.margins(x=0.15)
        if len(series) > 1:
            ax.legend(frameon=False, fontsize=8, loc="best")
        return _svg(fig)


def first_epoch(
    rows: Sequence[str],
    workloads: Sequence[str],
    seconds: Sequence[Sequence[float | None]],
    import_s: Sequence[float | None],
) -> str:
    """Seconds before training is under way: import time plus the first epoch (compile/trace)."""
    n = len(rows)
    series = ["import"] + list(workloads)
    height = 0.8 / len(series)
    with _figure(8.0, 1.3 + 0.3 * n * len(series)) as (fig, ax):
        for s, name in enumerate(series):
            ys, xs = [], []
            for r in range(n):
                v = import_s[r] if s == 0 else seconds[r][s - 1]
                if v is None:
                    continue
                ys.append(n - 1 - r + 0.4 - height * (s + 0.5))
                xs.append(v)
            if xs:
                ax.barh(ys, xs, height=height * 0.9, color=PALETTE[(s + 3) % len(PALETTE)],
                        label="import" if s == 0 else f"first epoch, {_label(name)}")
                for y_, x_ in zip(ys, xs):
                    ax.text(x_, y_, f" {x_:.2f}s", va="center", fontsize=7, color="#333333")
        ax.set_yticks([n - 1 - r for r in range(n)], [_label(r) for r in rows])
        ax.set_xlabel("seconds (first epoch includes tracing / compilation)")
        ax.margins(x=0.15)
        ax.legend(frameon=False, fontsize=8, loc="best")
        return _svg(fig)


def scaling_efficiency(
    groups: Sequence[str],
    series: Sequence[str],
    medians: Sequence[Sequence[float | None]],
    lows: Sequence[Sequence[float | None]],
    highs: Sequence[Sequence[float | None]],
    title: str,
) -> str:
    """Grouped horizontal bars of scaling efficiency (1.0 = ideal, dashed) per framework row and
    series (one probe, or one machine/node each), whiskers from the efficiency interval."""
    n_g, n_s = len(groups), max(1, len(series))
    height = 0.8 / n_s
    top = 1.0
    with _figure(8.0, 1.3 + 0.32 * n_g * n_s + 0.2 * n_s) as (fig, ax):
        for s, name in enumerate(series):
            ys, xs, err_lo, err_hi = [], [], [], []
            for g in range(n_g):
                m = medians[g][s]
                if m is None:
                    continue
                lo = lows[g][s] if lows[g][s] is not None else m
                hi = highs[g][s] if highs[g][s] is not None else m
                ys.append(n_g - 1 - g + 0.4 - height * (s + 0.5))
                xs.append(m)
                err_lo.append(max(0.0, m - lo))
                err_hi.append(max(0.0, hi - m))
                top = max(top, hi)
            if not xs:
                continue
            ax.barh(ys, xs, height=height * 0.9, xerr=[err_lo, err_hi], capsize=3,
                    color=PALETTE[s % len(PALETTE)], label=_label(name),
                    error_kw={"elinewidth": 1, "ecolor": "#333333"})
            for y_, x_, e_ in zip(ys, xs, err_hi):
                ax.text(x_ + e_, y_, f"  {x_:.2f}", va="center", fontsize=7, color="#333333")
        ax.axvline(1.0, color="#555555", linestyle="--", linewidth=1)
        ax.axvline(0.5, color="#B00020", linestyle=":", linewidth=1)
        ax.set_yticks([n_g - 1 - g for g in range(n_g)], [_label(g) for g in groups])
        ax.set_xlim(0, top * 1.15)
        ax.set_xlabel("efficiency = throughput_N / (N × throughput_1)   dashed: ideal 1.0   "
                      "dotted: 0.5   whiskers: interval")
        ax.set_title(" ".join(str(title).split())[:90], loc="left", fontsize=10)
        if len(series) > 1:
            ax.legend(frameon=False, fontsize=8, loc="best")
        return _svg(fig)
