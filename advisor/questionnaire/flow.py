"""The questionnaire's logic, free of any terminal: which questions to ask, and how to read a reply.

The CLI drives it with a prompt function, so tests can drive it with a list of replies and the
real terminal test drives the real prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from advisor.infra.errors import AnswerError
from advisor.infra.suggest import normalise
from advisor.kb import expr
from advisor.kb.model import KnowledgeBase, Question
from advisor.questionnaire import answers as answers_mod
from advisor.questionnaire import consistency


def is_asked(kb: KnowledgeBase, question: Question, answered: Mapping[str, Any]) -> bool:
    """A question is skipped only when its `when` is known to be false."""
    node = kb.question_conditions.get(question.id)
    if node is None:
        return True
    return expr.evaluate(node, answered) is not False


def render_question(
    question: Question, index: int, total: int, machine: Mapping[str, Any] | None = None
) -> str:
    lines = [f"[{index}/{total}] {question.text}"]
    if question.help:
        lines.append(f"    {question.help}")
    if question.type == "bool":
        default = {True: "yes", False: "no", None: ""}[question.default]
        lines.append("    yes / no" + (f"   (default: {default})" if default else ""))
        return "\n".join(lines)
    detected = (machine or {}).get(question.auto_fact) if question.auto_fact else None
    for n, choice in enumerate(question.choices, 1):
        text = choice_text(choice.value, choice.label)
        if choice.value == "auto" and detected is not None:
            text += f" (this machine: {detected})"
        lines.append(f"    {n}) {text}")
    if question.default is not None:
        default = question.default
        shown = ", ".join(default) if isinstance(default, list) else str(default)
        lines.append(f"    (default: {shown})")
    else:
        lines.append("    (Enter: not sure - left unknown)")
    if question.type == "many":
        lines.append("    several allowed: numbers or values separated by commas")
    return "\n".join(lines)


def choice_text(value: str, label: str | None) -> str:
    """A choice as shown: the value, then its label unless the label already starts with the
    value ("research - new architectures", not "research - research - new architectures")."""
    if not label or normalise(label) == normalise(value):
        return value  # "ease_of_use", not "ease_of_use - ease of use"
    if label.split(" ")[0] == value:
        return label
    return f"{value} - {label}"


def parse_reply(question: Question, reply: str) -> Any:
    """Turn what was typed into a valid answer; '' means the default, or unknown (None) for an
    optional question (one without a default). Raises AnswerError."""
    text = reply.strip()
    if text == "":
        if question.default is None:
            return None
        return list(question.default) if isinstance(question.default, list) else question.default
    if question.type == "bool":
        return answers_mod.coerce(question, text, where="reply")
    tokens = [t.strip() for t in text.split(",") if t.strip()] if question.type == "many" else [text]
    values = []
    for token in tokens:
        if token.isdigit():
            n = int(token)
            if not 1 <= n <= len(question.choices):
                raise AnswerError(f"{n} is not a number from 1 to {len(question.choices)}")
            values.append(question.choices[n - 1].value)
        else:
            values.append(token)
    raw: Any = values if question.type == "many" else values[0]
    return answers_mod.coerce(question, raw, where="reply")


def allowed_hint(question: Question) -> str:
    if question.type == "bool":
        return "answer yes or no"
    nums = f"1-{len(question.choices)}"
    return f"type a number {nums} or one of: {', '.join(question.values)}"


def reply_error(question: Question, error: AnswerError) -> str:
    """What an invalid reply gets: the problem and what is allowed, the list once."""
    message = error.message
    prefix = f"{question.id}: "
    if message.startswith(prefix):
        message = message[len(prefix):]
    if "allowed:" in message:  # coerce already listed the values: name the numbers only
        message = message.replace("allowed:", f"type a number 1-{len(question.choices)} or one of:")
        return message
    if "did you mean" in message:
        return message
    return f"{message} - {allowed_hint(question)}"


def run(
    kb: KnowledgeBase,
    preset: answers_mod.AnswerSet,
    ask: Callable[[str], str],
    say: Callable[[str], None],
    on_answer: Callable[[answers_mod.AnswerSet], None] | None = None,
    machine: Mapping[str, Any] | None = None,
) -> answers_mod.AnswerSet:
    """Ask every question that is not preset and not skipped; re-ask on invalid input."""
    result = preset.copy()
    pending = [q for q in kb.questions if q.id not in result.values]
    consistency.check(kb, result.values, result.origin)
    index = 0
    for position, question in enumerate(pending):
        if not is_asked(kb, question, result.values):
            continue
        # Numbers count the questions asked, so they never jump; the total is what may still
        # be asked given the answers so far (it shrinks when an answer skips questions).
        index += 1
        total = index + sum(1 for q in pending[position + 1:] if is_asked(kb, q, result.values))
        allowed = consistency.allowed_values(kb, question, result.values)
        if question.type == "one" and len(allowed) == 1:
            # the other answers leave one consistent value: state it instead of asking
            result.put(question.id, allowed[0], "implied")
            say(f"[{index}/{total}] {question.text} {allowed[0]} (the only value consistent with "
                "the answers so far)")
            if on_answer is not None:
                on_answer(result)
            continue
        say(render_question(question, index, total, machine))
        while True:
            reply = ask("answer> ")
            try:
                value = parse_reply(question, reply)
                consistency.check(kb, {**result.values, question.id: value}, result.origin)
            except AnswerError as exc:
                say(f"    {reply_error(question, exc)}")
                continue
            break
        if value is None:  # optional question left unknown
            continue
        result.put(question.id, value, "prompt")
        if on_answer is not None:
            on_answer(result)
    return result
