"""The robustness of a recommendation in words, once for every renderer (each escapes for itself).

Reads only the Assessment: the headline (winner, or the tie band), the evidence behind the lead,
the win probability, what would separate a tie, the two groups of flips, and the definitions of
the labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor.decision.assessment import Assessment, Flip


@dataclass(frozen=True)
class FlipLine:
    change: str
    winner: str  # display name of the new winner
    margin: str  # "by 0.42 points" or ""


@dataclass(frozen=True)
class RobustnessText:
    headline: str  # "PyTorch - clear: 0.54 points ahead of Keras 3"
    label: str  # the label's id (for styling)
    label_text: str  # the label in words
    probability: str  # "PyTorch wins in 84 % of plausible ratings (Keras 3 16 %)"
    evidence: str
    separators: list[FlipLine]  # what would settle a tie
    answer_flips: list[FlipLine]
    project_flips: list[FlipLine]
    definitions: list[tuple[str, str]]


def _pct(share: float) -> str:
    return f"{share * 100:.0f} %"


def _flip(a: Assessment, flip: Flip) -> FlipLine:
    margin = f"by {flip.margin:.2f} points" if flip.margin is not None else "uncontested"
    return FlipLine(flip.change, a.name_of(flip.new_winner), margin)


def robustness_text(a: Assessment) -> RobustnessText:
    rob = a.robustness
    winner = a.name_of(a.winner)
    if rob.tie:
        names = " or ".join(a.name_of(c) for c in rob.tie)
        headline = f"{names}: {rob.label_text or 'no clear winner'}"
        if rob.margin is not None:
            headline += f" ({rob.margin:.2f} points apart)"
    elif rob.margin is not None:
        headline = (f"{winner} - {rob.label_text or rob.label}: {rob.margin:.2f} points ahead of "
                    f"{a.name_of(rob.runner_up)} on a 0-10 scale")
    else:
        headline = f"{winner} - {rob.label_text or rob.label}"
    probability = ""
    if rob.win_probability and a.winner in rob.win_probability:
        others = sorted(((c, p) for c, p in rob.win_probability.items() if c != a.winner and p > 0),
                        key=lambda cp: -cp[1])
        probability = f"{winner} wins in {_pct(rob.win_probability[a.winner])} of plausible ratings"
        if others:
            probability += " (" + ", ".join(f"{a.name_of(c)} {_pct(p)}" for c, p in others) + ")"
    return RobustnessText(
        headline=headline,
        label=rob.label,
        label_text=rob.label_text or rob.label,
        probability=probability,
        evidence=rob.evidence,
        separators=[_flip(a, f) for f in rob.separators],
        answer_flips=[_flip(a, f) for f in rob.flips],
        project_flips=[_flip(a, f) for f in rob.project_flips],
        definitions=list(rob.definitions.items()),
    )
