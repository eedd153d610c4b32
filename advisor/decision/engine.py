"""Score the candidates: vetoes first, then a weighted sum that decomposes exactly.

Every point of every score is a :class:`~advisor.decision.assessment.Part` traced to the candidate's base
rating, a rule, or a measurement. Weights are normalised to sum to 1, so a score is a weighted mean
of ratings on the 0-10 scale.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from advisor import __version__
from advisor.decision import facts as facts_mod
from advisor.decision.assessment import (
    Assessment,
    CandidateResult,
    FiredRule,
    Note,
    Part,
    Reason,
    RuleTrace,
    SourceRef,
    Veto,
    WeightInfo,
    WhyNot,
)
from advisor.infra.errors import BadInput
from advisor.infra.privacy import shown_path
from advisor.kb import expr
from advisor.kb.model import Effect, KnowledgeBase, Rule

if TYPE_CHECKING:
    from advisor.probe.model import ProbeDocument

DEFAULT_RATING = 5.0
WHY_LIMIT = 6  # reasons shown for the winner
RATING_MIN, RATING_MAX = 0.0, 10.0
# how a cap shows where a rule id would: what happened, not a rule name ("scale 0-10" read as one)
CAP_SOURCE = "capped: ratings stay within 0-10"


@dataclass(frozen=True)
class MeasuredDelta:
    """A rating change that comes from a measurement rather than a rule."""

    candidate: str
    criterion: str
    rating: float
    source: str
    detail: str


@dataclass
class Inputs:
    """Everything a recommendation depends on (answers + machine + probe)."""

    answers: dict[str, Any]
    answer_origin: dict[str, str] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    machine_source: str = "this machine"
    probe_facts: dict[str, Any] = field(default_factory=dict)
    probe: ProbeDocument | None = None  # the probe file, when one was given
    measurer: Any = None  # callable(kb, facts) -> (list[MeasuredDelta], measurements, notes)
    probe_file: str | None = None

    def with_answer(self, qid: str, value: Any) -> Inputs:
        answers = dict(self.answers)
        if value is None:
            answers.pop(qid, None)
        else:
            answers[qid] = value
        return dataclasses.replace(self, answers=answers)


@dataclass
class Scored:
    """The bare scoring result (used by robustness re-scoring without building reports)."""

    weights: dict[str, float]
    raw_weights: dict[str, float]
    ratings: dict[str, dict[str, float]]
    parts: dict[str, list[Part]]
    vetoes: dict[str, list[Veto]]
    scores: dict[str, float]
    order: list[str]
    winner: str | None
    fired: list[Rule]
    trace: list[RuleTrace]
    facts: facts_mod.FactSet
    measurements: list[Any]
    measurement_notes: list[str]
    caps: list[tuple[str, str]] = field(default_factory=list)  # (candidate, criterion) clamped


def _tv(value: Any) -> Literal["true", "false", "unknown"]:
    if value is expr.UNKNOWN:
        return "unknown"
    return "true" if value else "false"


def _plain(value: Any) -> Any:
    return None if value is expr.UNKNOWN else value


def _compiled_conditions(kb: KnowledgeBase) -> dict[str, Any]:
    """Each rule's condition as a closure, built once per knowledge base (re-scoring is hot)."""
    cached = kb.__dict__.get("_compiled_conditions")
    if cached is None:
        cached = {rid: expr.compile_condition(node) for rid, node in kb.conditions.items()}
        object.__setattr__(kb, "_compiled_conditions", cached)  # a cache, not a field
    return cached


