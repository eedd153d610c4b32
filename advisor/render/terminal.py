"""Terminal view of an Assessment (rich). All input-derived text is escaped for rich markup and
stripped of control characters, so a hostile answers, rules or probe file cannot restyle the
terminal or inject escape sequences."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from advisor.decision.assessment import Assessment
from advisor.render import measured
from advisor.render.robust_text import robustness_text
from advisor.render.text import clean


def _e(value: object) -> str:
    return escape(clean(str(value)))



NARROW = 100  # below this many columns, tables use short labels and light borders
BAR_CELLS = 20


def _box(width: int):
    from rich import box

    return box.SIMPLE_HEAD if width < NARROW else box.HEAVY_HEAD


def _status(r) -> str:
    status = (
        "[red]vetoed[/] by " + _e(", ".join(v.rule for v in r.vetoes)) if r.vetoed else "[green]ok[/]"
    )
    if r.installed is False:  # never "ok": it was not measured
        status = ((status + "; ") if r.vetoed else "") + \
            "[yellow]not installed - performance not measured[/]"
    return status


def ranking_table(a: Assessment, width: int = 120) -> Table:
    """Names are never cut; the bar column is what yields on a narrow screen."""
    table = Table(title="Ranking (score = weighted mean rating, 0-10)", title_justify="left",
                  box=_box(width))
    names = [clean(r.name) for r in a.ranking]
    statuses = [_status(r) for r in a.ranking]
    name_w = max((len(n) for n in names), default=9)
    status_w = max((len(Text.from_markup(st).plain) for st in statuses), default=6)
    # fixed parts: rank, name, score, status, borders and padding; the bar gets what is left
    bar_cells = max(4, min(BAR_CELLS, width - (name_w + 1 + 5 + status_w + 17)))
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("candidate", no_wrap=True, min_width=name_w)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True, width=bar_cells)
    table.add_column("status", overflow="fold")
    # a vetoed candidate's score is its score before the veto; its bar never outgrows a live one
    live = [r.score for r in a.ranking if not r.vetoed]
    top = max(live or [r.score for r in a.ranking] or [1.0]) or 1.0
    for r, name, status in zip(a.ranking, names, statuses):
        style = "bold" if r.candidate == a.winner else ""
        bar = "" if r.vetoed else "#" * max(0, round(bar_cells * min(r.score, top) / top))
        # a vetoed candidate is out: no score that could read as beating a live one
        table.add_row(str(r.rank), Text(name, style=style), "-" if r.vetoed else f"{r.score:.2f}",
                      Text(bar, style="green"), status)
    return table


def breakdown_table(a: Assessment, width: int = 120) -> Table:
    """Criteria as rows, candidates as columns: each column sums to the candidate's score.
    On a narrow screen the labels are the short ids (``ease_of_use``, ``pytorch``)."""
    narrow = width < NARROW
    table = Table(title="Score breakdown (points = rating x weight)", title_justify="left",
                  box=_box(width), padding=(0, 0) if narrow else (0, 1), show_edge=not narrow)
    table.add_column("criterion", no_wrap=narrow)
    table.add_column("weight", justify="right", no_wrap=True)
    for r in a.ranking:
        table.add_column(clean(r.candidate if narrow else r.name), justify="right", no_wrap=True)
    for w in a.weights:
        table.add_row(_e(w.criterion if narrow else w.name), f"{w.weight:.0%}",
                      *[f"{r.contributions[w.criterion]:.2f}" for r in a.ranking])
    table.add_row("[bold]score[/]", "", *["[red]vetoed[/]" if r.vetoed else f"[bold]{r.score:.2f}[/]"
                                        for r in a.ranking])
    return table


def weights_table(a: Assessment, width: int = 120) -> Table:
    narrow = width < NARROW
    table = Table(title="Decision drivers and how far each weight may move", title_justify="left",
                  box=_box(width))
    table.add_column("criterion", no_wrap=narrow)
    table.add_column("weight", justify="right", no_wrap=True)
    table.add_column(f"{a.name_of(a.winner)} wins for" if narrow
                     else f"{a.name_of(a.winner)} still wins for", justify="right")
    table.add_column("shifted by", overflow="fold")
    intervals = {w.criterion: w for w in a.robustness.weight_intervals}
    for w in a.weights:
        iv = intervals.get(w.criterion)
        span = f"{iv.low:.0%} - {iv.high:.0%}" if iv else "-"
        table.add_row(_e(w.criterion if narrow else w.name), f"{w.weight:.0%}", span,
                      _e(", ".join(w.rules)) or "-")
    return table


def _item(console: Console, bullet: str, markup: str, indent: int = 2) -> None:
    """One list item whose wrapped lines stay indented under its text."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=indent + len(bullet), justify="right", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(bullet, Text.from_markup(markup))
    console.print(grid)


