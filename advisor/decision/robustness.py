"""How firmly a recommendation holds, and what separated the winner from the runner-up.

One home for the labels, their thresholds and their definitions (reports print
:data:`DEFINITIONS`):

* **separation** - the margin split into pieces (base-rating differences, rules, measurements)
  after the 0-10 caps: a bonus lost to the cap, or one the runner-up got too, separates nothing;
* **evidence** - the share of the margin that project facts (rules, measurements) supply; a lead
  that rests on base ratings alone, or on no answers at all, is "no evidence yet", never decisive;
* **win probability** - every rating change perturbed by its own confidence (high / medium / low /
  unconfirmed; base ratings too), re-scored :data:`SAMPLES` times with a fixed seed;
* **tie band** - a margin or a win probability too small to name a winner;
* **weight intervals** - for each criterion, the exact interval of its (normalised) weight within
  which the winner holds (closed form: every score is linear in that weight);
* **flips** - single changed answers that change the winner, only consistent ones, ranked by the
  new winner's lead; changes that describe another project (data type, task) kept apart.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from advisor.decision.assessment import Flip, Robustness, Separation, WeightInterval

if TYPE_CHECKING:
    from advisor.decision.engine import Inputs, Scored
    from advisor.kb.model import KnowledgeBase, Question

# ------------------------------------------------------------------ labels: defined once

TIE_MARGIN = 0.15  # points on the 0-10 scale
CLEAR = 0.25
DECISIVE = 0.75
TIE_PROBABILITY = 0.60  # the winner wins in fewer plausible ratings than this: a tie
CLEAR_PROBABILITY = 0.75
DECISIVE_PROBABILITY = 0.95
DECISIVE_FACT_SHARE = 0.5  # project facts supply at least this share of a decisive margin

#: Spread of a rating under its confidence: (standard deviation of a base rating in points,
#: relative standard deviation of a rule's or measurement's rating change).
UNCERTAINTY = {
    "high": (0.5, 0.2),
    "medium": (1.0, 0.4),
    "low": (1.5, 0.6),
    "unconfirmed": (2.0, 0.8),
}
MEASURED_CONFIDENCE = "high"
SAMPLES = 200
PRUNE_SIGMAS = 5.0
SEED = 20261201

LABEL_TEXT = {
    "decisive": "decisive",
    "clear": "clear",
    "close": "close",
    "tie": "no clear winner",
    "no_evidence": "no evidence yet",
    "uncontested": "uncontested",
    "none": "no candidate left",
}

DEFINITIONS = {
    "decisive": f"ahead by at least {DECISIVE:g} points, wins in at least "
    f"{DECISIVE_PROBABILITY:.0%} of plausible ratings, and project facts (rules, measurements) "
    f"supply at least {DECISIVE_FACT_SHARE:.0%} of the margin",
    "clear": f"ahead by at least {CLEAR:g} points and wins in at least {CLEAR_PROBABILITY:.0%} "
    "of plausible ratings",
    "close": f"ahead, but by less than {CLEAR:g} points or in fewer than {CLEAR_PROBABILITY:.0%} "
    "of plausible ratings",
    "tie": f"ahead by less than {TIE_MARGIN:g} points or in fewer than {TIE_PROBABILITY:.0%} "
    "of plausible ratings: no clear winner",
    "no_evidence": "nothing answered yet, or no project fact favours the winner over the "
    "runner-up: the lead rests on base ratings alone",
    "uncontested": "every other candidate is vetoed",
    "none": "every candidate is vetoed",
    "plausible ratings": f"{SAMPLES} re-scorings (seed {SEED}) with each base rating moved by "
    + ", ".join(f"{k} ±{v[0]:g}" for k, v in UNCERTAINTY.items())
    + " points (one standard deviation, by the rating's confidence) and each rule's rating "
    "change by " + ", ".join(f"{k} ±{v[1]:.0%}" for k, v in UNCERTAINTY.items())
    + f" of its size; measurements count as {MEASURED_CONFIDENCE}; weights stay as set",
}


def label_for(
    margin: float | None,
    contenders: int,
    *,
    p_win: float | None = None,
    fact_share: float | None = None,
    answered: bool = True,
) -> str:
    if margin is None:
        return "uncontested" if contenders == 1 else "none"
    if not answered:
        return "no_evidence"
    if margin < TIE_MARGIN or (p_win is not None and p_win < TIE_PROBABILITY):
        return "tie"
    if fact_share is not None and fact_share <= 0.0:
        return "no_evidence"
    p = 1.0 if p_win is None else p_win
    if (margin >= DECISIVE and p >= DECISIVE_PROBABILITY
            and fact_share is not None and fact_share >= DECISIVE_FACT_SHARE):
        return "decisive"
    if margin >= CLEAR and p >= CLEAR_PROBABILITY:
        return "clear"
    return "close"


def _top_two(s: Scored) -> tuple[list[str], float | None]:
    alive = [c for c in s.order if not s.vetoes[c]]
    margin = s.scores[alive[0]] - s.scores[alive[1]] if len(alive) > 1 else None
    return alive, margin


def empty(s: Scored) -> Robustness:
    """Margin and a label from the margin alone (no re-scoring): for quick paths and tests."""
    alive, margin = _top_two(s)
    label = label_for(margin, len(alive))
    return Robustness(
        runner_up=alive[1] if len(alive) > 1 else None,
        margin=margin,
        label=label,  # type: ignore[arg-type]
        label_text=LABEL_TEXT[label],
        weight_intervals=[],
        flips=[],
        definitions=dict(DEFINITIONS),
    )


# ------------------------------------------------------------------ separation after the caps


def effective_changes(s: Scored, candidate: str) -> dict[tuple[str, str], tuple[str, float]]:
    """(criterion, source) -> (kind, rating change that survived the 0-10 cap), base included.

    A cap takes back the same share of every change that pushed past it (the bonuses above 10,
    the penalties below 0), so the surviving changes sum exactly to the final rating.
    """
    out: dict[tuple[str, str], tuple[str, float]] = {}
    by_crit: dict[str, list[Any]] = {}
    for part in s.parts[candidate]:
        by_crit.setdefault(part.criterion, []).append(part)
    for crit, parts in by_crit.items():
        cap = sum(p.rating for p in parts if p.kind == "cap")
        changes = [p for p in parts if p.kind in ("rule", "measurement")]
        pushing = [p for p in changes if (p.rating > 0 if cap < 0 else p.rating < 0)]
        pushed = sum(p.rating for p in pushing)
        keep = (pushed + cap) / pushed if cap and pushed else 1.0
        if cap and not pushed:  # nothing to take the cap from: it stays a piece of its own
            kind, before = out.get((crit, "scale 0-10"), ("rule", 0.0))
            out[(crit, "scale 0-10")] = (kind, before + cap)
        for p in parts:
            if p.kind == "base":
                out[(crit, "base")] = ("base", p.rating)
            elif p.kind in ("rule", "measurement"):
                rating = p.rating * keep if p in pushing else p.rating
                kind, before = out.get((crit, p.source), (p.kind, 0.0))
                out[(crit, p.source)] = (kind, before + rating)
    return out


def separation(kb: KnowledgeBase, s: Scored, winner: str, rival: str) -> list[Separation]:
    """The winner's lead over ``rival`` in pieces that sum to the margin, largest first."""
    w_changes = effective_changes(s, winner)
    r_changes = effective_changes(s, rival)
    w_name, r_name = kb.candidate(winner).name, kb.candidate(rival).name
    pieces: list[Separation] = []
    for key in dict.fromkeys([*w_changes, *r_changes]):
        crit, source = key
        kind, w_rating = w_changes.get(key, (r_changes.get(key, ("rule", 0.0))[0], 0.0))
        r_rating = r_changes.get(key, (kind, 0.0))[1]
        points = s.weights[crit] * (w_rating - r_rating)
        if abs(points) < 1e-9:
            continue  # the same bonus for both separates nothing
        crit_name = kb.criterion(crit).name
        if kind == "base":
            why = kb.candidate(winner if points > 0 else rival).base_rationale.get(crit, "")
            text = (f"{crit_name}: base rating {w_name} {w_rating:g} vs {r_name} {r_rating:g}"
                    + (f" - {why}" if why else " (no rationale recorded)"))
        else:
            gave = [f"{n} {v:+.3g}" for n, v in ((w_name, w_rating), (r_name, r_rating)) if v]
            text = f"{crit_name}: {source} gives {' and '.join(gave)} (after the 0-10 cap)"
        pieces.append(Separation(criterion=crit, kind=kind, source=source,  # type: ignore[arg-type]
                                 points=points, winner_rating=w_rating,
                                 runner_up_rating=r_rating, text=text))
    pieces.sort(key=lambda p: -p.points)
    return pieces


