"""Which answers count: questions skipped by design, and answers that cannot hold together.

* A question whose ``when`` is known to be false is *not asked*: its answer, if a file or
  ``--set`` still carries one, is unknown everywhere (facts, rules, flips, audit), and reports say
  "not asked, because ...". Dropping one answer can skip another question, so this runs to a
  fixed point.
* A knowledge base's ``constraints`` declare contradictions (a TPU VM runs Linux). Answers from
  every source (file, ``--set``, prompt, defaults) are checked against them; a known violation is
  refused with one line naming the constraint. Unknown answers never violate a constraint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from advisor.infra.errors import AnswerError
from advisor.kb import expr
from advisor.kb.model import Constraint, KnowledgeBase, Question


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _compiled(kb: KnowledgeBase) -> tuple[list[tuple[Question, Any]], list[tuple[Constraint, Any, Any]]]:
    """The `when` of each conditional question and each constraint as closures, built once per
    knowledge base (audit, flips and the win probability evaluate them thousands of times)."""
    cached = kb.__dict__.get("_consistency_compiled")
    if cached is None:
        whens = [(q, expr.compile_condition(kb.question_conditions[q.id]))
                 for q in kb.questions if q.id in kb.question_conditions]
        constraints = [(c, expr.compile_condition(kb.constraint_conditions[c.id][0]),
                        expr.compile_condition(kb.constraint_conditions[c.id][1]))
                       for c in kb.constraints]
        cached = (whens, constraints)
        object.__setattr__(kb, "_consistency_compiled", cached)  # a cache, not a field
    return cached


def effective(
    kb: KnowledgeBase, answers: Mapping[str, Any], *, explain: bool = True
) -> tuple[dict[str, Any], dict[str, str]]:
    """The answers that count, and for each question skipped by design the reason (from its `when`).

    A skipped question is removed even when an answer for it was given (a stale answer from a
    file); the reason names the answers that made its condition false (``explain=False`` leaves
    the reasons empty, for re-scoring).
    """
    current = dict(answers)
    reasons: dict[str, str] = {}
    whens = _compiled(kb)[0]
    changed = True
    while changed:
        changed = False
        for question, when in whens:
            if question.id in reasons or when(current) is not False:
                continue
            node = kb.question_conditions[question.id]
            reasons[question.id] = skip_reason(question, node, current) if explain else ""
            if question.id in current:
                del current[question.id]
                changed = True
    return current, reasons


def skip_reason(question: Question, node: Any, answers: Mapping[str, Any]) -> str:
    read = {k: v for k, v in expr.reads(node, answers).items() if v is not expr.UNKNOWN}
    because = ", ".join(f"{k} is {_show(v)}" for k, v in read.items()) or "of other answers"
    return f"not asked, because {because} (asked only when {question.when})"


def violations(kb: KnowledgeBase, answers: Mapping[str, Any]) -> list[Constraint]:
    """The constraints the answers break for certain (unknown answers break none)."""
    constraints = _compiled(kb)[1]
    if not constraints:
        return []
    values, _ = effective(kb, answers, explain=False)
    return [c for c, when, require in constraints
            if when(values) is True and require(values) is False]


def is_consistent(kb: KnowledgeBase, answers: Mapping[str, Any]) -> bool:
    return not violations(kb, answers)


def describe(
    kb: KnowledgeBase,
    constraint: Constraint,
    answers: Mapping[str, Any],
    origin: Mapping[str, str] | None = None,
) -> str:
    """One line: the constraint, its message, and the answers (with their source) that break it."""
    when, require = kb.constraint_conditions[constraint.id]
    names = dict.fromkeys([*expr.names(when), *expr.names(require)])
    shown = []
    for name in names:
        if name in answers:
            where = f" from {_origin_text(origin[name])}" if origin and name in origin else ""
            shown.append(f"{name}={_show(answers[name])}{where}")
    return (
        f"answers contradict each other: {constraint.message} "
        f"(constraint {constraint.id}: {', '.join(shown)})"
    )


def _origin_text(origin: str) -> str:
    return {"set": "--set", "file": "the answers file", "prompt": "the prompt",
            "default": "the default", "implied": "a constraint"}.get(origin, origin)


def check(
    kb: KnowledgeBase, answers: Mapping[str, Any], origin: Mapping[str, str] | None = None,
    *, where: str | None = None,
) -> None:
    """Refuse answers that break a constraint: AnswerError (exit 2) naming the first one."""
    broken = violations(kb, answers)
    if broken:
        raise AnswerError(describe(kb, broken[0], answers, origin), path=where)


def allowed_values(kb: KnowledgeBase, question: Question, answers: Mapping[str, Any]) -> list[Any]:
    """The values of a 'one' or 'bool' question consistent with the other answers."""
    values: list[Any] = [True, False] if question.type == "bool" else list(question.values)
    if question.type == "many":
        values = [[v] for v in values]
    base = {k: v for k, v in answers.items() if k != question.id}
    return [v for v in values if is_consistent(kb, {**base, question.id: v})]
