"""The report view-model: what every report shows, computed once from an Assessment.

Markdown and HTML render a :class:`ReportView` through their templates (``templates/report.*.j2``);
they add nothing but markup. To add a report field: compute it here (one attribute), then show it
in the templates that should (``report.md.j2``, ``report.html.j2``); the JSON report carries
the Assessment itself (``Assessment.to_dict``), so a new Assessment field is in it already.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from advisor.decision.assessment import Assessment, Robustness
from advisor.render import measured
from advisor.render.context import AnswerRow, answer_rows
from advisor.render.robust_text import RobustnessText, robustness_text
from advisor.render.text import answer_text


@dataclass(frozen=True)
class Driver:
    """One criterion: its weights and the interval in which the winner holds."""

    criterion: str
    name: str
    default: float
    weight: float
    low: float | None
    high: float | None
    below: str | None  # who wins below the interval
    above: str | None
    rules: list[str]


@dataclass(frozen=True)
class Fastest:
    row: str
    ties: list[str]


@dataclass(frozen=True)
class Source:
    title: str
    url: str
    date: str
    rules: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReportView:
    a: Assessment
    rob: Robustness
    winner: str
    runner_up: str | None
    answers: list[AnswerRow]
    machine: list[tuple[str, str]]  # facts the rules read, machine.* prefix removed
    host: list[tuple[str, str]]  # the probed machine
    probe_file: str | None
    probe_method: str
    quiet_warning: str  # why the probe's numbers are suspect (busy, contended), or ''
    not_run: list[tuple[str, str]]
    drivers: list[Driver]
    criteria: list[tuple[str, str]]  # (id, name), in weight order
    crit_names: dict[str, str]
    names: dict[str, str]  # candidate id -> name
    words: RobustnessText  # the robustness in words, shared with the terminal
    flips: list[Any]  # words.answer_flips: change, winner, margin
    rows: list[measured.Row]
    workloads: list[str]
    fastest: dict[str, Fastest]
    scaling: measured.Scaling | None
    deploy: measured.DeployMatrix | None  # advisor probe --deploy: the paths measured
    sources: list[Source]
    next_steps: dict[str, Any] | None  # {"steps": NextSteps, "sources": [SourceRef]} for the winner

    def fields(self) -> dict[str, Any]:
        """The view as template variables."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def build(a: Assessment) -> ReportView:
    rob = a.robustness
    words = robustness_text(a)
    intervals = {iv.criterion: iv for iv in rob.weight_intervals}
    drivers = []
    for w in a.weights:
        iv = intervals.get(w.criterion)
        drivers.append(Driver(
            criterion=w.criterion, name=w.name, default=w.default, weight=w.weight,
            low=iv.low if iv else None, high=iv.high if iv else None,
            below=a.name_of(iv.limited_by_low) if iv and iv.limited_by_low else None,
            above=a.name_of(iv.limited_by_high) if iv and iv.limited_by_high else None,
            rules=list(w.rules),
        ))
    table = measured.rows(a.probe)
    wls = measured.workloads(table)
    fastest = {}
    for wl in wls:
        best, ties = measured.fastest(table, wl)
        if best is not None:
            fastest[wl] = Fastest(best.name, [t.name for t in ties])
    sources: dict[str, Source] = {}
    for rule in a.fired_rules:
        for src in rule.sources:
            sources.setdefault(src.url, Source(src.title, src.url, src.date)).rules.append(rule.id)
    return ReportView(
        a=a,
        rob=rob,
        winner=a.name_of(a.winner),
        runner_up=a.name_of(rob.runner_up) if rob.runner_up else None,
        answers=answer_rows(a),
        machine=[(k.removeprefix("machine."), answer_text(v)) for k, v in a.machine.items()],
        host=measured.host_facts(a.probe),
        probe_file=a.probe_file if a.probe else None,
        probe_method=measured.method(a.probe),
        quiet_warning=measured.quiet_warning(a.probe),
        not_run=measured.not_run(a.probe),
        drivers=drivers,
        criteria=[(w.criterion, w.name) for w in a.weights],
        crit_names={w.criterion: w.name for w in a.weights},
        names={r.candidate: r.name for r in a.ranking},
        words=words,
        flips=list(words.answer_flips),
        rows=table,
        workloads=wls,
        fastest=fastest,
        scaling=measured.scaling(a.probe),
        deploy=measured.deploy(a.probe),
        sources=sorted(sources.values(), key=lambda s: s.title.lower()),
        next_steps=_next_steps(a),
    )


def _next_steps(a: Assessment) -> dict[str, Any] | None:
    """What to do next with the winner (knowledge-base data with its own sources)."""
    from advisor.decision import next_steps

    steps = next_steps.for_winner(a)
    if steps is None:
        return None
    parts: list[Any] = [steps.install, *steps.deploy]
    seen = {s.url: s for part in parts for s in part.sources}
    from advisor.render.text import clean

    return {"steps": steps, "sources": list(seen.values()), "starter": clean(steps.starter)}
