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

from typing import Any, Mapping

from advisor.infra.errors import AnswerError
from advisor.kb import expr
from advisor.kb.model import Constraint, KnowledgeBase, Question


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def effective(kb: KnowledgeBase, answers: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The answers that count, and for each question skipped by design the reason (from its `when`).

    A skipped question is removed even when an answer for it was given (a stale answer from a
    file); the reason names the answers that made its condition false.
    """
    current = dict(answers)
    reasons: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for question in kb.questions:
            if question.id in reasons:
                continue
            node = kb.question_conditions.get(question.id)
            if node is None or expr.evaluate(node, current) is not False:
                continue
            reasons[question.id] = skip_reason(question, node, current)
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
    values, _ = effective(kb, answers)
    broken = []
    for constraint in kb.constraints:
        when, require = kb.constraint_conditions[constraint.id]
        if expr.evaluate(when, values) is True and expr.evaluate(require, values) is False:
            broken.append(constraint)
    return broken


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