def score(kb: KnowledgeBase, inputs: Inputs, *, detail: bool = True) -> Scored:  # noqa: C901
    """Score every candidate. ``detail=False`` skips the rule trace and the traced parts (for
    re-scoring in flips, the win probability and the audit); scores and ratings are the same.
    """
    fs = facts_mod.build(
        kb, inputs.answers, inputs.machine, inputs.probe_facts, machine_source=inputs.machine_source
    )
    compiled = _compiled_conditions(kb)
    fired: list[Rule] = []
    trace: list[RuleTrace] = []
    for rule in kb.rules:
        result = compiled[rule.id](fs.values)
        if detail:
            node = kb.conditions[rule.id]
            trace.append(
                RuleTrace(
                    id=rule.id,
                    condition=rule.when,
                    result=_tv(result),
                    reads={k: _plain(v) for k, v in expr.reads(node, fs.values).items()},
                )
            )
        if result is True:
            fired.append(rule)

    raw = {c.id: float(c.weight) for c in kb.criteria}
    for rule in fired:
        for effect in rule.effects:
            if effect.weight is not None:
                raw[effect.weight] *= float(effect.factor or 1.0)
    total = sum(raw.values())
    if total <= 0:
        raise BadInput("every criterion weight is zero; nothing can be scored")
    weights = {c: w / total for c, w in raw.items()}

    deltas: list[MeasuredDelta] = []
    measurements: list[Any] = []
    measurement_notes: list[str] = []
    if inputs.measurer is not None:
        deltas, measurements, measurement_notes = inputs.measurer(kb, fs.values, weights)

    targets = _answered_targets(kb, fs.values)
    ratings: dict[str, dict[str, float]] = {}
    parts: dict[str, list[Part]] = {}
    vetoes: dict[str, list[Veto]] = {c.id: [] for c in kb.candidates}
    scores: dict[str, float] = {}
    caps: list[tuple[str, str]] = []
    by_criterion: EffectIndex = {}  # (criterion, target) -> fired effects, in rule order
    for rule in fired:
        for effect in rule.effects:
            if effect.veto is not None:
                vetoes.setdefault(effect.veto, []).append(
                    Veto(rule=rule.id, reason=effect.reason or ""))
            crit_id = effect.level or effect.rate
            if crit_id is not None:
                by_criterion.setdefault((crit_id, effect.target), []).append((rule, effect))
    for cand in kb.candidates:
        cid = cand.id
        cparts: list[Part] = []
        crat: dict[str, float] = {}
        total_points = 0.0
        for crit in kb.criteria:
            base = float(cand.base.get(crit.id, DEFAULT_RATING))
            if detail:
                cparts.append(Part(criterion=crit.id, kind="base", source="base", rating=base,
                                   points=weights[crit.id] * base))
            crit_targets = targets.get(crit.id, [])
            pieces = (_criterion_pieces(cid, crit.id, base, by_criterion, crit_targets)
                      if crit_targets or (crit.id, None) in by_criterion else [])
            if deltas:
                pieces += [(d.rating, "measurement", d.source, d.detail)
                           for d in deltas if d.candidate == cid and d.criterion == crit.id]
            value = base
            for rating, kind, source, piece_detail in pieces:
                value += rating
                if kind == "cap":  # a target's own rating hit the 0-10 scale
                    caps.append((cid, crit.id))
                if detail:
                    cparts.append(Part(criterion=crit.id, kind=kind,  # type: ignore[arg-type]
                                       source=source, rating=rating,
                                       points=weights[crit.id] * rating, detail=piece_detail))
            capped = min(RATING_MAX, max(RATING_MIN, value))  # ratings live on 0-10
            if capped != value:
                caps.append((cid, crit.id))
                if detail:
                    cparts.append(Part(criterion=crit.id, kind="cap", source=CAP_SOURCE,
                                       rating=capped - value,
                                       points=weights[crit.id] * (capped - value)))
            crat[crit.id] = capped
            total_points += weights[crit.id] * capped
        ratings[cid] = crat
        parts[cid] = cparts
        if detail:
            scores[cid] = sum(
                sum(p.points for p in cparts if p.criterion == c) for c in kb.criterion_ids
            )
        else:
            scores[cid] = total_points

    ids = kb.candidate_ids
    alive = [c for c in ids if not vetoes[c]]
    dead = [c for c in ids if vetoes[c]]
    key = lambda c: (-round(scores[c], 9), ids.index(c))  # noqa: E731
    order = sorted(alive, key=key) + sorted(dead, key=key)
    winner = order[0] if alive else None
    return Scored(weights, raw, ratings, parts, vetoes, scores, order, winner, fired, trace, fs,
                  measurements, measurement_notes, caps)