def fact_share(pieces: list[Separation], margin: float) -> float | None:
    """Share of the margin that rules and measurements (not base ratings) supply."""
    if margin <= 1e-12:
        return None
    return sum(p.points for p in pieces if p.kind != "base") / margin


# ------------------------------------------------------------------ win probability


def win_probability(kb: KnowledgeBase, s: Scored) -> dict[str, float]:
    """Share of :data:`SAMPLES` plausible ratings in which each live candidate wins (fixed seed).

    A rating is its base plus its rule and measurement changes; each part gets an independent
    normal error (a base rating: :data:`UNCERTAINTY`'s points for its confidence; a change: that
    share of its size), so a rating's error is normal with the root-sum-square spread. Each
    plausible rating is clamped to 0-10 like a real one; weights stay as they are (the weight
    intervals cover them).
    """
    alive = [c for c in s.order if not s.vetoes[c]]
    if len(alive) < 2:
        return {c: 1.0 for c in alive}
    certainty = {r.id: r.certainty for r in kb.rules}
    model: dict[str, list[tuple[float, float, float]]] = {}  # (weight, mean, sd) per criterion
    for cid in alive:
        cand = kb.candidate(cid)
        mean: dict[str, float] = {}
        var: dict[str, float] = {}
        for p in s.parts[cid]:
            if p.kind == "base":
                sd = UNCERTAINTY[cand.base_confidence_of(p.criterion)][0]
            elif p.kind == "rule":
                sd = UNCERTAINTY[certainty.get(p.source, MEASURED_CONFIDENCE)][1] * abs(p.rating)
            elif p.kind == "measurement":
                sd = UNCERTAINTY[MEASURED_CONFIDENCE][1] * abs(p.rating)
            else:
                continue  # the cap is applied to each plausible rating below
            mean[p.criterion] = mean.get(p.criterion, 0.0) + p.rating
            var[p.criterion] = var.get(p.criterion, 0.0) + sd * sd
        model[cid] = [(s.weights[c], mean[c], var[c] ** 0.5) for c in kb.criterion_ids]
    # a candidate more than PRUNE_SIGMAS spreads behind the best worst case never wins: skip it
    spread = {c: sum((w * sd) ** 2 for w, _, sd in rows) ** 0.5 for c, rows in model.items()}
    floor = max(s.scores[c] - PRUNE_SIGMAS * spread[c] for c in alive)
    contenders = [c for c in alive if s.scores[c] + PRUNE_SIGMAS * spread[c] >= floor]
    gauss = random.Random(SEED).gauss
    wins = dict.fromkeys(alive, 0)
    for _ in range(SAMPLES):
        best, best_score = contenders[0], float("-inf")
        for cid in contenders:
            total = 0.0
            for weight, mu, sd in model[cid]:
                rating = gauss(mu, sd)
                total += weight * (10.0 if rating > 10.0 else max(rating, 0.0))
            if total > best_score:
                best, best_score = cid, total
        wins[best] += 1
    return {c: n / SAMPLES for c, n in wins.items()}