def deploy_table(dm: measured.DeployMatrix) -> Table:
    """Target x framework: the best measured path per (row, workload) and target."""
    table = Table(title="Deployment paths measured on the probed machine", title_justify="left",
                  box=None, padding=(0, 1))
    table.add_column("row")
    table.add_column("workload")
    for target in dm.targets:
        table.add_column(target, overflow="fold")
    for row, workload in dm.lines():
        cells = []
        for target in dm.targets:
            best = dm.best(row, workload, target)
            if best is None:
                cells.append("-")
            elif best.status == "ok":
                cells.append(f"[green]ok[/] {_e(best.format)}: {_e(best.numbers())}")
            else:
                style = "red" if best.status in ("failed", "timeout") else "dim"
                cells.append(f"[{style}]{_e(best.status)}[/] {_e(best.format)}")
        table.add_row(_e(row), _e(workload), *cells)
    return table


def render(a: Assessment, console: Console, *, verbose: bool = False) -> None:  # noqa: C901
    words = robustness_text(a)
    if a.winner is None:
        console.print(Panel("[red]Every candidate was vetoed[/]: see the reasons below.",
                            title="advisor"))
    else:
        lines = [Text.from_markup(f"[bold green]{_e(words.headline)}[/]")]
        for extra in (words.probability, words.evidence):
            if extra:
                lines.append(Text(clean(extra)))
        lines.append(Text(f"knowledge base {clean(a.kb_version)} - advisor {a.advisor_version} - {a.generated}", style="dim"))
        console.print(Panel(Group(*lines), title="Recommendation", expand=False))
        if words.separators:
            console.print("[bold]What would separate them[/]")
            for line in words.separators:
                _item(console, "-", f"if {_e(line.change)}: {_e(line.winner)} {_e(line.margin)}")
    if a.speed_caveat:
        console.print(Panel(Text(clean(a.speed_caveat)), title="Measured speed moved no score",
                            border_style="yellow", expand=False))
    console.print(ranking_table(a, console.width))
    console.print(breakdown_table(a, console.width))
    if a.why:
        console.print("[bold]Why[/]")
        for reason in a.why:
            _item(console, "+", f"{_e(reason.text)}")
    if a.why_not:
        console.print("[bold]Why not the others[/]")
        for wn in a.why_not:
            name = _e(a.name_of(wn.candidate))
            if wn.vetoed_by:
                for v in wn.vetoed_by:
                    _item(console, "-", f"{name}: vetoed by {_e(v.rule)}: {_e(v.reason)}")
            elif wn.reasons:
                _item(console, "-", f"{name} ({wn.behind_by:.2f} behind): " + _e("; ".join(r.text for r in wn.reasons)))
    console.print(weights_table(a, console.width))
    if words.answer_flips:
        console.print("[bold]Answers that would change the winner[/] (largest new lead first)")
        for line in words.answer_flips[: (None if verbose else 8)]:
            _item(console, "-", f"if {_e(line.change)}: {_e(line.winner)} {_e(line.margin)}")
        if not verbose and len(words.answer_flips) > 8:
            console.print(f"  ... and {len(words.answer_flips) - 8} more (--format json or markdown lists all)")
    else:
        console.print("[bold]No single changed answer changes the winner.[/]")
    if words.project_flips:
        shown = ", ".join(f"{line.change} -> {line.winner}" for line in words.project_flips[:4])
        more = f" and {len(words.project_flips) - 4} more" if len(words.project_flips) > 4 else ""
        console.print(f"[dim]Another project (data type, task) would go elsewhere: {_e(shown)}{more}[/]")
    if a.measurements:
        console.print("[bold]Measured on the probed machine[/]")
        for m in a.measurements:
            console.print(f"  {_e(a.name_of(m.candidate))}: {_e(m.detail)}"
                          + (f" -> {_e(m.criterion)} {m.rating:+.2f}" if m.rating else ""))
    for measurement_note in a.measurement_notes:
        console.print(f"  [dim]{_e(measurement_note)}[/]")
    dm = measured.deploy(a.probe)
    if dm is not None:
        console.print(deploy_table(dm))
    if a.notes:
        console.print("[bold]Notes[/]")
        for note in a.notes:
            who = f"{a.name_of(note.candidate)}: " if note.candidate else ""
            _item(console, "*", f"{_e(who + note.text)}")
    console.print(f"[bold]Rules that fired[/] ({len(a.fired_rules)} of {len(a.trace)})")
    for rule in a.fired_rules:
        flag = " [yellow](unconfirmed)[/]" if rule.unconfirmed else ""
        console.print(f"  {_e(rule.id)} [dim]{rule.confidence}[/]{flag}: {_e('; '.join(rule.effects))}")
        if verbose:
            for src in rule.sources:
                console.print(f"      [dim]{_e(src.title)} ({_e(src.date)}) {_e(src.url)}[/]")
    if a.unanswered:
        console.print(f"[yellow]Unanswered (treated as unknown):[/] {_e(', '.join(a.unanswered))}")
    for qid, skipped in a.not_asked.items():
        console.print(f"[dim]{_e(qid)}: {_e(skipped)}[/]")
    if verbose:
        console.print("[bold]Labels[/]")
        for label, text in words.definitions:
            console.print(f"  [dim]{_e(label)}: {_e(text)}[/]")
    render_next_steps(a, console, verbose=verbose)


