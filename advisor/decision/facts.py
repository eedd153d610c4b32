"""The one fact namespace rules read: answers, `auto` answers resolved, and machine/probe facts.

Names are flat strings. Answers use their question id (``purpose``); machine facts start with
``machine.``; probe facts with ``probe.`` (``probe.tensorflow.sees_gpu``). A name that is absent
is unknown to the condition language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from advisor.kb.model import KnowledgeBase
from advisor.questionnaire import consistency


@dataclass(frozen=True)
class Resolution:
    """How an `auto` answer was resolved."""

    question: str
    value: str | None
    source: str  # "probe file" | "this machine" | "unknown"


@dataclass
class FactSet:
    values: dict[str, Any] = field(default_factory=dict)
    resolutions: list[Resolution] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)  # the answers that count
    not_asked: dict[str, str] = field(default_factory=dict)  # skipped question ids (reasons: assess)


def build(
    kb: KnowledgeBase,
    answers: Mapping[str, Any],
    machine: Mapping[str, Any] | None = None,
    probe_facts: Mapping[str, Any] | None = None,
    *,
    machine_source: str = "this machine",
) -> FactSet:
    """Combine answers with machine and probe facts; resolve `auto` answers from the machine."""
    answers, out_not_asked = consistency.effective(kb, answers, explain=False)  # skipped: unknown
    out = FactSet(answers=answers, not_asked=out_not_asked)
    machine = dict(machine or {})
    for name, value in machine.items():
        out.values[name] = value
    for name, value in (probe_facts or {}).items():
        out.values[name] = value
    for question in kb.questions:
        if question.id not in answers:
            continue
        value = answers[question.id]
        if value == "auto" and question.auto_fact:
            resolved = out.values.get(question.auto_fact)
            if resolved is not None and resolved not in question.values:
                resolved = None
            out.resolutions.append(
                Resolution(question.id, resolved, machine_source if resolved is not None else "unknown")
            )
            if resolved is None:
                continue  # unknown: rules that read it do not fire
            value = resolved
        out.values[question.id] = value
    return out