# ------------------------------------------------------------------ weight intervals


def weight_interval(
    s: Scored, criterion: str, criteria: list[str]
) -> tuple[float, float, str | None, str | None]:
    """Interval [low, high] of the criterion's normalised weight in which the winner holds.

    With t the new weight of criterion i and the others scaled by (1-t)/(1-w_i), the gap
    D_k(t) = S_W(t) - S_k(t) = b + t (a - b) is linear in t, with a = r_Wi - r_ki and
    b = ((S_W - w_i r_Wi) - (S_k - w_i r_ki)) / (1 - w_i). Each rival bounds t at b / (b - a).
    """
    winner = s.winner
    assert winner is not None
    w = s.weights[criterion]
    low, high = 0.0, 1.0
    by_low: str | None = None
    by_high: str | None = None
    if 1.0 - w < 1e-12:
        return w, 1.0, None, None
    r_w = s.ratings[winner][criterion]
    rest_w = s.scores[winner] - w * r_w
    for rival in s.order:
        if rival == winner or s.vetoes[rival]:
            continue
        r_k = s.ratings[rival][criterion]
        a = r_w - r_k
        b = (rest_w - (s.scores[rival] - w * r_k)) / (1.0 - w)
        slope = a - b
        if abs(slope) < 1e-12:
            continue
        root = b / (b - a)
        if slope < 0 and root < high:
            high, by_high = max(root, 0.0), rival
        elif slope > 0 and root > low:
            low, by_low = min(root, 1.0), rival
    return low, high, by_low, by_high