def render_next_steps(a: Assessment, console: Console, *, verbose: bool = False) -> None:
    """What to do next with the winner on this project (knowledge-base data with sources)."""
    from advisor.decision import next_steps

    steps = next_steps.for_winner(a)
    if steps is None:
        return
    console.print(f"[bold]Next steps with {_e(a.name_of(steps.candidate))}[/]")
    hw = "" if steps.install.hardware == "default" else f" (for {_e(steps.install.hardware)})"
    _item(console, "-", f"install{hw}: {_e(steps.install.command)}"
          + (f" - {_e(steps.install.note)}" if steps.install.note else ""))
    for d in steps.deploy:
        _item(console, "-", f"{_e(d.target)}: export with {_e(d.export)}; run it with {_e(d.serve)}")
    for t in steps.missing_targets:
        _item(console, "-", f"{_e(t)}: no known route for {_e(a.name_of(steps.candidate))}")
    if verbose:
        parts: list[Any] = [steps.install, *steps.deploy]
        seen = {s.url: s for part in parts for s in part.sources}
        for src in seen.values():
            console.print(f"      [dim]{_e(src.title)} ({_e(src.date)}) {_e(src.url)}[/]")
    console.print("  starter:")
    for line in clean(steps.starter).splitlines():
        console.print(Text("    " + line, style="cyan", overflow="fold", no_wrap=False))


def _effects_on(effects: list[str], candidate: str) -> list[str]:
    """The parts of a rule's effects that touch one candidate ("deployment: jax -1", not the
    change to every other candidate); a weight change touches everyone."""
    import re

    out = []
    for text in effects:
        if text.startswith("veto "):
            if text.split(" ", 2)[1].rstrip(":") == candidate:
                out.append(text)
        elif text.startswith("weight of "):
            out.append(text + " (every candidate)")
        elif text.startswith("note"):
            m = re.match(r"note \(([^)]*)\):", text)
            if m is None or m.group(1) == candidate:
                out.append(text)
        elif ": " in text:
            criterion, _, changes = text.partition(": ")
            mine = [c for c in changes.split(", ") if c.split(" ")[0] == candidate]
            if mine:
                out.append(f"{criterion}: {', '.join(mine)}")
    return out or ["(other candidates only)"]


def render_explain(a: Assessment, candidate: str, console: Console) -> None:
    """Every rule considered for one candidate: did it hold, on which values, what it added."""
    result = a.result(candidate)
    console.print(f"[bold]{_e(result.name)}[/]: score {result.score:.3f}, rank {result.rank}"
                  + (" [red](vetoed)[/]" if result.vetoed else ""))
    table = Table(title="Score parts", title_justify="left")
    for col in ("criterion", "from", "rating", "x weight", "points"):
        table.add_column(col, justify="right" if col in ("rating", "x weight", "points") else "left")
    weights = {w.criterion: w.weight for w in a.weights}
    for part in result.parts:
        table.add_row(part.criterion, _e(part.source), f"{part.rating:+.2f}",
                      f"{weights[part.criterion]:.3f}", f"{part.points:+.3f}")
    table.add_row("[bold]total[/]", "", "", "", f"[bold]{result.score:.3f}[/]")
    console.print(table)
    fired = {r.id: r for r in a.fired_rules}
    trace = Table(title="Every rule considered", title_justify="left")
    for col in ("rule", "held", "values read", f"effect on {candidate}"):
        trace.add_column(col)
    for t in a.trace:
        effect = "; ".join(_effects_on(fired[t.id].effects, candidate)) if t.id in fired else "-"
        reads = ", ".join(f"{k}={v if v is not None else 'unknown'}" for k, v in t.reads.items())
        colour = {"true": "green", "false": "dim", "unknown": "yellow"}[t.result]
        trace.add_row(_e(t.id), f"[{colour}]{t.result}[/]", _e(reads), _e(effect))
    console.print(trace)
