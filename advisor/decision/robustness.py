"""How firmly a recommendation holds.

* margin between winner and runner-up, labelled decisive / clear / close;
* for each criterion, the exact interval of its (normalised) weight within which the winner stays
  the winner when the other weights are rescaled proportionally — closed form, since every score is
  linear in that weight;
* every single-answer change that would change the winner, found by re-scoring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from advisor.decision.assessment import Flip, Robustness, WeightInterval

if TYPE_CHECKING:
    from advisor.decision.engine import Inputs, Scored
    from advisor.kb.model import KnowledgeBase, Question

DECISIVE = 0.75  # points on the 0-10 scale
CLEAR = 0.25


def label_for(margin: float | None, contenders: int) -> str:
    if margin is None:
        return "uncontested" if contenders == 1 else "none"
    if margin >= DECISIVE:
        return "decisive"
    if margin >= CLEAR:
        return "clear"
    return "close"


def empty(s: "Scored") -> Robustness:
    alive = [c for c in s.order if not s.vetoes[c]]
    margin = s.scores[alive[0]] - s.scores[alive[1]] if len(alive) > 1 else None
    return Robustness(
        runner_up=alive[1] if len(alive) > 1 else None,
        margin=margin,
        label=label_for(margin, len(alive)),  # type: ignore[arg-type]
        weight_intervals=[],
        flips=[],
    )


def weight_interval(
    s: "Scored", criterion: str, criteria: list[str]
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


def _alternatives(question: "Question", current: Any) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if question.type == "bool":
        for value in (True, False):
            if value != current:
                out.append((f"{question.id} = {'true' if value else 'false'}", value))
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


def flips(kb: "KnowledgeBase", inputs: "Inputs", winner: str | None) -> list[Flip]:
    from advisor.decision.engine import score
    from advisor.questionnaire.flow import is_asked

    from advisor.questionnaire import consistency

    found: list[Flip] = []
    counted, _ = consistency.effective(kb, inputs.answers)
    for question in kb.questions:
        if not is_asked(kb, question, counted):
            continue
        current = counted.get(question.id)
        for change, value in _alternatives(question, current):
            if not consistency.is_consistent(kb, {**counted, question.id: value}):
                continue  # an impossible project is no alternative
            new_winner = score(kb, inputs.with_answer(question.id, value), detail=False).winner
            if new_winner != winner:
                found.append(Flip(question=question.id, change=change, value=value,
                                  new_winner=new_winner))
    return found


def analyse(kb: "KnowledgeBase", inputs: "Inputs", s: "Scored") -> Robustness:
    base = empty(s)
    intervals: list[WeightInterval] = []
    if s.winner is not None and base.runner_up is not None:
        for crit in kb.criterion_ids:
            low, high, by_low, by_high = weight_interval(s, crit, kb.criterion_ids)
            intervals.append(
                WeightInterval(criterion=crit, weight=s.weights[crit], low=low, high=high,
                               limited_by_low=by_low, limited_by_high=by_high)
            )
    return Robustness(
        runner_up=base.runner_up,
        margin=base.margin,
        label=base.label,
        weight_intervals=intervals,
        flips=flips(kb, inputs, s.winner),
    )
