"""Markdown view of an Assessment, shaped like an architecture decision record.

Every string that came from an input file goes through ``md()``: it renders as literal text.
"""

from __future__ import annotations

from advisor.assessment import Assessment
from advisor.render.text import md, md_link


def _name(a: Assessment, cid: str | None) -> str:
    if cid is None:
        return "none"
    return next((r.name for r in a.ranking if r.candidate == cid), cid)


def _value(v: object) -> str:
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def render(a: Assessment) -> str:
    rob = a.robustness
    out: list[str] = []
    w = out.append
    winner = _name(a, a.winner)
    w(f"# Framework decision: {md(winner)}")
    w("")
    w(f"- Status: recommended by advisor {md(a.advisor_version)}, knowledge base {md(a.kb_version)}")
    w(f"- Date: {md(a.generated)}")
    if rob.margin is not None:
        w(f"- Outcome: **{md(winner)}**, {rob.label} - {rob.margin:.2f} points ahead of "
          f"{md(_name(a, rob.runner_up))} on a 0-10 scale")
    else:
        w(f"- Outcome: **{md(winner)}** ({rob.label})")
    w("")
    w("## Context")
    w("")
    w("| question | answer | from |")
    w("|---|---|---|")
    for qid, text in a.questions.items():
        if qid in a.answers:
            value = _value(a.answers[qid])
            if qid in a.resolved:
                res = a.resolved[qid]
                value += f" -> {res['value'] or 'unknown'} ({res['source']})"
            w(f"| {md(text)} | {md(value)} | {md(a.answer_origin.get(qid, ''))} |")
        else:
            w(f"| {md(text)} | *unanswered (unknown)* | |")
    if a.machine:
        w("")
        w("Machine: " + md(", ".join(f"{k.removeprefix('machine.')}={_value(v)}" for k, v in a.machine.items())))
    if a.probe and a.probe.get("host"):
        host = a.probe["host"]
        w("")
        w(f"Probed machine: {md(host.get('cpu_model', '?'))}, {md(host.get('usable_cores', '?'))} usable cores, "
          f"{md(host.get('os', '?'))}, Python {md(host.get('python', '?'))}")
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
        name = md(_name(a, wn.candidate))
        if wn.vetoed_by:
            for v in wn.vetoed_by:
                w(f"- **{name}** was vetoed by `{md(v.rule)}`: {md(v.reason)}")
        elif wn.reasons:
            w(f"- **{name}** ({wn.behind_by:.2f} points behind): " + md("; ".join(r.text for r in wn.reasons)))
    w("")
    w("## Robustness")
    w("")
    w(f"- Margin: {rob.margin:.2f} points ({rob.label})" if rob.margin is not None else f"- {rob.label}")
    if rob.flips:
        w("- Single answers that would change the winner:")
        for flip in rob.flips:
            w(f"  - if {md(flip.change)}: {md(_name(a, flip.new_winner))}")
    else:
        w("- No single changed answer changes the winner.")
    if a.measurements or a.measurement_notes:
        w("")
        w("## Measured numbers")
        w("")
        for m in a.measurements:
            extra = f" -> performance {m.rating:+.2f} ({m.points:+.2f} points)" if m.rating else ""
            w(f"- {md(_name(a, m.candidate))}: {md(m.detail)}{extra}")
        for note in a.measurement_notes:
            w(f"- {md(note)}")
    if a.notes:
        w("")
        w("## Notes")
        w("")
        for note in a.notes:
            who = f"{md(_name(a, note.candidate))}: " if note.candidate else ""
            w(f"- {who}{md(note.text)}")
    w("")
    w("## Rules that fired, and their sources")
    w("")
    for rule in a.fired_rules:
        conf = rule.confidence + (", unconfirmed" if rule.unconfirmed else "")
        w(f"- `{md(rule.id)}` ({md(conf)}): {md(rule.rationale)}")
        w(f"  - effects: {md('; '.join(rule.effects))}")
        for src in rule.sources:
            w(f"  - source: {md_link(src.title, src.url)} ({md(src.date)})")
    w("")
    w(f"*advisor {md(a.advisor_version)}, knowledge base {md(a.kb_version)}, {md(a.generated)}*")
    return "\n".join(out) + "\n"