def _answer_text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


#: Share of a per-target criterion (deployment) that is the plain mean over the answered targets;
#: the rest goes to the weakest target. So the weakest required target bounds the rating, and
#: adding a target can never push a candidate past what its weakest target allows.
TARGET_MEAN_SHARE = 0.25


def _answered_targets(kb: KnowledgeBase, values: Mapping[str, Any]) -> dict[str, list[str]]:
    """For each criterion scored per answer value (``per``): the answered values it knows about.

    A value no rule targets (``none``: nowhere) carries no knowledge and is left out.
    """
    known = kb.__dict__.get("_known_targets")
    if known is None:
        known = {e.target for r in kb.rules for e in r.effects if e.target}
        object.__setattr__(kb, "_known_targets", known)  # a cache, not a field
    out: dict[str, list[str]] = {}
    for crit in kb.criteria:
        answered = values.get(crit.per) if crit.per else None
        if isinstance(answered, list):
            chosen = [v for v in answered if v in known]
            if chosen:
                out[crit.id] = chosen
    return out


Piece = tuple[float, str, str, str]  # rating change, kind, source, detail
EffectIndex = dict[tuple[str, "str | None"], list[tuple[Rule, Effect]]]


def _level_piece(cid: str, crit: str, start: float, effects: list[tuple[Rule, Effect]],
                 detail: str = "") -> tuple[float, list[Piece]]:
    """The highest level any fired rule sets (one fact, never a sum), as a change from ``start``."""
    best: tuple[float, str] | None = None
    for rule, e in effects:
        if e.level == crit and e.candidates and cid in e.candidates:
            level = float(e.candidates[cid])
            if best is None or level > best[0]:
                best = (level, rule.id)
    if best is None:
        return start, []
    return best[0], [(best[0] - start, "rule", best[1], detail or "level")]


def _criterion_pieces(cid: str, crit: str, base: float, by_criterion: EffectIndex,
                      targets: list[str]) -> list[Piece]:
    """Rule pieces of one candidate's rating on one criterion, in the order they apply.

    Effects without a target: the highest fired level replaces the base, then rate changes add.
    With answered targets (a criterion with ``per``), each target gets its own rating - its level
    and changes, capped to 0-10 - and the criterion takes the weakest target's rating plus a
    share of the mean (:data:`TARGET_MEAN_SHARE`); every piece is scaled by its target's share,
    so the pieces still sum to the rating.
    """
    plain = by_criterion.get((crit, None), [])  # the fired level/rate effects on this criterion
    value, pieces = _level_piece(cid, crit, base, plain)
    pieces += [(float(e.candidates[cid]), "rule", r.id, "") for r, e in plain
               if e.rate == crit and e.candidates and cid in e.candidates]
    if not targets:
        return pieces
    per_target: dict[str, tuple[float, list[Piece]]] = {}
    for target in targets:
        mine = by_criterion.get((crit, target), [])
        t_value, t_pieces = _level_piece(cid, crit, base, mine, target)
        for r, e in mine:
            if e.rate == crit and e.candidates and cid in e.candidates:
                t_value += float(e.candidates[cid])
                t_pieces.append((float(e.candidates[cid]), "rule", r.id, target))
        capped = min(RATING_MAX, max(RATING_MIN, t_value))
        if capped != t_value:
            t_pieces.append((capped - t_value, "cap", "scale 0-10", target))
        per_target[target] = (capped, t_pieces)
    weakest = min(targets, key=lambda t: per_target[t][0])  # first answered one on ties
    for target in targets:
        share = TARGET_MEAN_SHARE / len(targets) + (1 - TARGET_MEAN_SHARE) * (target == weakest)
        rating, t_pieces = per_target[target]
        role = "weakest target" if target == weakest else "target"
        for delta, kind, source, _ in t_pieces:
            pieces.append((delta * share, kind, source,
                           f"{role} {target}: {delta:+g} x share {share:.2f}"))
    return pieces


