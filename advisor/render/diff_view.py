"""Terminal view of `recommend --diff`: what one changed answer does to the recommendation."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from advisor.render.text import answer_text, clean
from advisor.service.diff import Diff


def _e(value: object) -> str:
    return escape(clean(str(value)))


def _show(value: Any) -> str:
    return "unanswered" if value is None else answer_text(value)


def render(d: Diff, names: dict[str, str], console: Console) -> None:
    for qid, (before, after) in d.changes.items():
        console.print(f"[bold]{_e(qid)}[/]: {_e(_show(before))} -> {_e(_show(after))}")
    wb = names.get(d.winner_before or "", "nobody")
    wa = names.get(d.winner_after or "", "nobody")
    if d.winner_changed:
        console.print(f"winner: [bold]{_e(wb)}[/] -> [bold green]{_e(wa)}[/]")
    else:
        console.print(f"winner: [bold]{_e(wa)}[/] (unchanged)")

    def margin(label: str, value: float | None) -> str:
        return f"{label} ({value:.2f} points)" if value is not None else label

    console.print(f"margin: {margin(d.label_before, d.margin_before)} -> "
                  f"{margin(d.label_after, d.margin_after)}")
    table = Table(title="Ranking before -> after", title_justify="left")
    for col in ("candidate", "rank", "score", "change"):
        table.add_column(col, justify="left" if col == "candidate" else "right", no_wrap=True)
    for m in d.ranking:
        before = "vetoed" if m.vetoed_before else f"{m.score_before:.2f}"
        after = "vetoed" if m.vetoed_after else f"{m.score_after:.2f}"
        change = "" if m.vetoed_before or m.vetoed_after else f"{m.delta:+.2f}"
        table.add_row(_e(m.name), f"{m.rank_before} -> {m.rank_after}", f"{before} -> {after}",
                      change)
    console.print(table)
    for title, ids in (("Rules that now fire", d.rules_now_firing),
                       ("Rules that no longer fire", d.rules_no_longer_firing),
                       ("Rules whose effect changed", d.rules_changed_effect)):
        if ids:
            console.print(f"[bold]{title}[/]: " + _e(", ".join(ids)))
    if not (d.rules_now_firing or d.rules_no_longer_firing or d.rules_changed_effect):
        console.print("No rule fired differently.")