# ------------------------------------------------------------------ flips


def alternatives(question: Question, current: Any) -> list[tuple[str, Any]]:
    """Every single change of one answer (for 'many': add or drop one value)."""
    out: list[tuple[str, Any]] = []
    if question.type == "bool":
        for flag in (True, False):
            if flag != current:
                out.append((f"{question.id} = {'true' if flag else 'false'}", flag))
        return out
    if question.type == "one":
        for value in question.values:
            if value != current:
                out.append((f"{question.id} = {value}", value))
        return out
    chosen = list(current or [])
    for value in question.values:
        if value in chosen:
            rest = [v for v in chosen if v != value]
            if rest:
                out.append((f"{question.id} without {value}", rest))
        elif value == "none":
            out.append((f"{question.id} = none", ["none"]))
        else:
            new = [v for v in chosen if v != "none"] + [value]
            out.append((f"{question.id} adds {value}", new))
    return out


def changes(kb: KnowledgeBase, inputs: Inputs) -> list[tuple[Flip, str | None]]:
    """Every consistent single change of an asked question, re-scored: (change, new runner-up)."""
    from advisor.decision.engine import score
    from advisor.questionnaire import consistency
    from advisor.questionnaire.flow import is_asked

    out: list[tuple[Flip, str | None]] = []
    counted, _ = consistency.effective(kb, inputs.answers, explain=False)
    matters = _scored_names(kb)
    for question in kb.questions:
        if question.id not in matters or not is_asked(kb, question, counted):
            continue  # no rule reads it, directly or through another question's `when`
        current = counted.get(question.id)
        for change, value in alternatives(question, current):
            if not consistency.is_consistent(kb, {**counted, question.id: value}):
                continue  # an impossible project is no alternative
            new = score(kb, inputs.with_answer(question.id, value), detail=False)
            alive, margin = _top_two(new)
            flip = Flip(question=question.id, change=change, value=value,
                        new_winner=new.winner, margin=margin,
                        kind="project" if question.project else "answer")
            out.append((flip, alive[1] if len(alive) > 1 else None))
    return out


