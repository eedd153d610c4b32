"""The project-context rows every report shows: each question, its answer and where it came from."""

from __future__ import annotations

from dataclasses import dataclass

from advisor.decision.assessment import Assessment
from advisor.render.text import answer_text


@dataclass(frozen=True)
class AnswerRow:
    question: str
    id: str
    value: str | None  # None: unanswered (unknown to the rules)
    origin: str


def answer_rows(a: Assessment, arrow: str = "→") -> list[AnswerRow]:
    """One row per question, in knowledge-base order; `auto` answers show what they resolved to."""
    rows = []
    for qid, text in a.questions.items():
        if qid in a.not_asked:  # skipped by design: say why, never "unanswered"
            rows.append(AnswerRow(text, qid, a.not_asked[qid], ""))
            continue
        if qid not in a.answers:
            rows.append(AnswerRow(text, qid, None, ""))
            continue
        value = answer_text(a.answers[qid])
        if qid in a.resolved:
            res = a.resolved[qid]
            value += f" {arrow} {res.get('value') or 'unknown'} (from {res.get('source')})"
        rows.append(AnswerRow(text, qid, value, a.answer_origin.get(qid, "")))
    return rows