def _effect_text(kb: KnowledgeBase, effect: Effect) -> str:
    if effect.veto:
        return f"veto {effect.veto}: {effect.reason}"
    where = f" ({effect.target})" if effect.target else ""
    if effect.rate:
        changes = ", ".join(f"{c} {v:+g}" for c, v in (effect.candidates or {}).items())
        return f"{effect.rate}{where}: {changes}"
    if effect.level:
        levels = ", ".join(f"{c} {v:g}" for c, v in (effect.candidates or {}).items())
        return f"{effect.level}{where} set to: {levels}"
    if effect.weight:
        return f"weight of {effect.weight} x{effect.factor:g}"
    who = f" ({effect.candidate})" if effect.candidate else ""
    return f"note{who}: {effect.note}"


def assess(kb: KnowledgeBase, inputs: Inputs, *, robustness: bool = True) -> Assessment:
    """The full recommendation: scores, explanation, and (optionally) robustness analysis."""
    from advisor.decision import robustness as robust

    s = score(kb, inputs)
    ranking = []
    for rank, cid in enumerate(s.order, 1):
        contributions = {
            c: sum(p.points for p in s.parts[cid] if p.criterion == c) for c in kb.criterion_ids
        }
        installed = inputs.probe_facts.get(f"probe.{cid}.installed") if inputs.probe_facts else None
        ranking.append(
            CandidateResult(
                candidate=cid,
                name=kb.candidate(cid).name,
                rank=rank,
                score=sum(contributions.values()),
                vetoed=bool(s.vetoes[cid]),
                vetoes=s.vetoes[cid],
                contributions=contributions,
                ratings=s.ratings[cid],
                parts=s.parts[cid],
                installed=installed,
            )
        )
    weight_rules: dict[str, list[str]] = {c: [] for c in kb.criterion_ids}
    for rule in s.fired:
        for effect in rule.effects:
            if effect.weight:
                weight_rules[effect.weight].append(rule.id)
    weights = [
        WeightInfo(
            criterion=c.id,
            name=c.name,
            default=c.weight,
            factor=s.raw_weights[c.id] / c.weight if c.weight else 1.0,
            raw=s.raw_weights[c.id],
            weight=s.weights[c.id],
            rules=weight_rules[c.id],
        )
        for c in kb.criteria
    ]
    trace_by_id = {t.id: t for t in s.trace}
    fired_rules = [
        FiredRule(
            id=r.id,
            rationale=r.rationale,
            confidence=r.confidence,
            unconfirmed=r.unconfirmed,
            sources=[SourceRef(url=src.url, title=src.title, date=src.date) for src in r.sources],
            effects=[_effect_text(kb, e) for e in r.effects],
            reads=trace_by_id[r.id].reads,
            file=shown_path(r.origin[0]) or "",  # no absolute home path in reports
            line=r.origin[1],
            review_by=r.review_by.isoformat() if r.review_by else None,
            applies_to=dict(r.applies_to),
        )
        for r in s.fired
    ]
    notes = [
        Note(text=e.note, rule=r.id, candidate=e.candidate)
        for r in s.fired
        for e in r.effects
        if e.note
    ]
    resolved = {
        res.question: {"value": res.value, "source": res.source} for res in s.facts.resolutions
    }
    counted = s.facts.answers
    not_asked = {}
    from advisor.questionnaire import consistency

    for qid, reason in consistency.effective(kb, inputs.answers)[1].items():
        if qid in inputs.answers:  # a stale answer (e.g. from a file) to a question skipped here
            reason += f"; the given answer {_answer_text(inputs.answers[qid])} was ignored"
        not_asked[qid] = reason
    unanswered = [q.id for q in kb.questions if q.id not in counted and q.id not in not_asked]
    rob = robust.analyse(kb, inputs, s) if robustness else robust.empty(s)
    why, why_not = _explain(kb, s, ranking)
    machine = {k: v for k, v in inputs.machine.items()}
    if inputs.machine:
        machine["source"] = inputs.machine_source
    return Assessment(
        advisor_version=__version__,
        kb_version=kb.meta.kb_version,
        kb_title=kb.meta.title,
        generated=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        answers=dict(counted),
        answer_origin={k: v for k, v in inputs.answer_origin.items() if k in counted},
        resolved=resolved,
        unanswered=unanswered,
        not_asked=not_asked,
        weights=weights,
        winner=s.winner,
        ranking=ranking,
        fired_rules=fired_rules,
        trace=s.trace,
        notes=notes,
        robustness=rob,
        why=why,
        why_not=why_not,
        measurements=s.measurements,
        measurement_notes=s.measurement_notes,
        machine=machine,
        probe=inputs.probe,
        probe_file=inputs.probe_file,
        questions={q.id: q.text for q in kb.questions},
        criteria={c.id: c.name for c in kb.criteria},
    )