def _scored_names(kb: KnowledgeBase) -> set[str]:
    """Questions whose answer can move a score: read by a rule, or by the `when` of a question
    that a rule reads (cached on the knowledge base)."""
    from advisor.kb import expr

    cached = kb.__dict__.get("_scored_names")
    if cached is None:
        cached = {n for node in kb.conditions.values() for n in expr.names(node)}
        frontier = list(cached)
        while frontier:
            node = kb.question_conditions.get(frontier.pop())
            for name in expr.names(node) if node is not None else ():
                if name not in cached:
                    cached.add(name)
                    frontier.append(name)
        object.__setattr__(kb, "_scored_names", cached)  # a cache, not a field
    return cached


def _by_margin(flips: list[Flip]) -> list[Flip]:
    return sorted(flips, key=lambda f: -(f.margin if f.margin is not None else 10.0))


def flips(kb: KnowledgeBase, inputs: Inputs, winner: str | None) -> list[Flip]:
    """Consistent single changes that change the winner (both kinds), by the new winner's lead."""
    return _by_margin([f for f, _ in changes(kb, inputs) if f.new_winner != winner])


# ------------------------------------------------------------------ the analysis


def analyse(kb: KnowledgeBase, inputs: Inputs, s: Scored) -> Robustness:
    from advisor.questionnaire import consistency

    alive, margin = _top_two(s)
    runner_up = alive[1] if len(alive) > 1 else None
    intervals: list[WeightInterval] = []
    pieces: list[Separation] = []
    share: float | None = None
    p_win: dict[str, float] = {}
    if s.winner is not None and runner_up is not None and margin is not None:
        for crit in kb.criterion_ids:
            low, high, by_low, by_high = weight_interval(s, crit, kb.criterion_ids)
            intervals.append(
                WeightInterval(criterion=crit, weight=s.weights[crit], low=low, high=high,
                               limited_by_low=by_low, limited_by_high=by_high)
            )
        pieces = separation(kb, s, s.winner, runner_up)
        share = fact_share(pieces, margin)
        p_win = win_probability(kb, s)
    counted, _ = consistency.effective(kb, inputs.answers, explain=False)
    answered = bool(counted) or bool(s.measurements)
    label = label_for(margin, len(alive), p_win=p_win.get(s.winner or ""), fact_share=share,
                      answered=answered)
    all_changes = changes(kb, inputs)
    flipped = _by_margin([f for f, _ in all_changes if f.new_winner != s.winner])
    tie: list[str] = []
    separators: list[Flip] = []
    if label == "tie" and s.winner is not None and runner_up is not None:
        tie = [s.winner, runner_up]
        separators = _by_margin([
            f for f, second in all_changes
            if f.kind == "answer" and f.margin is not None and f.margin >= CLEAR
            and f.new_winner in tie and second in tie
        ])[:5]
    return Robustness(
        runner_up=runner_up,
        margin=margin,
        label=label,  # type: ignore[arg-type]
        label_text=LABEL_TEXT[label],
        evidence=_evidence_text(answered, share, s),
        fact_share=share,
        win_probability=p_win,
        weight_intervals=intervals,
        flips=[f for f in flipped if f.kind == "answer"],
        project_flips=[f for f in flipped if f.kind == "project"],
        tie=tie,
        separators=separators,
        separation=pieces,
        definitions=dict(DEFINITIONS),
    )


def _evidence_text(answered: bool, share: float | None, s: Scored) -> str:
    if not answered:
        return "no evidence yet: nothing is answered, so the ranking is the knowledge base's prior"
    if share is None:
        return ""
    if share <= 0:
        return "no project fact favours the winner over the runner-up: the lead rests on base ratings"
    return (f"project facts (rules, measurements) supply {min(share, 1.0):.0%} of the margin, "
            f"base ratings the rest" if share < 1 else
            "project facts (rules, measurements) supply the whole margin")
