"""Markdown view of an Assessment, shaped like an architecture decision record.

Every string that came from an input file goes through ``md()``: it renders as literal text.
"""

from __future__ import annotations

from advisor.decision.assessment import Assessment
from advisor.render import measured
from advisor.render.context import answer_rows
from advisor.render.robust_text import robustness_text
from advisor.render.text import answer_text, md, md_code, md_link


def _probe_table(rows: list[measured.Row]) -> str:
    """Every probe row: status, version, and per workload the median samples/s with its spread."""
    wls = measured.workloads(rows)
    head = "| row | status | version | import s | " + " | ".join(
        f"{md(wl)} samples/s (median ± IQR/2, n) | first epoch s | accuracy" for wl in wls) + " |"
    lines = [head, "|---|---|---|---:|" + "---:|---:|---:|" * len(wls)]

    def f(v: float | None, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    for r in rows:
        status = md(r.status) + (f" ({md(r.error)})" if r.error else "")
        cells = []
        for wl in wls:
            c = r.cells.get(wl)
            if c is None:
                cells += ["-", "-", "-"]
                continue
            spread = md(c.spread_text()) + (" noisy" if c.noisy else "")
            cells += [spread, f(c.first_epoch_s, ".2f"), f(c.accuracy, ".3f")]
        lines.append(f"| {md_code(r.name)} | {status} | {md(r.version) or '-'} | {f(r.import_s, '.2f')} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def scaling_table(sc: measured.Scaling) -> str:
    """The scaling probe: per row, 1 vs N workers, speed-up, efficiency with its interval."""
    n = sc.world_size or "N"
    lines = [f"| row | status | engine | 1 worker samples/s | {n} workers samples/s | speed-up | "
             "efficiency [interval] | start s |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in sc.rows:
        status = md(r.status) + (f" ({md(r.error)})" if r.error else "")
        if r.flags:
            status += " " + md(", ".join(r.flags))
        one = md(r.one.spread_text()) if r.one else "-"
        many = md(r.many.spread_text()) if r.many else "-"
        speed = f"{r.speedup:.2f}x" if r.speedup is not None else "-"
        start = f"{r.start_s:.1f}" if r.start_s is not None else "-"
        lines.append(f"| {md_code(r.name)} | {status} | {md(r.engine) or '-'} | {one} | {many} | "
                     f"{speed} | {md(r.efficiency_text())} | {start} |")
    return "\n".join(lines) + "\n"




def render(a: Assessment) -> str:
    rob = a.robustness
    out: list[str] = []
    w = out.append
    winner = a.name_of(a.winner)
    w(f"# Framework decision: {md(winner)}")
    w("")
    w(f"- Status: recommended by advisor {md(a.advisor_version)}, knowledge base {md(a.kb_version)}")
    w(f"- Date: {md(a.generated)}")
    words = robustness_text(a)
    w(f"- Outcome: **{md(words.headline)}**")
    if words.probability:
        w(f"- {md(words.probability)}")
    if words.evidence:
        w(f"- Evidence: {md(words.evidence)}")
    w("")
    w("## Context")
    w("")
    w("| question | answer | from |")
    w("|---|---|---|")
    for row in answer_rows(a, arrow="->"):
        if row.value is None:
            w(f"| {md(row.question)} | *unanswered (unknown)* | |")
        else:
            w(f"| {md(row.question)} | {md(row.value)} | {md(row.origin)} |")
    if a.machine:
        w("")
        w("Machine: " + md(", ".join(f"{k.removeprefix('machine.')}={answer_text(v)}" for k, v in a.machine.items())))
    host = measured.host_facts(a.probe)
    if host:
        w("")
        w("Probed machine" + (f" ({md_code(a.probe_file)})" if a.probe and a.probe_file else "") + ":")
        w("")
        for label, value in host:
            w(f"- {md(label)}: {md(value)}")
    w("")
    w("## Decision drivers")
    w("")
    intervals = {iv.criterion: iv for iv in rob.weight_intervals}
    w(f"| criterion | default weight | effective weight | {md(winner)} still wins for | shifted by |")
    w("|---|---:|---:|---:|---|")
    for wt in a.weights:
        iv = intervals.get(wt.criterion)
        span = f"{iv.low:.0%} to {iv.high:.0%}" if iv else "-"
        w(f"| {md(wt.name)} | {wt.default:g} | {wt.weight:.1%} | {span} | {md(', '.join(wt.rules)) or '-'} |")
    w("")
    w("## Options considered")
    w("")
    crits = [wt.criterion for wt in a.weights]
    w("| rank | candidate | score | " + " | ".join(md(c) for c in crits) + " | status |")
    w("|---:|---|---:|" + "---:|" * len(crits) + "---|")
    for r in a.ranking:
        status = "vetoed: " + md("; ".join(v.rule for v in r.vetoes)) if r.vetoed else "ok"
        if r.installed is False:
            status += " (not installed on the probed machine)"
        cells = " | ".join(f"{r.contributions[c]:.2f}" for c in crits)
        w(f"| {r.rank} | {md(r.name)} | {r.score:.2f} | {cells} | {status} |")
    w("")
    w("Each cell is the criterion's points: rating x effective weight; a row's cells sum to its score.")
    w("")
    w("## Why " + md(winner))
    w("")
    for reason in a.why:
        w(f"- {md(reason.text)}")
    if not a.why:
        w("- Its general standing (base ratings) carried it; no rule favoured it specifically.")
    w("")
    w("## Why not the others")
    w("")
    for wn in a.why_not:
        name = md(a.name_of(wn.candidate))
        if wn.vetoed_by:
            for v in wn.vetoed_by:
                w(f"- **{name}** was vetoed by {md_code(v.rule)}: {md(v.reason)}")
        elif wn.reasons:
            w(f"- **{name}** ({wn.behind_by:.2f} points behind): " + md("; ".join(r.text for r in wn.reasons)))
    w("")
    w("## Robustness")
    w("")
    label = words.label_text + (f" ({md_code(words.label)})" if words.label != words.label_text else "")
    w(f"- Margin: {rob.margin:.2f} points - {label}" if rob.margin is not None else f"- {label}")
    if words.probability:
        w(f"- Win probability: {md(words.probability)}")
    if words.evidence:
        w(f"- Evidence: {md(words.evidence)}")
    if words.separators:
        w("- What would separate them:")
        for line in words.separators:
            w(f"  - if {md(line.change)}: {md(line.winner)} {md(line.margin)}")
    if words.answer_flips:
        w("- Single answers that would change the winner (largest new lead first):")
        for line in words.answer_flips:
            w(f"  - if {md(line.change)}: {md(line.winner)} {md(line.margin)}")
    else:
        w("- No single changed answer changes the winner.")
    if words.project_flips:
        w("- Another project would go elsewhere (these change the data type or task, not an answer "
          "about this project):")
        for line in words.project_flips:
            w(f"  - if {md(line.change)}: {md(line.winner)} {md(line.margin)}")
    if rob.separation:
        w("")
        w(f"What separated {md(winner)} from {md(a.name_of(rob.runner_up))} (after the 0-10 caps; "
          "the pieces sum to the margin):")
        w("")
        w("| points | from | |")
        w("|---:|---|---|")
        for piece in rob.separation:
            w(f"| {piece.points:+.2f} | {md_code(piece.source)} | {md(piece.text)} |")
    w("")
    w("<details><summary>What the labels mean</summary>")
    w("")
    for key, text in words.definitions:
        w(f"- {md_code(key)}: {md(text)}")
    w("")
    w("</details>")
    rows = measured.rows(a.probe)
    if a.measurements or a.measurement_notes or rows:
        w("")
        w("## Measured numbers")
        w("")
    if (rows or a.measurements) and measured.quiet_warning(a.probe):
        w(f"> **Warning:** {md(measured.quiet_warning(a.probe))}")
        w("")
    if a.measurements:
        w("What the measurements changed (relative speed on the workload that matches the project):")
        w("")
        w("| candidate | row | workload | relative speed | rating change | points |")
        w("|---|---|---|---:|---:|---:|")
        crit_names = {wt.criterion: wt.name for wt in a.weights}
        for m in a.measurements:
            change = f"{md(crit_names.get(m.criterion, m.criterion))} {m.rating:+.2f}" if m.rating else "none"
            w(f"| {md(a.name_of(m.candidate))} | {md_code(m.row)} | {md(m.workload)} | {m.value:.2f}x | "
              f"{change} | {m.points:+.2f} |")
        w("")
    for note in a.measurement_notes:
        w(f"- {md(note)}")
    if a.measurement_notes:
        w("")
    if rows:
        w(_probe_table(rows))
        if measured.method(a.probe):
            w(f"- {md(measured.method(a.probe))}")
        for name, reason in measured.not_run(a.probe):
            w(f"- Not run: {md_code(name)} ({md(reason)})")
        for wl in measured.workloads(rows):
            best, ties = measured.fastest(rows, wl)
            if best is not None:
                tie = (f" (within the spread of {', '.join(md_code(t.name) for t in ties)}: "
                       "too close to separate)") if ties else ""
                w(f"- Fastest on {md(wl)}: {md_code(best.name)}{tie}")
    sc = measured.scaling(a.probe)
    if sc is not None:
        if not (a.measurements or a.measurement_notes or rows):
            w("")
            w("## Measured numbers")
        w("")
        w(f"### Data-parallel scaling: {md(sc.title())}")
        w("")
        w(scaling_table(sc))
        w("cnn-digits, per-worker batch 128, one thread per worker; efficiency = throughput with "
          "N workers / (N x 1-worker throughput), interval from the quartiles of both runs; "
          "start = from launching the group until every worker joined it.")
    if a.notes:
        w("")
        w("## Notes")
        w("")
        for note in a.notes:
            who = f"{md(a.name_of(note.candidate))}: " if note.candidate else ""
            w(f"- {who}{md(note.text)}")
    w("")
    w("## Rules that fired, and their sources")
    w("")
    for rule in a.fired_rules:
        conf = rule.confidence + (", unconfirmed" if rule.unconfirmed else "")
        w(f"- {md_code(rule.id)} ({md(conf)}): {md(rule.rationale)}")
        w(f"  - effects: {md('; '.join(rule.effects))}")
        for src in rule.sources:
            w(f"  - source: {md_link(src.title, src.url)} ({md(src.date)})")
    sources: dict[str, tuple[str, str, list[str]]] = {}
    for rule in a.fired_rules:
        for src in rule.sources:
            sources.setdefault(src.url, (src.title, src.date, []))[2].append(rule.id)
    if sources:
        w("")
        w("## Sources")
        w("")
        for i, (url, (title, date, used)) in enumerate(
                sorted(sources.items(), key=lambda kv: kv[1][0].lower()), 1):
            w(f"{i}. {md_link(title, url)} ({md(date)}; used by {md(', '.join(used))})")
    w("")
    w(f"*advisor {md(a.advisor_version)}, knowledge base {md(a.kb_version)}, {md(a.generated)}*")
    return "\n".join(out) + "\n"