def _explain(
    kb: KnowledgeBase, s: Scored, ranking: list[CandidateResult]
) -> tuple[list[Reason], list[WhyNot]]:
    by_id = {r.candidate: r for r in ranking}
    from advisor.decision import robustness as robust

    why: list[Reason] = []
    alive = [c for c in s.order if not s.vetoes[c]]
    if s.winner is not None and len(alive) > 1:
        # what separated the winner from the runner-up, after the caps; bonuses both got cancel
        for piece in robust.separation(kb, s, s.winner, alive[1]):
            if piece.points <= 1e-9 or len(why) == WHY_LIMIT:
                break
            why.append(Reason(criterion=piece.criterion, points=piece.points,
                              rules=[piece.source], text=piece.text))
    elif s.winner is not None:  # uncontested: what it has, since no rival is left to compare
        win = by_id[s.winner]
        pieces = sorted(
            (p for p in win.parts if p.kind in ("rule", "measurement") and p.points > 0),
            key=lambda p: -p.points,
        )
        for p in pieces[:WHY_LIMIT]:
            text = _part_text(kb, p)
            why.append(Reason(criterion=p.criterion, points=p.points, rules=[p.source], text=text))
    why_not: list[WhyNot] = []
    for r in ranking:
        if r.candidate == s.winner:
            continue
        if r.vetoed:
            why_not.append(WhyNot(candidate=r.candidate, vetoed_by=r.vetoes))
            continue
        if s.winner is None:
            continue
        win = by_id[s.winner]
        gaps = sorted(
            ((c, win.contributions[c] - r.contributions[c]) for c in kb.criterion_ids),
            key=lambda item: -item[1],
        )
        reasons = []
        for crit, gap in gaps[:3]:
            if gap <= 1e-9:
                break
            rules = sorted(
                {p.source for p in win.parts + r.parts if p.criterion == crit and p.kind != "base"}
            )
            text = (
                f"{kb.criterion(crit).name}: {r.ratings[crit]:.1f} vs "
                f"{win.ratings[crit]:.1f} for {win.name} ({gap:.2f} points behind)"
            )
            reasons.append(Reason(criterion=crit, points=gap, rules=rules, text=text))
        why_not.append(
            WhyNot(candidate=r.candidate, behind_by=win.score - r.score, reasons=reasons)
        )
    return why, why_not


def _part_text(kb: KnowledgeBase, part: Part) -> str:
    crit = kb.criterion(part.criterion).name
    if part.kind == "measurement":
        return f"{crit} {part.rating:+.1f} (measured: {part.detail}) = {part.points:+.2f} points"
    return f"{crit} {part.rating:+g} ({part.source}) = {part.points:+.2f} points"
